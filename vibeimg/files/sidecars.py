"""Landing an image with its sidecar: the JSON record beside it, written first, so a
killed run never leaves an image nobody can tell was finished."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vibeimg.errors import BadResponseError, WriteError
from vibeimg.files.atomic import AtomicFile, make_folder
from vibeimg.files.formats import sniff_format
from vibeimg.files.inputs import name_taken, what_is_at
from vibeimg.files.jsontext import json_text
from vibeimg.files.naming import NAME_MAX, NamePlan, fit_bytes


def sidecar_path(image: Path) -> Path:
    """The JSON sidecar beside an image: ``otter.png`` -> ``otter.json``."""
    return image.with_suffix(".json")


_CUT = "the name was cut to the"
_ENDING_NUMBER = re.compile(r"[-_. ]?[0-9]+$")

SidecarRecord = Callable[[Path, str], dict[str, Any]]
_SIDECAR_MAX = 1 << 20  # a sidecar is a few kB; anything this big is some other file


def pending_path(image: Path) -> Path:
    """Where an image waits while its sidecar is written: ``.vibeimg-otter.png.part``.

    A name near the filesystem's limit would not fit with the prefix and suffix: it
    waits under a digest of its name instead, which the batch finds the same way.
    """
    name = f".vibeimg-{image.name}.part"
    if len(os.fsencode(name)) > NAME_MAX:
        digest = hashlib.sha256(os.fsencode(image.name)).hexdigest()[:32]
        name = f".vibeimg-{digest}.part"
    return image.with_name(name)


def commit_image(
    tmp: AtomicFile, plan: NamePlan, fields: dict[str, Any], *,
    sidecar: SidecarRecord | None, passed_over: list[str] | None = None,
) -> tuple[Path, str, Path | None]:
    """Name the finished temporary image after its real format and move it into place.

    ``sidecar(path, format)`` makes the sidecar's record; the sidecar is written first,
    while the image waits under its :func:`pending_path`, so a run killed in between
    leaves a sidecar and the whole image (which ``batch`` puts in place on its rerun),
    never an image nobody can tell was finished. Returns the image path, its format and
    the sidecar path. A name already taken (by an image or a sidecar) gets ``-2``,
    ``-3``... unless ``--force``, which replaces an image and its sidecar but moves on
    from a ``NAME.json`` that is not a sidecar (a dangling link included), from a
    folder of the image's name, and from a name the plan's ``claims`` hold (a batch's
    own images: saved earlier in the run, or finished before it). ``passed_over``, when
    given, receives why each name taken was passed over (``out.json is the sidecar of
    out.png``).
    """
    skipped = passed_over if passed_over is not None else []
    fmt = sniff_format(tmp.head)
    if fmt is None:
        raise BadResponseError(
            f"the gateway sent {tmp.size} bytes that are not a PNG, JPEG or WebP image",
            hint="try again; if it persists, report it with the request id",
        )
    name = plan.render({**fields, "ext": plan.extension(fmt), "format": fmt})
    stem, ext = os.path.splitext(name)
    folder, _, stem = stem.rpartition("/")
    # The image and its sidecar must each fit a file name: a name that fields or a
    # -2 made too long is cut, since the image is bought already and must not be lost.
    room = NAME_MAX - max(len(os.fsencode(ext)), 0 if sidecar is None else len(".json"))
    attempt = 1
    while True:
        suffix = "" if attempt == 1 else f"-{attempt}"
        fitted = _fit_stem(stem, room - len(suffix))
        if fitted != stem and not any(note.startswith(_CUT) for note in skipped):
            skipped.insert(0, f"{_CUT} {NAME_MAX} bytes a file name holds")
        leaf = f"{fitted}{suffix}{ext}"
        candidate = plan.directory / (f"{folder}/{leaf}" if folder else leaf)
        attempt += 1
        if attempt == 2 and "/" in name:  # folders from fields, such as {date}/
            make_folder(candidate.parent)
            _stay_inside(plan.root, candidate.parent)
        if plan.force and _is_folder(candidate):  # --force replaces files, not folders
            skipped.append(f"{candidate.name} is a folder")
            continue
        if plan.force and plan.claims is not None:  # nor what this run saved or keeps
            held = plan.claims.claim(candidate, *(() if sidecar is None else (
                sidecar_path(candidate),)))
            if held is not None:
                skipped.append(held)
                continue
        if sidecar is None:
            with contextlib.suppress(FileExistsError):
                path = tmp.commit(candidate, overwrite=plan.force)
                if plan.force and sidecar_of(path) == path.name:
                    # --force --no-sidecar: the replaced image's sidecar would describe
                    # bytes that are gone.
                    sidecar_path(path).unlink(missing_ok=True)
                return path, fmt, None
            skipped.append(_image_name_taken(candidate))
            continue
        if not plan.force and candidate.exists():
            skipped.append(_image_name_taken(candidate))
            continue
        # Without --force a sidecar name in use is found by its link failing (one
        # lookup less per image); --force must know whose sidecar it would replace.
        if plan.force and _sidecar_name_taken(candidate, force=True):
            skipped.append(_sidecar_taken_by(candidate))
            continue
        try:
            return _commit_with_sidecar(tmp, candidate, fmt, sidecar, plan.force)
        except _SidecarTaken:
            skipped.append(_sidecar_taken_by(candidate))
        except FileExistsError:
            skipped.append(_image_name_taken(candidate))


def _fit_stem(stem: str, room: int) -> str:
    """``stem`` cut to ``room`` bytes, keeping a number that ends it (``{n}`` of
    ``{slug}-{n}``), which tells the images of one run apart."""
    number = _ENDING_NUMBER.search(stem)
    tail = number.group() if number and len(number.group()) < room // 2 else ""
    head = stem[:len(stem) - len(tail)]
    return fit_bytes(head, room - len(os.fsencode(tail))) + tail


def _is_folder(path: Path) -> bool:
    """A folder itself at ``path`` (a link to one is a file name --force may replace)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _sidecar_taken_by(image: Path) -> str:
    """Why ``image``'s sidecar name is not free, in words."""
    path = sidecar_path(image)
    kind = what_is_at(path)
    described = sidecar_of(image) if kind == "a file" else None
    if described:
        return f"{path.name} is the sidecar of {described}"
    return f"{path.name} is {'another file' if kind == 'a file' else kind}"


def _image_name_taken(candidate: Path) -> str:
    """Why the image's own name is not free: it exists, or what else is there."""
    return f"{candidate.name} {name_taken(candidate, 'exists')}"


def _stay_inside(root: Path | None, folder: Path) -> None:
    """Refuse a folder that a symbolic link takes out of ``root`` (None: no such rule)."""
    if root is None:
        return
    top = os.path.realpath(root)
    real = os.path.realpath(folder)
    if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
        raise WriteError(f"refusing to save in {folder}: a symbolic link leads it out of "
                         f"{root} (to {real})",
                         hint="remove the link, or choose another output name")


def _sidecar_name_taken(image: Path, *, force: bool) -> bool:
    """Whether the name of ``image``'s sidecar is not free. ``--force`` replaces the
    sidecar of the image it replaces, or one whose image is gone; never the sidecar of
    another image (``x.json`` of ``x.png`` when saving ``x.jpg``), nor another file
    that happens to be called ``NAME.json``."""
    path = sidecar_path(image)
    if not os.path.lexists(path):  # a dangling link is a name taken, by another file
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
    except (OSError, ValueError, RecursionError):  # RecursionError: nested absurdly deep
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


class _SidecarTaken(FileExistsError):
    """The sidecar's name was taken (by another sidecar, or any other file)."""


def _commit_with_sidecar(
    tmp: AtomicFile, image: Path, fmt: str, sidecar: SidecarRecord, force: bool
) -> tuple[Path, str, Path]:
    """Image to its pending name, sidecar into place, then the image into place. An
    image made with ``digest`` gets its sidecar's facts (``tmp.sidecar_facts``)."""
    tmp.rename(pending_path(image))
    try:
        side, tmp.sidecar_facts = _write_sidecar(image, sidecar(image, fmt), overwrite=force,
                                                 digest=tmp.digesting)
    except FileExistsError as exc:
        raise _SidecarTaken(*exc.args) from exc
    try:
        tmp.commit(image, overwrite=force)
    except OSError:  # the name taken meanwhile, or refused: the sidecar goes with it
        side.unlink(missing_ok=True)
        tmp.sidecar_facts = None
        raise
    return image, fmt, side


def write_sidecar(image: Path, record: dict[str, Any], *, overwrite: bool = True) -> Path:
    """Write ``record`` as pretty JSON beside ``image``."""
    return _write_sidecar(image, record, overwrite=overwrite, digest=False)[0]


def _write_sidecar(image: Path, record: dict[str, Any], *, overwrite: bool, digest: bool
                   ) -> tuple[Path, dict[str, Any] | None]:
    """The sidecar written, and with ``digest`` its facts (bytes, SHA-256, mtime) as it
    was written, so that a batch never reads it back."""
    data = (json_text(record) + "\n").encode("utf-8")
    with AtomicFile(image.parent, digest=digest) as tmp:
        tmp.write(data)
        return tmp.commit(sidecar_path(image), overwrite=overwrite), tmp.facts()
