"""Thumbnails for the terminal, computed without one: escape sequences and cells.

Three ways to draw, picked from the environment: the kitty graphics protocol
(kitty, and terminals that set ``TERM=xterm-kitty``), the iTerm2 inline-image
protocol (iTerm2, WezTerm), or else coloured half-block characters. Inside tmux or
GNU screen, which swallow graphics sequences (and keep the outer terminal's
``KITTY_WINDOW_ID`` in their environment), half-blocks are the choice; a graphics
protocol asked for by name goes through tmux's passthrough. Each character
cell shows two pixels, the upper half in the foreground colour of ``▀`` and the
lower half in its background colour. The command-line layer writes the sequences
or hands the cells to Rich; nothing here needs a terminal.
"""

from __future__ import annotations

import base64
import io
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from vibeimg.errors import UsageError
from vibeimg.files.damage import REEXPORT, damage
from vibeimg.files.formats import MAX_INPUT_PIXELS, bomb_pixels, too_many_pixels
from vibeimg.files.inputs import check_regular

PROTOCOLS = ("auto", "kitty", "iterm", "blocks")
KITTY_CHUNK = 4096  # the protocol's largest base64 payload per escape sequence
UPPER_HALF = "\u2580"
CELL_ASPECT = 2.0  # a character cell is about twice as tall as it is wide
THUMBNAIL_PIXELS = 512  # the longest edge sent to graphics terminals
CHECKER = ((0x99, 0x99, 0x99), (0x66, 0x66, 0x66))  # shows through transparent pixels
SHADES = " .:-=+*#%@"  # darkest to brightest, when colour is off (NO_COLOR)

RGB = tuple[int, int, int]


def in_multiplexer(environ: Mapping[str, str]) -> bool:
    """Whether the output goes through tmux or GNU screen rather than to the terminal."""
    if environ.get("TMUX") or environ.get("STY") or environ.get("TERM_PROGRAM") == "tmux":
        return True
    return environ.get("TERM", "").startswith(("screen", "tmux"))


def detect_protocol(environ: Mapping[str, str]) -> str:
    """The richest protocol the terminal announces in its environment.

    A multiplexer drops graphics sequences it does not know (nothing is drawn, and
    nothing says why) and passes on its client's variables, so inside tmux or screen
    it is half-blocks, which work everywhere.
    """
    term = environ.get("TERM", "")
    program = environ.get("TERM_PROGRAM", "")
    if in_multiplexer(environ):
        return "blocks"
    if term == "xterm-kitty" or environ.get("KITTY_WINDOW_ID"):
        return "kitty"
    if program in ("iTerm.app", "WezTerm") or environ.get("LC_TERMINAL") == "iTerm2":
        return "iterm"
    return "blocks"


def open_image(path: Path) -> Image.Image:
    """Open an image to preview, or say clearly why it cannot be."""
    check_regular(path, what="image")  # a FIFO would block Pillow's open for ever
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its limit; the cap below refuses such an image.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise too_many_pixels(str(path), bomb_pixels(exc)) from None
    except FileNotFoundError as exc:
        raise UsageError(f"no such file: {path}", hint="check the path") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{path} is a folder", hint="give image files") from exc
    except (UnidentifiedImageError, OSError) as exc:
        damaged = _damaged(path)
        if damaged is not None:
            raise damaged from exc
        raise UsageError(f"{path} is not an image vibeimg can read",
                         hint="give a PNG, JPEG or WebP file") from exc
    if image.width * image.height > MAX_INPUT_PIXELS:  # a small file, gigabytes of pixels
        image.close()
        raise too_many_pixels(str(path), f"{image.width}x{image.height}")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise _damaged(path) or UsageError(f"{path} is truncated or corrupt ({reason})",
                                           hint=REEXPORT) from exc
    return image


def _damaged(path: Path) -> UsageError | None:
    """A damaged PNG, JPEG or WebP said as such (which PNG chunk is broken); None when
    the bytes are of no such format."""
    try:
        with path.open("rb") as file:
            head = file.read(16)
        damaged = damage(head, path.read_bytes)  # the whole file only for a PNG's chunks
    except OSError:
        return None
    return None if damaged is None else UsageError(f"{path} {damaged}", hint=REEXPORT)


def fit_cells(width: int, height: int, max_cols: int, max_rows: int) -> tuple[int, int]:
    """The character cells an image of this size fills, keeping its shape."""
    max_cols, max_rows = max(1, max_cols), max(1, max_rows)
    cols = min(max_cols, width)
    rows = round(cols * height / width / CELL_ASPECT)
    if rows > max_rows:
        rows = max_rows
        cols = round(rows * CELL_ASPECT * width / height)
    return max(1, min(cols, max_cols)), max(1, rows)


def _checkered(image: Image.Image) -> Image.Image:
    """RGB, with transparent parts shown over a checkerboard (masks stay readable)."""
    rgba = image.convert("RGBA")
    if rgba.getchannel("A").getextrema()[0] == 255:  # fully opaque
        return rgba.convert("RGB")
    board = Image.new("RGB", rgba.size, CHECKER[0])
    dark = Image.new("RGB", rgba.size, CHECKER[1])
    step = 2
    pattern = Image.new("1", rgba.size, 0)
    pixels = pattern.load()
    assert pixels is not None
    for y in range(rgba.height):
        for x in range(rgba.width):
            if (x // step + y // step) % 2:
                pixels[x, y] = 1
    board.paste(dark, (0, 0), pattern)
    board.paste(rgba, (0, 0), rgba)
    return board


@dataclass(frozen=True)
class Cell:
    """One character cell: the upper pixel and the lower pixel."""

    top: RGB
    bottom: RGB


def half_block_cells(image: Image.Image, cols: int, rows: int) -> list[list[Cell]]:
    """The image as ``rows`` lines of ``cols`` half-block cells."""
    small = _checkered(image.convert("RGBA").resize((cols, rows * 2), Image.Resampling.BOX))
    pixels: Any = small.load()
    return [
        [Cell(tuple(pixels[x, 2 * y]), tuple(pixels[x, 2 * y + 1])) for x in range(cols)]
        for y in range(rows)
    ]


def shade_lines(image: Image.Image, cols: int, rows: int) -> list[str]:
    """The image as characters of growing density, for terminals without colour."""
    small = _checkered(image.convert("RGBA").resize((cols, rows), Image.Resampling.BOX))
    small = small.convert("L")
    pixels: Any = small.load()
    top = len(SHADES) - 1
    return ["".join(SHADES[pixels[x, y] * top // 255] for x in range(cols)) for y in range(rows)]


def thumbnail_png(image: Image.Image, max_pixels: int = THUMBNAIL_PIXELS) -> bytes:
    """A small PNG of the image for graphics terminals (never the 25 MB original)."""
    small = image.copy()
    if small.mode not in ("RGB", "RGBA"):
        small = small.convert("RGBA")
    small.thumbnail((max_pixels, max_pixels))
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return buffer.getvalue()


def kitty_sequence(png: bytes, cols: int, rows: int) -> str:
    """The kitty graphics protocol: transmit and show a PNG in ``cols`` x ``rows`` cells.

    The payload is split into chunks of at most 4096 base64 characters; ``q=2`` keeps
    the terminal from answering on our standard input.
    """
    data = base64.standard_b64encode(png).decode("ascii")
    chunks = [data[i:i + KITTY_CHUNK] for i in range(0, len(data), KITTY_CHUNK)] or [""]
    out = []
    for number, chunk in enumerate(chunks):
        more = 1 if number < len(chunks) - 1 else 0
        control = f"a=T,f=100,q=2,c={cols},r={rows},m={more}" if number == 0 else f"m={more}"
        out.append(f"\x1b_G{control};{chunk}\x1b\\")
    return "".join(out)


_ESCAPE_SEQUENCE = re.compile(r"\x1b_.*?\x1b\\|\x1b\].*?\x07", re.DOTALL)


def tmux_passthrough(escape: str) -> str:
    """Graphics sequences wrapped for tmux to hand to the outer terminal (tmux 3.3 and
    later need ``set -g allow-passthrough on``): each in its own DCS, ESC doubled."""
    return "".join("\x1bPtmux;" + found.group(0).replace("\x1b", "\x1b\x1b") + "\x1b\\"
                   for found in _ESCAPE_SEQUENCE.finditer(escape))


def iterm_sequence(data: bytes, name: str, cols: int, rows: int) -> str:
    """The iTerm2 inline-image protocol (also spoken by WezTerm)."""
    encoded_name = base64.standard_b64encode(name.encode("utf-8")).decode("ascii")
    payload = base64.standard_b64encode(data).decode("ascii")
    return (f"\x1b]1337;File=name={encoded_name};size={len(data)};inline=1;"
            f"width={cols};height={rows};preserveAspectRatio=1:{payload}\x07")


@dataclass(frozen=True)
class Rendering:
    """A preview ready to write: raw escape text, or half-block cells, or shaded lines."""

    protocol: str
    cols: int
    rows: int
    escape: str = ""
    cells: tuple[tuple[Cell, ...], ...] = ()
    shades: tuple[str, ...] = ()


def render(image: Image.Image, *, protocol: str, max_cols: int, max_rows: int,
           name: str = "image", color: bool = True) -> Rendering:
    """Prepare ``image`` for the terminal with ``protocol`` (kitty, iterm or blocks)."""
    cols, rows = fit_cells(image.width, image.height, max_cols, max_rows)
    if protocol == "kitty":
        return Rendering("kitty", cols, rows, escape=kitty_sequence(thumbnail_png(image),
                                                                    cols, rows))
    if protocol == "iterm":
        return Rendering("iterm", cols, rows,
                         escape=iterm_sequence(thumbnail_png(image), name, cols, rows))
    if not color:
        return Rendering("blocks", cols, rows, shades=tuple(shade_lines(image, cols, rows)))
    cells = half_block_cells(image, cols, rows)
    return Rendering("blocks", cols, rows, cells=tuple(tuple(row) for row in cells))
