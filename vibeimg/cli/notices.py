"""Warnings about the config file, shown once when a command runs (unless ``--quiet``).

The root callback reads the config file before the command parses its own options, so
it cannot know about ``--quiet`` yet: it leaves its warning in the root context, and
the command shows it once its parameters are parsed. ``--help`` shows none.
"""

from __future__ import annotations

from typer import _click  # Typer vendors Click; use its classes, never Click's own

from vibeimg.ui import Reporter

CONFIG_WARNING = "vibeimg.config_warning"  # the key in the root context's meta


def leave_config_warning(ctx: _click.Context, warning: str | None) -> None:
    """Keep ``warning`` for the command about to run."""
    if warning:
        ctx.meta[CONFIG_WARNING] = warning


def show_config_warning(ctx: _click.Context) -> None:
    """The warning left for this run, once, on stderr; ``--quiet`` silences it."""
    warning = ctx.find_root().meta.pop(CONFIG_WARNING, None)
    if warning:
        reporter = Reporter(quiet=bool(ctx.params.get("quiet")))
        reporter.json_lines = str(ctx.params.get("progress", "")).lower() == "jsonl"
        reporter.warn(warning)
