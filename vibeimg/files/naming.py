"""Images on disk: sniff the real format, name files, write them atomically.

Every file is written to a hidden temporary name in its target folder and renamed
into place only when complete, so a crash, a Ctrl-C or a truncated answer never
leaves a half-written image. Existing files are never overwritten unless asked.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath
from typing import IO, Any, ClassVar

from vibeimg.errors import BadResponseError, UsageError

EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp", "gif": "gif"}
KNOWN_SUFFIXES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}
TEMPLATE_FIELDS = ("slug", "n", "date", "time", "ext", "format", "model", "quality", "size")
_FIELD = re.compile(r"{(\w*)}")


def sniff_format(head: bytes) -> str | None:
    """The image format of these first bytes (png, jpeg, webp, gif), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


#: Pillow's reader for each format sniff_format names: importing just the one needed
#: spares loading every plugin Pillow has (its fallback for a file named ``.part``).
_PLUGINS = {"png": "PngImagePlugin", "jpeg": "JpegImagePlugin", "webp": "WebPImagePlugin",
            "gif": "GifImagePlugin"}


def pixel_size(source: Path | IO[bytes], fmt: str) -> str | None:
    """``WIDTHxHEIGHT`` of an image in format ``fmt``, from its header alone.

    Pillow's ``Image.open`` reads the header and no pixels, so this is cheap even for
    a 4K image. None when the header cannot be read: the size is then unknown, which
    must never stop an image from being saved.
    """
    if fmt == "png":  # the usual case: the size is in the first chunk, no Pillow needed
        size = _png_size(source)
        if size is not None:
            return size
    plugin = _PLUGINS.get(fmt)
    if plugin is None:
        return None
    import importlib  # noqa: PLC0415 - Pillow only once an image has arrived

    from PIL import Image  # noqa: PLC0415

    importlib.import_module(f"PIL.{plugin}")
    try:
        with Image.open(source, formats=[fmt.upper()]) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return f"{width}x{height}"


def _png_size(source: Path | IO[bytes]) -> str | None:
    """A PNG's ``WxH`` from its IHDR chunk, which must come first (bytes 8 to 24)."""
    if isinstance(source, Path):
        try:
            with source.open("rb") as file:
                head = file.read(24)
        except OSError:
            return None
    else:
        start = source.tell()
        head = source.read(24)
        source.seek(start)
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return f"{width}x{height}" if width and height else None


def slugify(text: str, max_length: int = 48) -> str:
    """A short, shell-safe file name stem from a prompt (``image`` when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    return slug or (words[0][:max_length] if words else "image")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


class AtomicFile:
    """A temporary file beside its destination, renamed into place on ``commit``.

    Every temporary file still open is known to the class, so that an interrupted run
    can remove them all (``discard_all``) even while other threads are blocked writing.
    """

    _open: ClassVar[set[AtomicFile]] = set()
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        fd, name = tempfile.mkstemp(dir=directory, prefix=".vibeimg-", suffix=".part")
        # mkstemp makes 0600 files; a finished image gets the user's usual mode.
        os.fchmod(fd, 0o666 & ~_UMASK)
        self.temp_path = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self.head = b""
        self.size = 0
        with self._registry_lock:
            self._open.add(self)

    @classmethod
    def discard_all(cls) -> None:
        """Remove every temporary file not yet committed (on Ctrl-C)."""
        with cls._registry_lock:
            pending = list(cls._open)
        for tmp in pending:
            tmp.discard()

    def _forget(self) -> None:
        with self._registry_lock:
            self._open.discard(self)

    def write(self, data: bytes) -> None:
        if len(self.head) < 16:
            self.head = (self.head + data[:16])[:16]
        self._file.write(data)
        self.size += len(data)

    def flush(self) -> None:
        """Hand what was written to the file, so that it can be read by its path."""
        self._file.flush()

    def pixel_size(self) -> str | None:
        """The finished image's ``WxH``, read from its header (None if unreadable)."""
        fmt = sniff_format(self.head)
        if fmt is None:
            return None
        self.flush()
        return pixel_size(self.temp_path, fmt)

    def rename(self, destination: Path) -> None:
        """Give the finished file another temporary name, never taking one in use."""
        self._file.close()
        self._link(destination)
        self.temp_path = destination

    def commit(self, destination: Path, *, overwrite: bool) -> Path:
        """Move the finished file to ``destination``; refuse to replace unless asked."""
        self._file.close()
        if overwrite:
            os.replace(self.temp_path, destination)
        else:
            self._link(destination)
        self._forget()
        return destination

    def _link(self, destination: Path) -> None:
        """Move the file to a name nobody has; FileExistsError if it is taken."""
        try:
            # link() fails if the name exists: no window for a race with another writer.
            os.link(self.temp_path, destination)
        except OSError as exc:
            if exc.errno == errno.EEXIST or destination.exists():
                raise FileExistsError(destination) from exc
            os.replace(self.temp_path, destination)  # a filesystem without hard links
        else:
            self.temp_path.unlink()

    def discard(self) -> None:
        """Remove the temporary file (after a failure)."""
        self._forget()
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.temp_path.unlink()

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self.discard()


def write_atomically(path: Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write a whole small file (a sidecar, a mask) atomically."""
    with AtomicFile(path.parent) as tmp:
        tmp.write(data)
        return tmp.commit(path, overwrite=overwrite)


def write_problem(folder: Path, *, make_folder: bool = False) -> str | None:
    """Why nothing can be written in ``folder``, found by trying; None when it can.

    Permission bits are not the whole story: root passes every ``os.access`` check, yet
    cannot write in /proc or on a read-only mount. So a temporary file (or, with
    ``make_folder``, a folder) is made in ``folder`` and removed at once.
    """
    try:
        if make_folder:
            Path(tempfile.mkdtemp(prefix=".vibeimg-probe-", dir=folder)).rmdir()
        else:
            handle, name = tempfile.mkstemp(prefix=".vibeimg-probe-", suffix=".part",
                                            dir=folder)
            os.close(handle)
            Path(name).unlink()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def ensure_output_dir(directory: Path) -> Path:
    """Create the output folder if needed and check it is writable, before any request."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the output folder {directory}: {exc.strerror}",
            hint="choose another with --out-dir",
        ) from exc
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a folder", hint="choose another with --out-dir")
    problem = "" if os.access(directory, os.W_OK | os.X_OK) else "permission denied"
    problem = problem or write_problem(directory) or ""
    if problem:
        raise UsageError(f"the output folder {directory} is not writable ({problem})",
                         hint="choose another with --out-dir")
    return directory


@dataclass(frozen=True)
class NamePlan:
    """How output files are named: a folder and a template such as ``{slug}-{n}.{ext}``."""

    directory: Path
    template: str
    force: bool = False
    literal_format: str | None = None  # the format a literal extension in -o named
    literal_ext: str | None = None  # that extension as written (``jpeg``, ``JPG``)

    @classmethod
    def build(
        cls, output: str | None, out_dir: Path | None, *, count: int, force: bool = False
    ) -> NamePlan:
        """From ``-o`` and ``--out-dir``: add ``{ext}`` and, for several images, ``{n}``."""
        template = output or ("{slug}-{n}.{ext}" if count > 1 else "{slug}.{ext}")
        for field in _FIELD.findall(template):
            if field not in TEMPLATE_FIELDS:
                raise UsageError(
                    f"unknown field {{{field}}} in the output name {template!r}",
                    hint=f"use {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}",
                )
        if "{" in _FIELD.sub("", template) or "}" in _FIELD.sub("", template):
            raise UsageError(f"the output name {template!r} has a {{ or }} that is no field",
                             hint="fields look like {slug} or {n}; a name cannot hold "
                             "other braces")
        head, tail = os.path.split(template)
        if not tail:
            raise UsageError(f"the output name {template!r} has no file name", hint="-o NAME.png")
        stem, suffix = os.path.splitext(tail)
        literal_format = literal_ext = None
        if "{ext}" not in tail and not tail.endswith(".{format}"):
            # The extension follows the bytes received, so a literal one becomes {ext}
            # (kept as written when the bytes are of its format: out.jpeg stays .jpeg).
            if suffix.lower() in KNOWN_SUFFIXES:
                literal_format, literal_ext = KNOWN_SUFFIXES[suffix.lower()], suffix[1:]
                tail = stem + ".{ext}"
            else:
                stem, tail = tail, tail + ".{ext}"
        # The least the image's name and its sidecar's (stem + .json) can come to.
        literal = os.fsencode(_FIELD.sub("", tail))
        shortest = max(len(literal) + (3 if "{ext}" in tail else 0),
                       len(os.fsencode(_FIELD.sub("", os.path.splitext(tail)[0]))) + 5)
        if shortest > _NAME_MAX:
            raise UsageError(f"the output name is at least {shortest} bytes long; file names "
                             f"hold at most {_NAME_MAX}", hint="choose a shorter name with -o")
        if count > 1 and "{n}" not in template:
            mark = ".{ext}" if ".{ext}" in tail else ".{format}"
            tail = tail.replace(mark, "-{n}" + mark, 1) if mark in tail else tail + "-{n}"
        # Folders up to the first one with a field are fixed; the rest are rendered too.
        parts = PurePath(head).parts if head else ()
        fixed = next((i for i, part in enumerate(parts) if "{" in part), len(parts))
        directory = Path(out_dir) if out_dir else Path()
        directory = directory.joinpath(*parts[:fixed])
        template = "/".join([*parts[fixed:], tail])
        return cls(directory=directory, template=template, force=force,
                   literal_format=literal_format, literal_ext=literal_ext)

    def extension(self, fmt: str) -> str:
        """The file extension for an image of format ``fmt``."""
        if self.literal_ext and fmt == self.literal_format:
            return self.literal_ext
        return EXTENSIONS[fmt]

    def render(self, fields: dict[str, Any]) -> str:
        """The file name, below ``directory``: ``fox.png``, or ``2026-11-27/fox.png`` for
        a template with fields in its folders. A value never adds a folder of its own."""
        values = dict.fromkeys(TEMPLATE_FIELDS, "")
        now = datetime.now()
        values.update(date=now.strftime("%Y-%m-%d"), time=now.strftime("%H%M%S"))
        values.update({k: str(v).replace("/", "-").replace(os.sep, "-")
                       for k, v in fields.items()})
        parts = [_FIELD.sub(lambda m: values[m.group(1)], part)
                 for part in self.template.split("/")]
        return "/".join(part if part not in ("", ".", "..") else "_" for part in parts)


def make_folder(folder: Path) -> None:
    """Create a folder a template named; one clear error if it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {folder}: {exc.strerror or exc}",
                         hint="check the -o template and the folder's permissions") from exc


def sidecar_path(image: Path) -> Path:
    """The JSON sidecar beside an image: ``otter.png`` -> ``otter.json``."""
    return image.with_suffix(".json")


SidecarRecord = Callable[[Path, str], dict[str, Any]]
_SIDECAR_MAX = 1 << 20  # a sidecar is a few kB; anything this big is some other file


_NAME_MAX = 255  # bytes in a file name on the usual filesystems


def pending_path(image: Path) -> Path:
    """Where an image waits while its sidecar is written: ``.vibeimg-otter.png.part``.

    A name near the filesystem's limit would not fit with the prefix and suffix: it
    waits under a digest of its name instead, which the batch finds the same way.
    """
    name = f".vibeimg-{image.name}.part"
    if len(os.fsencode(name)) > _NAME_MAX:
        digest = hashlib.sha256(os.fsencode(image.name)).hexdigest()[:32]
        name = f".vibeimg-{digest}.part"
    return image.with_name(name)


def commit_image(
    tmp: AtomicFile, plan: NamePlan, fields: dict[str, Any], *,
    sidecar: SidecarRecord | None,
) -> tuple[Path, str, Path | None]:
    """Name the finished temporary image after its real format and move it into place.

    ``sidecar(path, format)`` makes the sidecar's record; the sidecar is written first,
    while the image waits under its :func:`pending_path`, so a run killed in between
    leaves a sidecar and the whole image (which ``batch`` puts in place on its rerun),
    never an image nobody can tell was finished. Returns the image path, its format and
    the sidecar path. A name already taken (by an image or a sidecar) gets ``-2``,
    ``-3``... unless ``--force``, which replaces an image and its sidecar but moves on
    from a ``NAME.json`` that is not a sidecar.
    """
    fmt = sniff_format(tmp.head)
    if fmt is None:
        raise BadResponseError(
            f"the gateway sent {tmp.size} bytes that are not a PNG, JPEG or WebP image",
            hint="try again; if it persists, report it with the request id",
        )
    name = plan.render({**fields, "ext": plan.extension(fmt), "format": fmt})
    stem, ext = os.path.splitext(name)
    attempt = 1
    while True:
        candidate = plan.directory / (name if attempt == 1 else f"{stem}-{attempt}{ext}")
        attempt += 1
        if attempt == 2 and "/" in name:  # folders from fields, such as {date}/
            make_folder(candidate.parent)
        if sidecar is None:
            with contextlib.suppress(FileExistsError):
                path = tmp.commit(candidate, overwrite=plan.force)
                if plan.force and sidecar_of(path) == path.name:
                    # --force --no-sidecar: the replaced image's sidecar would describe
                    # bytes that are gone.
                    sidecar_path(path).unlink(missing_ok=True)
                return path, fmt, None
            continue
        if not plan.force and candidate.exists():
            continue
        if _sidecar_name_taken(candidate, force=plan.force):
            continue
        with contextlib.suppress(FileExistsError):
            return _commit_with_sidecar(tmp, candidate, fmt, sidecar, plan.force)


def _sidecar_name_taken(image: Path, *, force: bool) -> bool:
    """Whether the name of ``image``'s sidecar is not free. ``--force`` replaces the
    sidecar of the image it replaces, or one whose image is gone; never the sidecar of
    another image (``x.json`` of ``x.png`` when saving ``x.jpg``), nor another file
    that happens to be called ``NAME.json``."""
    path = sidecar_path(image)
    if not path.exists():
        return False
    if not force:
        return True
    described = sidecar_of(image)
    if described is None:
        return True
    return described != image.name and (image.parent / described).exists()


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, too big, or not one."""
    try:
        if not path.is_file() or path.stat().st_size > _SIDECAR_MAX:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def sidecar_of(image: Path) -> str | None:
    """The file name that the JSON file beside ``image`` describes, if vibeimg wrote it
    (a sidecar names the version that wrote it); None for any other file."""
    data = read_sidecar(sidecar_path(image))
    if data is None or "vibeimg_version" not in data:
        return None
    described = data.get("file")
    return described if isinstance(described, str) else ""


def _commit_with_sidecar(
    tmp: AtomicFile, image: Path, fmt: str, sidecar: SidecarRecord, force: bool
) -> tuple[Path, str, Path]:
    """Image to its pending name, sidecar into place, then the image into place."""
    tmp.rename(pending_path(image))
    side = write_sidecar(image, sidecar(image, fmt), overwrite=force)
    try:
        tmp.commit(image, overwrite=force)
    except FileExistsError:  # somebody took the name meanwhile: give the sidecar up too
        side.unlink()
        raise
    return image, fmt, side


def json_text(document: Any) -> str:
    """``document`` as pretty JSON, readable UTF-8 where it can be.

    A file name that is not valid UTF-8 arrives as surrogate escapes (``out\udce9.png``),
    which UTF-8 cannot encode: then every non-ASCII character is written as a JSON
    escape instead, which is still valid JSON, and still the same text once read.
    """
    text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(document, indent=2, ensure_ascii=True, default=str)
    return text


def write_sidecar(image: Path, record: dict[str, Any], *, overwrite: bool = True) -> Path:
    """Write ``record`` as pretty JSON beside ``image``."""
    path = sidecar_path(image)
    text = json_text(record) + "\n"
    return write_atomically(path, text.encode("utf-8"), overwrite=overwrite)
