"""``vibeimg preview FILE...`` and ``--preview``: thumbnails in the terminal.

Commands that save images call :func:`preview_saved` with the paths (one line);
it draws on stderr, and only when stderr is a terminal.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Annotated, Any, Optional

import typer

from vibeimg.cli.options import _choices, complete_image_path
from vibeimg.ui import Reporter, is_terminal, printable

AFTER_RUN_COLS = 48  # thumbnails after a run stay small
AFTER_RUN_ROWS = 20
PROTOCOL_CHOICES = ("auto", "kitty", "iterm", "blocks")  # as vibeimg.preview.PROTOCOLS


def draw(path: Path, stream: IO[str], *, protocol: str = "auto", max_cols: int | None = None,
         max_rows: int | None = None) -> None:
    """Draw one image on ``stream`` (a terminal) with the best protocol available."""
    from vibeimg import preview

    image = preview.open_image(path)
    columns, lines = shutil.get_terminal_size()
    chosen = preview.detect_protocol(os.environ) if protocol == "auto" else protocol
    color = not os.environ.get("NO_COLOR")
    rendering = preview.render(
        image, protocol=chosen, name=path.name, color=color,
        max_cols=min(max_cols or columns, columns - 1),
        max_rows=max_rows or max(4, lines - 2),
    )
    if rendering.escape:
        escape = rendering.escape
        if preview.in_multiplexer(os.environ):  # asked for by name: through tmux
            escape = preview.tmux_passthrough(escape)
        stream.write(escape + "\n")
    elif rendering.shades:
        stream.write("\n".join(rendering.shades) + "\n")
    else:
        _print_cells(rendering.cells, stream)
    stream.flush()


def _print_cells(cells: Iterable[Iterable[Any]], stream: IO[str]) -> None:
    """Half-block cells through Rich, which adapts the colours to the terminal."""
    from rich.color import Color
    from rich.console import Console
    from rich.style import Style
    from rich.text import Text

    from vibeimg.preview import UPPER_HALF

    styles: dict[tuple[Any, Any], Style] = {}
    text = Text(no_wrap=True, overflow="crop", end="")
    for row in cells:
        run: list[Any] = []  # neighbouring cells of one colour pair: one span
        for cell in [*row, None]:
            key = None if cell is None else (cell.top, cell.bottom)
            if run and key != run[0]:
                style = styles.get(run[0])
                if style is None:
                    top, bottom = run[0]
                    style = styles[run[0]] = Style(color=Color.from_rgb(*top),
                                                   bgcolor=Color.from_rgb(*bottom))
                text.append(UPPER_HALF * len(run), style)
                run = []
            if key is not None:
                run.append(key)
        text.append("\n")
    Console(file=stream, highlight=False, soft_wrap=True).print(text)


def preview_saved(paths: Iterable[Path | None], reporter: Reporter, *,
                  enabled: bool = True) -> None:
    """After a run: thumbnails of the saved images on stderr, if it is a terminal."""
    if not enabled:
        return
    if reporter.quiet or not is_terminal(reporter.stream):
        reporter.trace("preview skipped: stderr is not a terminal")
        return
    from vibeimg.errors import UsageError

    for path in paths:
        if path is None:
            continue
        try:
            reporter.stream.write(f"{printable(str(path))}\n")
            draw(path, reporter.stream, max_cols=AFTER_RUN_COLS, max_rows=AFTER_RUN_ROWS)
        except UsageError as exc:
            reporter.warn(f"cannot preview {path}: {exc.one_line()}")


def preview(
    files: Annotated[list[Path], typer.Argument(
        metavar="IMAGE...", autocompletion=complete_image_path, show_default=False,
        help="Image files to show.")],
    width: Annotated[Optional[int], typer.Option(
        "--width", "-w", min=1, metavar="COLUMNS", show_default=False,
        help="Width in character cells [default: the terminal's].")] = None,
    height: Annotated[Optional[int], typer.Option(
        "--height", min=1, metavar="ROWS", show_default=False,
        help="Height limit in character cells [default: the terminal's].")] = None,
    protocol: Annotated[str, typer.Option(
        "--protocol", metavar="auto|kitty|iterm|blocks", autocompletion=_choices(PROTOCOL_CHOICES),
        help="How to draw: kitty or iTerm2 graphics, or coloured half-blocks; auto picks "
        "from TERM, TERM_PROGRAM and KITTY_WINDOW_ID, and half-blocks inside tmux or screen "
        "(kitty and iterm named there go through tmux's passthrough: set -g "
        "allow-passthrough on).")] = "auto",
) -> None:
    """Show images as thumbnails in the terminal.

    Uses the kitty or iTerm2 graphics protocol where the terminal speaks it (kitty, iTerm2, WezTerm), else coloured half-block characters (also inside tmux or screen, which drop graphics). Draws nothing when stdout is not a terminal.

    Examples:

      vibeimg preview otter.png

      vibeimg preview shots/*.png --width 40
    """
    from vibeimg.errors import PartialFailure, UsageError
    from vibeimg.preview import open_image

    if protocol not in PROTOCOL_CHOICES:
        raise UsageError(f"invalid protocol {protocol!r}",
                         hint=f"choose one of {', '.join(PROTOCOL_CHOICES)}")
    reporter = Reporter()
    readable, problems = [], []
    for path in files:  # every file is checked before anything is drawn
        try:
            open_image(path).close()
        except UsageError as exc:
            problems.append(exc)
        else:
            readable.append(path)
    if problems and not readable:
        for problem in problems[:-1]:
            reporter.error(problem.one_line())
        raise problems[-1]
    for problem in problems:
        reporter.error(problem.one_line())
    if not is_terminal(sys.stdout):
        reporter.warn("stdout is not a terminal: nothing drawn (run it in a terminal)")
    else:
        for path in readable:
            if len(files) > 1:
                sys.stdout.write(f"{printable(str(path))}\n")
            draw(path, sys.stdout, protocol=protocol, max_cols=width, max_rows=height)
    if problems:
        raise PartialFailure(f"{len(problems)} of {len(files)} files could not be shown",
                             failures=list(problems))
