"""``vibeimg mock-server``: the local gateway emulator in the foreground."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from vibeimg.cli.options import finite_number
from vibeimg.errors import UsageError

MAX_SECONDS = 3600  # a latency or Retry-After longer than an hour rehearses nothing


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to an address the network can reach
        return False


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """What to say when the emulator listens beyond loopback (None when it does not)."""
    if is_loopback(host):
        return None
    accepts = ("the key given with --api-key" if api_key is not None
               else "any API key (there is no real key to check)")
    return (f"the emulator listens on {host}: it accepts {accepts} from anyone who can "
            "reach this machine over the network; use the default 127.0.0.1 to keep it local")


def mock_server(
    host: Annotated[str, typer.Option(
        metavar="ADDRESS", help="Address to listen on (loopback by default; any other address warns).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(
        metavar="PORT", help="Port; 0 picks a free one.", min=0, max=65535)] = 0,
    latency: Annotated[float, typer.Option(
        metavar="SECONDS", min=0, max=MAX_SECONDS, callback=finite_number,
        help="Time each answer takes from the request's arrival (keepalives in streams), "
        f"at most {MAX_SECONDS}.")]
    = 0.0,
    fault: Annotated[Optional[list[str]], typer.Option(
        metavar="KIND[xN]", show_default=False,
        help="Fault for the next request(s), in order: 429, 500, 502, 503, 504, 400, 401, "
        "drop, bad-json, bad-base64, not-image, no-metadata, stream-cut, stream-error, "
        "stream-failed, stream-incomplete, no-result. '429x3' means three times. Repeatable.")] = None,
    retry_after: Annotated[float, typer.Option(
        metavar="SECONDS", min=0, max=MAX_SECONDS, callback=finite_number,
        help=f"Retry-After sent with injected 429s, at most {MAX_SECONDS}.")] = 1.0,
    api_key: Annotated[Optional[str], typer.Option(
        metavar="KEY", show_default=False,
        help="Require this bearer key (default: any non-empty key).")] = None,
    image_file: Annotated[Optional[Path], typer.Option(
        metavar="FILE", exists=True, dir_okay=False, show_default=False,
        help="Serve this image for every request instead of drawing one.")] = None,
    log: Annotated[Optional[Path], typer.Option(
        "--log", metavar="FILE", dir_okay=False, show_default=False,
        help="Append one JSON line per request received (time, method, path, request id, status, fault, prompt, model, size, quality, input images, bytes), flushed as each is answered.")] = None,
) -> None:
    """Run the local gateway emulator until Ctrl-C.

    Prints its base URL on stdout: point vibeimg (--base-url or VIBEIMG_BASE_URL) or the
    openai SDK (base_url=...) at it. Any non-empty key is accepted unless --api-key. Every
    answer carries the header x-vibeimg-emulator: VERSION.

    Example:

      vibeimg mock-server --fault 429 --log log.jsonl > url.txt &

      until [ -s url.txt ]; do sleep 0.1; done

      VIBEIMG_BASE_URL=$(cat url.txt) VIBEIMG_API_KEY=any vibeimg generate "a fox"
    """
    from vibeimg.emulator import Emulator, EmulatorConfig
    from vibeimg.emulator.faults import parse_fault_spec

    for spec in fault or []:
        try:
            parse_fault_spec(spec)
        except ValueError as exc:
            raise UsageError(str(exc), param="fault") from exc
    config = EmulatorConfig(
        latency=latency, api_key=api_key, faults=list(fault or []), retry_after=retry_after,
        image_file=image_file, log_file=log, keep_requests=False,
    )
    try:
        emulator = Emulator(config, host=host, port=port)
    except OSError as exc:
        if log is not None and exc.filename is not None:
            raise UsageError(f"cannot write the request log {log}: {exc.strerror}",
                             hint="check the folder exists and is writable") from exc
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}",
                         hint="choose another --port, or 0 for a free one") from exc
    warning = exposure_warning(host, api_key)
    if warning is not None:
        from vibeimg.ui import Reporter

        Reporter().warn(warning)
    sys.stdout.write(emulator.base_url + "\n")
    sys.stdout.flush()
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
