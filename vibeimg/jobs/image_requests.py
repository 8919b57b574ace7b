"""Image endpoints end to end: send, stream-decode to a temporary file, name, save.

Shared by ``generate`` and ``edit`` (and batches): one request makes one image (the
gateway ignores ``n``), so several images are several concurrent requests
(:mod:`vibeimg.jobs.image_runs`), each saved as soon as it arrives.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import httpx

from vibeimg.errors import (
    BadResponseError,
    GatewayError,
    NetworkError,
    NotSent,
    VibeimgError,
    WriteError,
    save_error,
)
from vibeimg.files.atomic import AtomicFile
from vibeimg.files.formats import pixel_size, sniff_format
from vibeimg.files.naming import NamePlan
from vibeimg.files.sidecars import commit_image
from vibeimg.jobs.image_outcome import SavedImage
from vibeimg.params import ImageOptions
from vibeimg.records.pricing import Price, parse_size_text, price_of
from vibeimg.version import __version__
from vibeimg.wire.client import GatewayClient
from vibeimg.wire.imagejson import ImageJsonDecoder
from vibeimg.wire.parts import Files
from vibeimg.wire.response import GatewayResponse
from vibeimg.wire.retry import RETRY_STATUSES, Attempts, unknown_outcome_hint


@dataclass(frozen=True)
class ImageRequest:
    """One request to an image endpoint, sent once per wanted image."""

    endpoint: str  # "images/generations" or "images/edits"
    prompt: str
    options: ImageOptions
    json_body: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    files: Files | None = None  # bytes, or files streamed when sent
    record: dict[str, Any] = field(default_factory=dict)  # extra sidecar fields

    def sidecar_parameters(self) -> dict[str, Any]:
        fields = dict(self.json_body or self.form or {})
        fields.pop("prompt", None)
        return fields


Sink = Callable[[bytes], object]
HEADER_BYTES = 1 << 20  # where a JPEG's size must be found, past EXIF and ICC profiles
OnSaved = Callable[[SavedImage], None]


def _receive(response: GatewayResponse, sink: Sink) -> ImageJsonDecoder:
    decoder = ImageJsonDecoder(sink)
    try:
        for chunk in response.iter_bytes():
            decoder.feed(chunk)
        decoder.close()
    except BadResponseError as exc:
        exc.request_id = response.request_id
        raise
    return decoder


def _download_link(link: str, sink: Sink, timeout: float) -> None:
    """Fetch an image the gateway answered as an http(s) link (never sends the key)."""
    try:
        with httpx.stream("GET", link, timeout=timeout, follow_redirects=True) as answer:
            answer.raise_for_status()
            for chunk in answer.iter_bytes():
                sink(chunk)
    except httpx.HTTPError as exc:
        raise NetworkError(f"cannot download the image from its link ({exc})") from exc


@dataclass
class _Answer:
    """One attempt's answer, read to the end: its decoded JSON and where the image went."""

    decoder: ImageJsonDecoder
    tmp: AtomicFile | None
    buffer: bytearray
    request_id: str | None
    offline: bool


def fetch_image(
    client: GatewayClient,
    request: ImageRequest,
    *,
    index: int,
    plan: NamePlan | None,
    sidecar: bool = True,
    stdout: IO[bytes] | None = None,
    digest: bool = False,
    attempts: Attempts | None = None,
) -> SavedImage:
    """Make one image and save it (to ``plan``'s folder, or whole to ``stdout``); with
    ``digest``, its SHA-256 taken as it is written (``SavedImage.sha256``).

    Every attempt of unknown outcome (``--retry-unknown`` resends those, an answer cut
    off half-way included) may have been billed: the image's ``possible_cost_usd``, or
    the error's, counts each at the request's price. ``attempts``, when given, is
    filled in as the request goes (a caller that abandons it on a second Ctrl-C still
    knows what its earlier sends may have cost, and whether an answer was billed).
    """
    started = time.monotonic()
    attempts = attempts if attempts is not None else Attempts()
    billed = Price(0.0)  # the estimated price, once the gateway has answered with an image
    answer: _Answer | None = None
    request_id: str | None = None

    def receive(response: GatewayResponse) -> _Answer:
        """Read one answer afresh (a resent request's answer starts over)."""
        nonlocal billed, request_id
        request_id = response.request_id
        tmp = AtomicFile(plan.directory, digest=digest) if plan is not None else None
        buffer = bytearray()
        # A success answer: the image is made and billed, whatever happens to it here.
        billed = price_of(request.options.size, request.options.quality)
        attempts.answered = True
        try:
            decoder = _receive(response, tmp.write if tmp is not None else buffer.extend)
        except BaseException as exc:
            if tmp is not None:
                tmp.discard()
            if isinstance(exc, VibeimgError) and exc.outcome_unknown:
                billed = Price(0.0)  # cut off: counted among the attempts of unknown outcome
                attempts.answered = False
            raise
        return _Answer(decoder, tmp, buffer, request_id, client.emulated or response.offline)

    try:
        answer = client.fetch("POST", request.endpoint, receive, json_body=request.json_body,
                              data=request.form, files=request.files, attempts=attempts)
        tmp, buffer, decoder = answer.tmp, answer.buffer, answer.decoder
        if decoder.link:
            _download_link(decoder.link, tmp.write if tmp is not None else buffer.extend,
                           client.settings.timeout)
        saved, billed, meta, fields = _described(
            request, answer, index=index, elapsed=time.monotonic() - started,
            unknown=_unknown_attempts(request, attempts), unknown_attempts=attempts.unknown)
        if tmp is not None and plan is not None:
            saved.bytes, saved.sha256 = tmp.size, tmp.sha256

            def record(path: Path, fmt: str) -> dict[str, Any]:
                saved.path, saved.format = path, fmt
                return _sidecar_record(request, saved, meta)

            try:
                saved.path, saved.format, saved.sidecar = commit_image(
                    tmp, plan, fields, sidecar=record if sidecar else None,
                    passed_over=saved.passed_over)
                saved.mtime_ns, saved.sidecar_facts = tmp.mtime_ns, tmp.sidecar_facts
            except (BadResponseError, WriteError) as exc:
                exc.request_id = exc.request_id or request_id
                raise
        else:
            assert stdout is not None
            saved.format = _write_whole(buffer, stdout, request_id)
            saved.bytes = len(buffer)
    except BaseException as exc:
        if answer is not None and answer.tmp is not None:
            answer.tmp.discard()
        error = _failure(exc, request, request_id, billed, attempts)
        if error is not exc:
            raise error from exc
        raise
    return saved


def _described(request: ImageRequest, answer: _Answer, *, index: int, elapsed: float,
               unknown: Price, unknown_attempts: int
               ) -> tuple[SavedImage, Price, dict[str, Any], dict[str, str | int]]:
    """The image an answer holds (not saved yet), its price, the answer's JSON, and
    the fields its name is made from."""
    meta = answer.decoder.metadata
    reported = meta.get("size") if isinstance(meta.get("size"), str) else None
    actual = _actual_size(answer.tmp, answer.buffer)
    size_text = actual or reported
    quality = meta.get("quality") if isinstance(meta.get("quality"), str) else None
    # The price follows the size the gateway says it made (and billed), else the image's.
    size = parse_size_text(reported) or parse_size_text(actual) or request.options.size
    billed = price_of(size, quality or request.options.quality)
    usage, revised = _usage_and_revised(meta)
    fields: dict[str, str | int] = {
        "slug": request.record.get("slug", ""),
        "n": index,
        "model": request.options.model,
        "quality": quality or request.options.quality,
        "size": size_text or request.options.size_text,
    }
    saved = SavedImage(
        index=index, path=None, sidecar=None, format="", bytes=0, size=size_text,
        quality=quality, request_id=answer.request_id, elapsed=elapsed,
        estimated_cost_usd=billed.usd, usage=usage, revised_prompt=revised,
        size_reported=reported if actual and reported and reported != actual else None,
        cost_extrapolated=billed.extrapolated or unknown.extrapolated,
        offline=answer.offline, possible_cost_usd=unknown.usd,
        unknown_attempts=unknown_attempts,
    )
    return saved, billed, meta, fields


def _unknown_attempts(request: ImageRequest, attempts: Attempts) -> Price:
    """What the attempts of unknown outcome may have cost: the request's price each."""
    if not attempts.unknown:
        return Price(0.0)
    return price_of(request.options.size, request.options.quality).times(attempts.unknown)


def _usage_and_revised(meta: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The answer's ``usage`` and ``data[0].revised_prompt``, when they are there."""
    usage = meta.get("usage")
    data = meta.get("data")
    first = data[0] if isinstance(data, list) and data else None
    revised = first.get("revised_prompt") if isinstance(first, dict) else None
    return (usage if isinstance(usage, dict) else None,
            revised if isinstance(revised, str) else None)


def _failure(exc: BaseException, request: ImageRequest, request_id: str | None,
             billed: Price, attempts: Attempts) -> BaseException:
    """The error one image ends with, with what it may have cost: every attempt of
    unknown outcome, and the answer billed but unusable when that is how it ended."""
    possible = _unknown_attempts(request, attempts)
    if billed.usd:
        possible = Price(round(possible.usd + billed.usd, 6),
                         possible.extrapolated or billed.extrapolated)
    if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
        # Disk full, folder gone, a name the filesystem refuses: this image's failure.
        # (A closed stdout pipe goes on up: the command stops quietly.)
        error = save_error(exc)
        error.request_id = request_id
        error.possible_cost_usd, error.cost_extrapolated = possible.usd, possible.extrapolated
        return error
    if isinstance(exc, VibeimgError) and not isinstance(exc, NotSent) and possible.usd:
        # Billed but unusable (a success answer that was cut, bad base64, not an
        # image), or sent with no answer to say: each may have cost the price.
        exc.possible_cost_usd, exc.cost_extrapolated = possible.usd, possible.extrapolated
        if attempts.unknown and not exc.outcome_unknown:
            return _still_unknown(exc, attempts)
    return exc


def _still_unknown(error: VibeimgError, attempts: Attempts) -> VibeimgError:
    """A request resent under --retry-unknown, then refused or unusable: what its earlier
    sends became is still unknown, so its outcome is too (a batch rerun leaves it out
    unless --retry-unknown). Refused as busy with no retry left, it ends with the error
    of its last unknown send (a batch would otherwise queue it again as merely busy)."""
    last = attempts.last_unknown
    if isinstance(error, GatewayError) and error.status in RETRY_STATUSES and last:
        last.hint = (f"{unknown_outcome_hint(attempts.retries, attempts.unknown)}; the "
                     f"last refused as busy (HTTP {error.status}) with no retry left")
        last.possible_cost_usd, last.cost_extrapolated = (error.possible_cost_usd,
                                                          error.cost_extrapolated)
        return last
    error.outcome_unknown = True
    earlier = ("an earlier attempt" if attempts.unknown == 1
               else f"{attempts.unknown} earlier attempts")
    error.hint = ((error.hint + "; ") if error.hint else "") + (
        f"{earlier} had an unknown outcome: the gateway may have made and billed it")
    return error


def _write_whole(buffer: bytearray, stdout: IO[bytes], request_id: str | None) -> str:
    """``-o -``: the whole image to stdout, once it is known to be one; its format."""
    fmt = sniff_format(bytes(buffer[:16]))
    if not fmt:
        raise BadResponseError(f"the gateway sent {len(buffer)} bytes that are not an image",
                               request_id=request_id)
    stdout.write(buffer)
    stdout.flush()
    return fmt


def _actual_size(tmp: AtomicFile | None, buffer: bytearray) -> str | None:
    """The received image's WxH, from the header of the temporary file (or the buffer)."""
    if tmp is not None:
        return tmp.pixel_size()
    fmt = sniff_format(bytes(buffer[:16]))
    header = bytes(buffer[:HEADER_BYTES])  # not a copy of a 25 MB image
    return pixel_size(io.BytesIO(header), fmt) if fmt else None


def _sidecar_record(
    request: ImageRequest, saved: SavedImage, meta: dict[str, Any]
) -> dict[str, Any]:
    created = meta.get("created")
    record: dict[str, Any] = {
        "file": saved.path.name if saved.path else None,
        "prompt": request.prompt,
        "revised_prompt": saved.revised_prompt,
        "model": request.options.model,
        "endpoint": request.endpoint,
        "parameters": request.sidecar_parameters(),
        "format": saved.format,
        **saved.sizes(),
        "quality": saved.quality,
        "bytes": saved.bytes,
        "usage": saved.usage,
        "request_id": saved.request_id,
        "created": created if isinstance(created, int) else None,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "elapsed_seconds": round(saved.elapsed, 3),
        "estimated_cost_usd": saved.estimated_cost_usd,
        # Earlier attempts of unknown outcome, resent with --retry-unknown: maybe billed.
        "possible_cost_usd": saved.possible_cost_usd,
        "cost_extrapolated": saved.cost_extrapolated,
        "offline": saved.offline,
        "vibeimg_version": __version__,
    }
    record.update({k: v for k, v in request.record.items() if k != "slug"})
    return record
