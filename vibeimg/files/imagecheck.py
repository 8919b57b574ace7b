"""Images a user hands us, checked: real format, sound bytes, no decompression bomb.

Used by ``edit`` (input images and masks) and ``mask-convert``. Every failure is a
:class:`~vibeimg.errors.UsageError` naming the file and the fix, never a Pillow
traceback: bytes that are no image, a truncated or corrupt image, and a decompression
bomb. The files themselves are read by :mod:`vibeimg.files.inputs`.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from vibeimg.errors import UsageError
from vibeimg.files.damage import REEXPORT, damage
from vibeimg.files.formats import MAX_INPUT_PIXELS, bomb_pixels, too_many_pixels
from vibeimg.files.inputs import SourceFile, check_regular

if TYPE_CHECKING:
    from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_image(source: SourceFile, *, what: str = "image") -> Image.Image:
    """Open and fully decode ``source`` with Pillow; one clear error for any problem."""
    from PIL import Image  # noqa: PLC0415 - Pillow only when needed

    with source.open() as file:
        image = _open_image(source, file, what)
        try:
            image.load()
            if image.format == "PNG":
                # Decoding skips the chunks' checksums; a damaged file must not go out.
                file.seek(0)
                Image.open(file).verify()
        except Image.DecompressionBombError as exc:
            raise _bomb(source, what, bomb_pixels(exc)) from None
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            raise _corrupt(source, what, exc) from None
    return image


@dataclass(frozen=True)
class ImageHeader:
    """What an input image is, found without decoding its pixels."""

    format: str  # Pillow's name: PNG, JPEG, WEBP...
    width: int
    height: int
    mode: str


def scan_image(source: SourceFile, *, what: str = "image") -> ImageHeader:
    """Check ``source`` as :func:`decode_image` does, without holding its pixels.

    The header must parse and not claim too many pixels; a PNG's every chunk must be
    there with the right checksum (so a truncated or damaged file is refused); a JPEG
    is decoded at an eighth of its size (every byte of it is still read and decoded,
    so truncation and garbage are found); other formats are decoded whole. The pixels
    are dropped at once: sixteen 4K references must not be held in memory to be sent.

    A PNG is checked by :func:`~vibeimg.files.pngscan.scan_png`, as Pillow checks it
    but without loading Pillow, in one read of the file that also takes its SHA-256.
    """
    if source.head.startswith(PNG_SIGNATURE):
        header = _scan_png(source, what)
        if header is not None:
            return header
    from PIL import Image  # noqa: PLC0415 - Pillow only when needed

    with source.open() as file:
        image = _open_image(source, file, what)
        header = ImageHeader(image.format or "", image.width, image.height, image.mode)
        try:
            if image.format == "PNG":
                image.verify()
            else:
                if image.format == "JPEG":
                    image.draft(image.mode, (max(1, image.width // 8),
                                             max(1, image.height // 8)))
                image.load()
        except Image.DecompressionBombError as exc:
            raise _bomb(source, what, bomb_pixels(exc)) from None
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            raise _corrupt(source, what, exc) from None
        finally:
            image.close()
    return header


def _scan_png(source: SourceFile, what: str) -> ImageHeader | None:
    """``scan_image`` of a PNG; its SHA-256 kept as the file was read. None: an
    animated PNG or another Pillow checks in ways of its own."""
    from vibeimg.files import pngscan  # noqa: PLC0415 - only for PNG inputs

    digest = hashlib.sha256()
    with source.open() as file:
        try:
            header = pngscan.scan_png(file, digest=digest, max_pixels=MAX_INPUT_PIXELS)
        except pngscan.Unsure:
            return None
        except pngscan.NotAnImage:
            raise _unreadable(source, what) from None
        except pngscan.TooManyPixels as exc:
            raise _bomb(source, what, str(exc)) from None
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            raise _corrupt(source, what, exc) from None
    source.__dict__.setdefault("sha256", digest.hexdigest())  # the cached property
    return ImageHeader("PNG", header.width, header.height, header.mode)


def _unreadable(source: SourceFile, what: str) -> UsageError:
    damaged = damage(source.head, lambda: source.data)
    if damaged is not None:  # a PNG's header chunk fails its checksum, say
        return UsageError(f"the {what} {source.label} {damaged}", hint=REEXPORT)
    return UsageError(f"the {what} {source.label} is not an image Pillow can read",
                      hint="use a png, jpeg or webp file")


def _open_image(source: SourceFile, file: BinaryIO, what: str) -> Image.Image:
    """Pillow's lazy open of ``file`` (its header read), its pixel count capped."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415 - Pillow only when needed

    try:
        with warnings.catch_warnings():
            # Pillow warns about big images; the pixel cap below refuses them outright.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(file)
    except UnidentifiedImageError:
        raise _unreadable(source, what) from None
    except Image.DecompressionBombError as exc:
        raise _bomb(source, what, bomb_pixels(exc)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise _corrupt(source, what, exc) from None
    width, height = image.size
    if width * height > MAX_INPUT_PIXELS:
        raise _bomb(source, what, f"{width}x{height}")
    return image


def _bomb(source: SourceFile, what: str, detail: str) -> UsageError:
    return too_many_pixels(f"the {what} {source.label}", detail)


def _corrupt(source: SourceFile, what: str, exc: BaseException) -> UsageError:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    damaged = damage(source.head, lambda: source.data) or \
        f"is truncated or corrupt ({reason})"
    return UsageError(f"the {what} {source.label} {damaged}", hint=REEXPORT)


EXIF_ORIENTATION = 0x0112
TURNED = "turned upright as its EXIF orientation says"
_TURNED_SIDEWAYS = (5, 6, 7, 8)  # orientations whose upright picture swaps width and height


def upright(image: Image.Image) -> tuple[Image.Image, bool]:
    """The image as viewers show it, turned per its EXIF orientation; and whether it was.

    A phone photo is often stored sideways with a tag saying so: the mask drawn over it
    in a paint program follows what was shown, not what was stored.
    """
    from PIL import ImageOps  # noqa: PLC0415 - Pillow only when needed

    if image.getexif().get(EXIF_ORIENTATION, 1) in (None, 1):
        return image, False
    turned = ImageOps.exif_transpose(image)
    return (turned, True) if turned is not None else (image, False)


def image_dimensions(path: Path, *, what: str = "image") -> tuple[int, int]:
    """Width and height as viewers show them (EXIF orientation applied), from the header."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415 - Pillow only when needed

    check_regular(path, what=what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if image.getexif().get(EXIF_ORIENTATION, 1) in _TURNED_SIDEWAYS:
                    width, height = height, width
                return int(width), int(height)
    except Image.DecompressionBombError as exc:
        raise too_many_pixels(f"the {what} {path}", bomb_pixels(exc)) from None
    except FileNotFoundError:
        raise UsageError(f"the {what} {path} does not exist", hint="check the path") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise UsageError(f"cannot read the {what} {path}: {exc.strerror or exc}",
                             hint="check the path and its permissions") from exc
        damaged = damage(_head_of(path), path.read_bytes)
        if damaged is not None:  # truncated or corrupt, but an image of its format
            raise UsageError(f"the {what} {path} {damaged}", hint=REEXPORT) from None
        raise UsageError(f"the {what} {path} is not an image Pillow can read",
                         hint="name a png, jpeg or webp file") from None


def _head_of(path: Path) -> bytes:
    """The first bytes of ``path``, which tell its format (none if it cannot be read)."""
    try:
        with path.open("rb") as file:
            return file.read(16)
    except OSError:
        return b""
