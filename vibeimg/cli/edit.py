"""``vibeimg edit``: edit images, combine reference images, masked edits (POST /images/edits)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from vibeimg.choices import DEFAULT_MODEL
from vibeimg.cli import options as opt

INPUTS = "Inputs"

Prompt = Annotated[Optional[str], typer.Argument(
    metavar="PROMPT", help="What to change or make; '-' reads it from stdin.",
    show_default=False)]
Images = Annotated[list[str], typer.Option(
    "--image", "-i", metavar="IMAGE", show_default=False,
    autocompletion=opt.complete_image_path,
    help="An input image (png, jpeg or webp, at most 50 MB); repeat for up to 16 reference images. '-' reads one from stdin.",
    rich_help_panel=INPUTS)]
Mask = Annotated[Optional[str], typer.Option(
    "--mask", metavar="MASK", show_default=False, autocompletion=opt.complete_image_path,
    help="A PNG with an alpha channel, the size of the first image: transparent pixels mark where to repaint.",
    rich_help_panel=INPUTS)]
ConvertMask = Annotated[bool, typer.Option(
    "--convert-mask",
    help="Convert a mask without alpha channel on the fly, as 'vibeimg mask-convert' does (white kept, black repainted).",
    rich_help_panel=INPUTS)]
ResizeMask = Annotated[bool, typer.Option(
    "--resize-mask",
    help="Resize a mask of the same aspect ratio to the first image's dimensions (nearest neighbour).",
    rich_help_panel=INPUTS)]


def edit(
    image: Images,
    prompt: Prompt = None,
    mask: Mask = None,
    convert_mask: ConvertMask = False,
    resize_mask: ResizeMask = False,
    prompt_file: opt.PromptFile = None,
    model: opt.Model = DEFAULT_MODEL,
    size: opt.SizeOpt = "auto",
    quality: opt.Quality = "auto",
    output_format: opt.Format = "png",
    compression: opt.Compression = None,
    response_format: opt.ResponseFormat = "b64_json",
    count: opt.Count = 1,
    concurrency: opt.Concurrency = 4,
    output: opt.Output = None,
    out_dir: opt.OutDir = None,
    force: opt.Force = False,
    no_sidecar: opt.NoSidecar = False,
    json_output: opt.Json = False,
    dry_run: opt.DryRun = False,
    history: opt.History = True,
    ascii_names: opt.AsciiNames = False,
    preview: opt.Preview = False,
    offline: opt.Offline = False,
    base_url: opt.BaseUrl = None,
    api_key: opt.ApiKey = None,
    timeout: opt.Timeout = None,
    retries: opt.Retries = None,
    retry_unknown: opt.RetryUnknown = False,
    verbose: opt.Verbose = False,
    quiet: opt.Quiet = False,
) -> None:
    """Edit images, combine references, or repaint a masked area.

    Sends the prompt with 1 to 16 input images; with --mask, the model repaints where the mask is transparent in the first image. Every input is checked before sending (real png, jpeg or webp, at most 50 MB, not corrupt; the mask a PNG with alpha, the first image's size). Prints the saved paths; a NAME.json sidecar records the inputs with their SHA-256.

    Examples:

      vibeimg edit "add a red scarf" -i otter.png

      vibeimg edit "a gift basket with all these items" -i lotion.png -i soap.png -i candle.png

      vibeimg edit "a flamingo in the pool" -i lounge.jpg --mask mask.png

      vibeimg edit "make it winter" -i - < photo.png --offline
    """
    from vibeimg.cli.common import Connection, dry_run_document, read_prompt
    from vibeimg.cli.imagerun import plan_output, run_image_requests
    from vibeimg.cli.stdout import print_json
    from vibeimg.errors import UsageError
    from vibeimg.params import ImageOptions
    from vibeimg.ui import is_terminal

    connection = Connection(
        offline=offline, base_url=base_url, api_key=api_key, timeout=timeout,
        retries=retries, retry_unknown=retry_unknown, verbose=verbose, quiet=quiet)
    reporter = connection.reporter()
    stdin_users = [s for s in [*image, mask] if s == "-"]
    if stdin_users and prompt == "-":
        raise UsageError("stdin ('-') can supply the prompt or one image, not both",
                         hint="pass the prompt as an argument or with --prompt-file")
    if stdin_users and is_terminal(sys.stdin):
        raise UsageError("'-' reads an image from stdin, but stdin is a terminal",
                         hint="pipe it in: vibeimg edit 'make it winter' -i - < photo.png")
    text = read_prompt(prompt, prompt_file)
    image_options = ImageOptions.build(
        model=model, size=size, quality=quality, output_format=output_format,
        compression=compression, response_format=response_format,
    )
    if image_options.size is not None and image_options.size.experimental:
        reporter.warn(f"{image_options.size} is above 2560x1440: the gateway's output is "
                      "experimental at this size")
    from vibeimg.jobs.edits import build_edit_request, describe_parts

    request = build_edit_request(
        text, image, mask, image_options, convert_mask=convert_mask, resize_mask=resize_mask,
        stdin=sys.stdin.buffer if stdin_users else None, notify=reporter.info,
        warn=reporter.warn, ascii_names=ascii_names,
    )
    if dry_run:
        from vibeimg.records.pricing import price_of

        price = price_of(image_options.size, image_options.quality).times(count)
        print_json(dry_run_document(
            connection, "POST", request.endpoint, describe_parts(request), count=count,
            **price.fields(),
            inputs=request.record["inputs"], mask=request.record["mask"],
        ))
        return
    plan = plan_output(output, out_dir, count=count, force=force, json_output=json_output,
                       sidecar=not no_sidecar)
    run_image_requests(
        connection, reporter, request, command="edit", count=count,
        concurrency=concurrency, plan=plan, sidecar=not no_sidecar, json_output=json_output,
        history=history, preview=preview,
    )
