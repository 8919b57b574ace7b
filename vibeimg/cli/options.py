"""Options shared by several commands, declared once."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

from vibeimg.choices import FORMATS, MODERATIONS, QUALITIES, RESPONSE_FORMATS, SIZE_CHOICES

CONNECTION = "Connection"
OUTPUT = "Output"
IMAGE = "Image options"


def _choices(values: tuple[str, ...]) -> Callable[[str], list[str]]:
    def complete(incomplete: str) -> list[str]:
        return [v for v in values if v.startswith(incomplete)]

    return complete


def finite_number(value: float | None) -> float | None:
    """A number option's value, refused when NaN or infinite: Click's ``min`` and ``max``
    let NaN through (every comparison with it is false), and it would disable a limit."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} cannot be used: give a finite number, such as 2 "
                                 "or 0.5")
    return value


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


def complete_image_path(incomplete: str) -> list[str]:
    """Image files and folders whose path starts with ``incomplete``.

    When nothing matches, the list is empty and the shell falls back to its own file
    completion.
    """
    folder, sep, prefix = incomplete.rpartition("/")
    directory = Path(folder or "/").expanduser() if sep else Path()
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return []
    shown = []
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix) or (name.startswith(".") and not prefix.startswith(".")):
            continue
        path = f"{folder}{sep}{name}"
        try:
            if entry.is_dir():
                shown.append(path + "/")
            elif name.lower().endswith(IMAGE_SUFFIXES):
                shown.append(path)
        except OSError:
            continue
    return shown


# Connection
Offline = Annotated[bool, typer.Option(
    "--offline", help="Run against the built-in emulator: no key, no network, no cost.",
    rich_help_panel=CONNECTION)]
BaseUrl = Annotated[Optional[str], typer.Option(
    "--base-url", metavar="URL", show_default=False,
    help="Gateway base URL. [env: VIBEIMG_BASE_URL, then config base-url, then "
    "OPENAI_BASE_URL; default: https://www.vibeapi.cn/v1]", rich_help_panel=CONNECTION)]
ApiKey = Annotated[Optional[str], typer.Option(
    "--api-key", metavar="KEY", show_default=False,
    help="API key; prefer the environment or 'vibeimg config set api-key', which stay out "
    "of shell history. [env: VIBEIMG_API_KEY, then config api-key, then OPENAI_API_KEY]",
    rich_help_panel=CONNECTION)]
Timeout = Annotated[Optional[float], typer.Option(
    "--timeout", metavar="SECONDS", show_default=False,
    help="Seconds to wait for an answer, above 0 and at most 3600 [default: 300; a "
    "generation can take 2 minutes].",
    rich_help_panel=CONNECTION)]
Retries = Annotated[Optional[int], typer.Option(
    "--retries", metavar="N", show_default=False,
    help="Retries when the gateway cannot have done the work (connection refused, 429, "
    "503), 0 to 10 [default: 3]; 0 turns them off.", rich_help_panel=CONNECTION)]
RetryUnknown = Annotated[bool, typer.Option(
    "--retry-unknown",
    help="Also retry after a timeout, a 500/502/504 or a connection dropped mid-answer, "
    "whose outcome is unknown: this may bill twice.", rich_help_panel=CONNECTION)]
Verbose = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Trace each request and retry on stderr (never the key).",
    rich_help_panel=CONNECTION)]
Quiet = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress, summaries or warnings on stderr; errors still show.",
    rich_help_panel=CONNECTION)]

# Prompt
PromptFile = Annotated[Optional[Path], typer.Option(
    "--prompt-file", "-f", metavar="FILE", show_default=False,
    help="Read the prompt from FILE instead of the argument.", dir_okay=False)]

# Image options
Model = Annotated[str, typer.Option("--model", "-m", metavar="NAME", envvar="VIBEIMG_MODEL",
                                    help="Image model.", rich_help_panel=IMAGE)]
SizeOpt = Annotated[str, typer.Option(
    "--size", "-s", metavar="SIZE", autocompletion=_choices(SIZE_CHOICES), envvar="VIBEIMG_SIZE",
    help="auto, WIDTHxHEIGHT (edges multiples of 16, at most 3840, ratio at most 3:1), "
    "or square, landscape, portrait, 2k, 2k-landscape, 4k, 4k-portrait.",
    rich_help_panel=IMAGE)]
Quality = Annotated[str, typer.Option(
    "--quality", metavar="|".join(QUALITIES), autocompletion=_choices(QUALITIES),
    envvar="VIBEIMG_QUALITY",
    help="Rendering quality; low is fastest and cheapest.", rich_help_panel=IMAGE)]
Format = Annotated[str, typer.Option(
    "--format", "-F", metavar="|".join(FORMATS), autocompletion=_choices(FORMATS),
    envvar="VIBEIMG_FORMAT",
    help="Output format; jpeg is faster than png.", rich_help_panel=IMAGE)]
Compression = Annotated[Optional[int], typer.Option(
    "--compression", metavar="0-100", show_default=False,
    help="Compression level for jpeg and webp.", rich_help_panel=IMAGE)]
Moderation = Annotated[str, typer.Option(
    "--moderation", metavar="|".join(MODERATIONS), autocompletion=_choices(MODERATIONS),
    envvar="VIBEIMG_MODERATION",
    help="Content moderation strictness.", rich_help_panel=IMAGE)]
ResponseFormat = Annotated[str, typer.Option(
    "--response-format", metavar="|".join(RESPONSE_FORMATS),
    autocompletion=_choices(RESPONSE_FORMATS),
    help="How the gateway sends the image (a data URI with url); both are decoded.",
    rich_help_panel=IMAGE)]

# Output
Output = Annotated[Optional[str], typer.Option(
    "--output", "-o", metavar="NAME", show_default=False,
    help="File name or template with {slug} {n} {date} {time} {ext} {format} {model} "
    "{quality} {size}; '-' writes the image bytes to stdout (not with --json). [default: "
    "{slug}.{ext}, or {slug}-{n}.{ext} for several]", rich_help_panel=OUTPUT)]
#: chat-stream's images arrive one by one from one stream: no raw bytes on stdout.
StreamOutput = Annotated[Optional[str], typer.Option(
    "--output", "-o", metavar="NAME", show_default=False,
    help="File name or template with {slug} {n} {date} {time} {ext} {format} {model} "
    "{quality} {size}. [default: {slug}.{ext}, or {slug}-{n}.{ext} for several]",
    rich_help_panel=OUTPUT)]
OutDir = Annotated[Optional[Path], typer.Option(
    "--out-dir", "-d", metavar="DIR", show_default=False, file_okay=False,
    envvar="VIBEIMG_OUT_DIR",
    help="Folder for the images (created if needed) [default: current folder].",
    rich_help_panel=OUTPUT)]
Force = Annotated[bool, typer.Option(
    "--force", help="Overwrite existing files instead of adding -2, -3... to the name.",
    rich_help_panel=OUTPUT)]
NoSidecar = Annotated[bool, typer.Option(
    "--no-sidecar", help="Don't write NAME.json (prompt, parameters, usage...) beside each image.",
    rich_help_panel=OUTPUT)]
Json = Annotated[bool, typer.Option(
    "--json", help="Print one JSON document on stdout instead of the saved paths.",
    rich_help_panel=OUTPUT)]
Count = Annotated[int, typer.Option(
    "--count", "-n", min=1, max=100, metavar="N",
    help="How many images; the gateway makes one per request, so N requests are sent.",
    rich_help_panel=OUTPUT)]
Concurrency = Annotated[int, typer.Option(
    "--concurrency", "-c", min=1, max=32, metavar="N",
    help="Requests in flight at once with --count.", rich_help_panel=OUTPUT)]
DryRun = Annotated[bool, typer.Option(
    "--dry-run", help="Print the request(s) and the estimated cost; send nothing.",
    rich_help_panel=OUTPUT)]
History = Annotated[bool, typer.Option(
    "--history/--no-history", envvar="VIBEIMG_HISTORY", show_default=False,
    help="Record the run in the history ('vibeimg history') [default: on; "
    "config: history].", rich_help_panel=OUTPUT)]
AsciiNames = Annotated[bool, typer.Option(
    "--ascii-names/--unicode-names", envvar="VIBEIMG_ASCII_NAMES", show_default=False,
    help="Name files in ASCII only, transliterating the prompt (pinyin for Chinese) "
    "[default: names keep the prompt's own letters; config: ascii-names].",
    rich_help_panel=OUTPUT)]
Preview = Annotated[bool, typer.Option(
    "--preview", help="Show a thumbnail of each saved image in the terminal (stderr).",
    rich_help_panel=OUTPUT)]
ImagePath = Annotated[Path, typer.Argument(
    metavar="IMAGE", autocompletion=complete_image_path, show_default=False,
    help="An image file.")]
