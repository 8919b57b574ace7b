"""Previews: escape sequences and half-block cells, and what a terminal actually receives."""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path

import pytest
from pictures import encoded, with_dimensions
from PIL import Image
from ptyrun import run_in_pty, vibeimg_argv

from vibeimg import preview
from vibeimg.errors import UsageError


def _two_tone(path: Path | None = None, size: tuple[int, int] = (64, 64)) -> Image.Image:
    """Red on top, blue below."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (0, size[1] // 2, size[0], size[1]))
    if path is not None:
        image.save(path)
    return image


@pytest.mark.parametrize(("env", "expected"), [
    ({"TERM": "xterm-kitty"}, "kitty"),
    ({"TERM": "xterm-256color", "KITTY_WINDOW_ID": "1"}, "kitty"),
    ({"TERM_PROGRAM": "iTerm.app"}, "iterm"),
    ({"TERM_PROGRAM": "WezTerm"}, "iterm"),
    ({"TERM": "xterm-256color"}, "blocks"),
    ({}, "blocks"),
    # tmux and screen drop graphics and keep the outer terminal's variables.
    ({"TERM": "tmux-256color", "TMUX": "/tmp/tmux-0/default,1,0", "KITTY_WINDOW_ID": "1"},
     "blocks"),
    ({"TERM": "screen-256color", "KITTY_WINDOW_ID": "1"}, "blocks"),
    ({"TERM": "xterm-kitty", "TMUX": "/tmp/tmux-0/default,1,0"}, "blocks"),
    ({"TERM_PROGRAM": "tmux", "LC_TERMINAL": "iTerm2"}, "blocks"),
    ({"TERM": "xterm-256color", "STY": "1234.pts-0.host", "TERM_PROGRAM": "WezTerm"},
     "blocks"),
])
def test_protocol_is_detected_from_the_environment(env: dict[str, str], expected: str) -> None:
    """kitty and iTerm2/WezTerm announce themselves; anything else, and anything inside
    tmux or screen, gets half-blocks."""
    assert preview.detect_protocol(env) == expected


def test_tmux_passthrough_wraps_each_sequence() -> None:
    """Each graphics sequence goes in its own tmux DCS, with its ESC characters doubled."""
    kitty = preview.kitty_sequence(b"x" * 5000, 4, 2)
    wrapped = preview.tmux_passthrough(kitty)
    pieces = wrapped.split("\x1bPtmux;")[1:]
    assert len(pieces) == kitty.count("\x1b_G") == 2
    assert all(piece.endswith("\x1b\x1b\\\x1b\\") for piece in pieces)
    assert "".join(p[:-2].replace("\x1b\x1b", "\x1b") for p in pieces) == kitty
    iterm = preview.iterm_sequence(b"abc", "f.png", 4, 2)
    assert preview.tmux_passthrough(iterm) == (
        "\x1bPtmux;" + iterm.replace("\x1b", "\x1b\x1b") + "\x1b\\")


def test_cells_keep_the_shape_within_limits() -> None:
    """A cell is twice as tall as wide; the fit never exceeds the limits."""
    assert preview.fit_cells(1024, 1024, 40, 100) == (40, 20)
    assert preview.fit_cells(1536, 1024, 60, 100) == (60, 20)
    assert preview.fit_cells(1024, 1536, 80, 10) == (13, 10)
    assert preview.fit_cells(10, 10, 80, 24) == (10, 5)


def test_half_blocks_carry_the_upper_and_lower_pixels() -> None:
    """Each cell's foreground is the upper pixel and its background the lower one."""
    cells = preview.half_block_cells(_two_tone(), 8, 4)
    assert len(cells) == 4 and all(len(row) == 8 for row in cells)
    assert cells[0][0] == preview.Cell((255, 0, 0), (255, 0, 0))
    assert cells[3][7] == preview.Cell((0, 0, 255), (0, 0, 255))


def test_transparency_shows_a_checkerboard() -> None:
    """Transparent pixels (an alpha mask's hole) show as grey checks, not black."""
    clear = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    colours = {c.top for row in preview.half_block_cells(clear, 8, 4) for c in row}
    assert colours == set(preview.CHECKER)


def test_shades_without_colour() -> None:
    """With colour off, brightness becomes denser characters."""
    image = Image.new("L", (4, 2), 0)
    image.paste(255, (2, 0, 4, 2))
    assert preview.shade_lines(image, 4, 1) == ["  @@"]


def test_kitty_sequence_chunks_a_png() -> None:
    """The kitty payload is a PNG in chunks of at most 4096, the last marked m=0."""
    png = preview.thumbnail_png(Image.effect_noise((300, 300), 80))
    sequence = preview.kitty_sequence(png, 20, 10)
    parts = re.findall(r"\x1b_G([^;]*);([^\x1b]*)\x1b\\", sequence)
    assert len(parts) > 1
    assert parts[0][0] == "a=T,f=100,q=2,c=20,r=10,m=1"
    assert [p[0] for p in parts[1:]] == ["m=1"] * (len(parts) - 2) + ["m=0"]
    assert all(len(p[1]) <= 4096 for p in parts)
    assert base64.b64decode("".join(p[1] for p in parts)) == png


def test_iterm_sequence_carries_name_size_and_cells() -> None:
    """The iTerm2 sequence names the file, its size and the cells to fill."""
    data = preview.thumbnail_png(_two_tone())
    sequence = preview.iterm_sequence(data, "fox.png", 12, 6)
    head, payload = sequence.removeprefix("\x1b]1337;File=").removesuffix("\x07").split(":", 1)
    fields = dict(f.split("=", 1) for f in head.split(";"))
    assert base64.b64decode(fields["name"]) == b"fox.png"
    assert fields["size"] == str(len(data)) and fields["inline"] == "1"
    assert (fields["width"], fields["height"]) == ("12", "6")
    assert base64.b64decode(payload) == data


def test_thumbnails_are_small() -> None:
    """Graphics terminals get a thumbnail, never the full-size image."""
    png = preview.thumbnail_png(Image.new("RGB", (3840, 2160), "white"))
    assert max(Image.open(io.BytesIO(png)).size) == preview.THUMBNAIL_PIXELS


def test_unreadable_files_are_usage_errors(tmp_path: Path) -> None:
    """A missing file, a folder or a non-image is a clear usage error."""
    (tmp_path / "notes.txt").write_text("hello")
    for name in ("missing.png", ".", "notes.txt"):
        with pytest.raises(UsageError):
            preview.open_image(tmp_path / name)


def test_preview_draws_nothing_when_stdout_is_not_a_terminal(cli, tmp_path: Path) -> None:
    """Piped or redirected, 'vibeimg preview' writes nothing to stdout, and says why."""
    _two_tone(tmp_path / "fox.png")
    result = cli("preview", "fox.png")
    assert result.exit_code == 0
    assert result.stdout == "" and "not a terminal" in result.stderr


def test_preview_of_a_missing_file_fails(cli) -> None:
    """Files are checked before drawing: a missing one is exit 2."""
    result = cli("preview", "missing.png")
    assert result.exit_code == 2 and "missing.png" in result.stderr


def test_a_bad_file_among_good_ones_is_named_and_the_rest_shown(tmp_path: Path) -> None:
    """shots/*.png with one truncated file: the others are drawn, the bad one is named
    as truncated (not 'not an image'), and the exit code says some failed (7)."""
    _two_tone(tmp_path / "fox.png")
    data = (tmp_path / "fox.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    code, shown = run_in_pty(vibeimg_argv("preview", "cut.png", "fox.png", "--width", "8"),
                             env=_terminal_env(TERM="xterm-256color", COLORTERM="truecolor"),
                             cwd=tmp_path)
    text = shown.decode()
    assert code == 7, text
    assert "cut.png is a damaged PNG: it ends inside its IDAT chunk (truncated or corrupt)" \
        in text
    assert "fox.png" in text and text.count(preview.UPPER_HALF) == 8 * 4
    assert "1 of 2 files could not be shown" in text


def test_a_decompression_bomb_is_named_and_the_rest_shown(tmp_path: Path) -> None:
    """A tiny PNG claiming 20000x20000 pixels is named on stderr like any unreadable file,
    the other file is drawn, and the exit code is 7 (no internal error)."""
    _two_tone(tmp_path / "fox.png")
    (tmp_path / "bomb.png").write_bytes(with_dimensions(encoded(Image.new("L", (1, 1))),
                                                       20_000, 20_000))
    code, shown = run_in_pty(vibeimg_argv("preview", "bomb.png", "fox.png", "--width", "8"),
                             env=_terminal_env(TERM="xterm-256color", COLORTERM="truecolor"),
                             cwd=tmp_path)
    text = shown.decode()
    assert code == 7, text
    assert "bomb.png would decode to too many pixels (400,000,000; at most" in text
    assert "internal error" not in text and "178,956,970" not in text
    assert text.count(preview.UPPER_HALF) == 8 * 4


def test_a_bomb_under_pillows_own_refusal_is_refused_too(cli, tmp_path: Path) -> None:
    """10000x10000 (which Pillow only warns about) is refused before decoding: exit 2."""
    (tmp_path / "bomb.png").write_bytes(with_dimensions(encoded(Image.new("L", (1, 1))),
                                                       10_000, 10_000))
    result = cli("preview", "bomb.png")
    assert result.exit_code == 2
    assert result.stderr == ("error: bomb.png would decode to too many pixels (10000x10000; "
                             "at most 89,478,485 are allowed): it looks like a decompression "
                             "bomb (use a smaller image)\n")


def test_only_bad_files_is_a_usage_error(cli, tmp_path: Path) -> None:
    """Nothing to show at all: every problem is named, exit 2."""
    (tmp_path / "notes.txt").write_text("hello")
    result = cli("preview", "missing.png", "notes.txt")
    assert result.exit_code == 2
    assert "no such file: missing.png" in result.stderr
    assert "notes.txt is not an image" in result.stderr


def _terminal_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TERM_PROGRAM", "KITTY_WINDOW_ID", "LC_TERMINAL", "NO_COLOR", "TMUX",
                        "STY")}
    return {**env, **extra}


def test_kitty_terminal_receives_the_graphics_protocol(tmp_path: Path) -> None:
    """In kitty, the thumbnail goes out as kitty graphics escape sequences."""
    _two_tone(tmp_path / "fox.png", (256, 256))
    code, shown = run_in_pty(vibeimg_argv("preview", "fox.png", "--width", "20"),
                             env=_terminal_env(TERM="xterm-kitty"), cwd=tmp_path)
    assert code == 0, shown
    chunks = re.findall(rb"\x1b_G([^;]*);([^\x1b]*)\x1b\\", shown)
    assert chunks[0][0].startswith(b"a=T,f=100,q=2,c=20,r=10")
    png = base64.b64decode(b"".join(c[1] for c in chunks))
    assert Image.open(io.BytesIO(png)).getpixel((0, 0)) == (255, 0, 0)


def test_iterm_terminal_receives_an_inline_image(tmp_path: Path) -> None:
    """In iTerm2 or WezTerm, the thumbnail goes out as an inline image."""
    _two_tone(tmp_path / "fox.png")
    code, shown = run_in_pty(vibeimg_argv("preview", "fox.png"),
                             env=_terminal_env(TERM="xterm-256color", TERM_PROGRAM="WezTerm"),
                             cwd=tmp_path)
    assert code == 0, shown
    assert b"\x1b]1337;File=name=" + base64.b64encode(b"fox.png") in shown


def test_other_terminals_receive_coloured_half_blocks(tmp_path: Path) -> None:
    """Elsewhere, half-block characters in the image's colours, through Rich."""
    _two_tone(tmp_path / "fox.png")
    code, shown = run_in_pty(vibeimg_argv("preview", "fox.png", "--width", "8"),
                             env=_terminal_env(TERM="xterm-256color", COLORTERM="truecolor"),
                             cwd=tmp_path)
    assert code == 0, shown
    text = shown.decode()
    assert text.count(preview.UPPER_HALF) == 8 * 4
    assert "38;2;255;0;0" in text and "48;2;0;0;255" in text


def test_inside_tmux_a_kitty_client_gets_half_blocks(tmp_path: Path) -> None:
    """tmux started from kitty (KITTY_WINDOW_ID inherited): half-blocks are drawn, not
    kitty graphics that tmux would swallow."""
    _two_tone(tmp_path / "fox.png")
    code, shown = run_in_pty(
        vibeimg_argv("preview", "fox.png", "--width", "8"),
        env=_terminal_env(TERM="tmux-256color", TMUX="/tmp/tmux-0/default,1,0",
                          KITTY_WINDOW_ID="3", COLORTERM="truecolor"), cwd=tmp_path)
    assert code == 0, shown
    assert shown.decode().count(preview.UPPER_HALF) == 8 * 4
    assert b"\x1b_G" not in shown


def test_kitty_named_inside_tmux_goes_through_passthrough(tmp_path: Path) -> None:
    """--protocol kitty inside tmux: the sequences are wrapped for tmux to pass on."""
    _two_tone(tmp_path / "fox.png")
    code, shown = run_in_pty(
        vibeimg_argv("preview", "fox.png", "--width", "8", "--protocol", "kitty"),
        env=_terminal_env(TERM="tmux-256color", TMUX="/tmp/tmux-0/default,1,0"),
        cwd=tmp_path)
    assert code == 0, shown
    assert shown.startswith(b"\x1bPtmux;\x1b\x1b_Ga=T,f=100")


def test_generate_preview_draws_on_the_terminal(tmp_path: Path) -> None:
    """generate --preview shows the saved image on a terminal's stderr."""
    code, shown = run_in_pty(
        vibeimg_argv("generate", "an otter", "--offline", "--size", "1024x1024",
                     "--quality", "low", "--preview", "--no-history"),
        env=_terminal_env(TERM="xterm-256color", COLORTERM="truecolor"), cwd=tmp_path)
    assert code == 0, shown
    assert (tmp_path / "an-otter.png").exists()
    assert shown.decode().count(preview.UPPER_HALF) > 100
