"""``vibeimg generate``: text to image (POST /images/generations)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from vibeimg.choices import DEFAULT_MODEL
from vibeimg.cli import options as opt

Prompt = Annotated[Optional[str], typer.Argument(
    metavar="PROMPT", help="What to draw; '-' reads it from stdin.", show_default=False)]


def generate(
    prompt: Prompt = None,
    prompt_file: opt.PromptFile = None,
    model: opt.Model = DEFAULT_MODEL,
    size: opt.SizeOpt = "auto",
    quality: opt.Quality = "auto",
    output_format: opt.Format = "png",
    compression: opt.Compression = None,
    moderation: opt.Moderation = "auto",
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
    """Generate images from a text prompt.

    Prints the saved paths, one per line; a NAME.json sidecar beside each image keeps the prompt, parameters, usage and estimated cost.

    Examples:

      vibeimg generate "a watercolor fox" --size landscape --quality low

      echo "a red circle" | vibeimg generate - -n 3 --out-dir shots

      vibeimg generate "a logo" -o - --format webp > logo.webp

      vibeimg generate "an otter" --offline
    """
    from vibeimg.cli.common import Connection, dry_run_document, read_prompt
    from vibeimg.cli.stdout import print_json
    from vibeimg.params import ImageOptions

    connection = Connection(
        offline=offline, base_url=base_url, api_key=api_key, timeout=timeout,
        retries=retries, retry_unknown=retry_unknown, verbose=verbose, quiet=quiet)
    reporter = connection.reporter()
    text = read_prompt(prompt, prompt_file)
    image_options = ImageOptions.build(
        model=model, size=size, quality=quality, output_format=output_format,
        compression=compression, moderation=moderation, response_format=response_format,
    )
    if image_options.size is not None and image_options.size.experimental:
        reporter.warn(f"{image_options.size} is above 2560x1440: the gateway's output is "
                      "experimental at this size")
    body = image_options.generation_body(text)
    if dry_run:
        from vibeimg.records.pricing import price_of

        price = price_of(image_options.size, image_options.quality).times(count)
        print_json(dry_run_document(
            connection, "POST", "images/generations", body, count=count, **price.fields(),
        ))
        return
    from vibeimg.cli.imagerun import plan_output, run_image_requests
    from vibeimg.files.naming import slugify
    from vibeimg.jobs.image_requests import ImageRequest

    plan = plan_output(output, out_dir, count=count, force=force, json_output=json_output,
                       sidecar=not no_sidecar)
    request = ImageRequest(
        endpoint="images/generations", prompt=text, options=image_options, json_body=body,
        record={"slug": slugify(text, ascii_only=ascii_names)},
    )
    run_image_requests(
        connection, reporter, request, command="generate", count=count,
        concurrency=concurrency, plan=plan, sidecar=not no_sidecar, json_output=json_output,
        history=history, preview=preview,
    )
