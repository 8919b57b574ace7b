"""``vibeimg.Client``: generate, edit and chat-stream from Python, as the commands do.

Each method checks its arguments as the gateway would (raising
:class:`vibeimg.UsageError` before anything is sent), sends through the same jobs as
the command line, saves each image atomically with its sidecar, and returns the
:class:`~vibeimg.api.results.Images` it saved. A run that saved none raises the error
that stopped it; one that saved some returns them, with ``missing`` for the rest.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from vibeimg.api.connect import connection_settings, open_gateway
from vibeimg.api.results import Image, Images, Missing
from vibeimg.errors import Interrupted, MissingKeyError, VibeimgError
from vibeimg.params import DEFAULT_MODEL, ImageOptions, check_prompt

if TYPE_CHECKING:
    from types import TracebackType

    from vibeimg.files.naming import NamePlan
    from vibeimg.jobs.chat.request import ChatStreamRequest
    from vibeimg.jobs.chat.result import ChatStreamResult
    from vibeimg.jobs.chat.session import TurnSettings
    from vibeimg.jobs.image_outcome import Outcome
    from vibeimg.jobs.image_requests import ImageRequest
    from vibeimg.records.inprogress import RunInProgress
    from vibeimg.records.pricing import Price
    from vibeimg.records.runs import Entry
    from vibeimg.settings.resolve import Settings
    from vibeimg.wire.client import GatewayClient

PathLike = str | os.PathLike[str]

#: How to give a key from Python (the command line's own fix names its flags).
PYTHON_KEY_FIX = ("set VIBEIMG_API_KEY, run 'vibeimg config set api-key' or pass "
                  "vibeimg.Client(api_key=...); or pass offline=True to use the built-in "
                  "emulator with no key and no cost")


class Client:
    """A connection to the gateway (or, with ``offline=True``, to the built-in emulator).

    Settings not given here come from where the command line reads them: ``VIBEIMG_*``
    environment variables, the config file, then ``OPENAI_API_KEY``/``OPENAI_BASE_URL``.
    Use it as a context manager, or call :meth:`close`. ``out_dir`` is where images go
    unless a call names another folder; ``history=True`` records each run in the
    history that ``vibeimg history`` shows. Files are named after the prompt in its own
    script (``一只水彩风格的水獭.png``), or in ASCII with ``ascii_names=True``.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        offline: bool = False,
        timeout: float | None = None,
        retries: int | None = None,
        retry_unknown: bool = False,
        out_dir: PathLike | None = None,
        history: bool = False,
        ascii_names: bool = False,
    ) -> None:
        self.settings: Settings = connection_settings(
            offline=offline, api_key=api_key, base_url=base_url, timeout=timeout,
            retries=retries, retry_unknown=retry_unknown,
        )
        self.offline = offline
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.history = history
        self.ascii_names = ascii_names
        self._stack: ExitStack | None = None
        self._gateway: GatewayClient | None = None

    def __repr__(self) -> str:  # the settings' own repr masks the key
        return f"Client(settings={self.settings!r}, offline={self.offline})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (and stop the emulator, offline)."""
        if self._stack is not None:
            self._stack.close()
        self._stack = self._gateway = None

    def _connection(self) -> GatewayClient:
        """The open GatewayClient, opened on first use (started emulator included)."""
        if self._gateway is None:
            stack = ExitStack()
            try:
                self._gateway = stack.enter_context(
                    open_gateway(self.settings, offline=self.offline))
            except MissingKeyError as error:  # the fix in Python's words, not the flags'
                raise MissingKeyError(error.message, hint=PYTHON_KEY_FIX) from None
            self._stack = stack
        return self._gateway

    # -- the operations ------------------------------------------------------------------
    def generate(
        self,
        prompt: str,
        *,
        n: int = 1,
        size: str = "auto",
        quality: str = "auto",
        output_format: str = "png",
        compression: int | None = None,
        moderation: str = "auto",
        model: str = DEFAULT_MODEL,
        out_dir: PathLike | None = None,
        output: str | None = None,
        force: bool = False,
        sidecar: bool = True,
        concurrency: int = 4,
    ) -> Images:
        """Make ``n`` images of ``prompt`` (``POST /images/generations``, one request each).

        ``size`` is ``auto``, ``WIDTHxHEIGHT`` or an alias such as ``landscape``;
        ``output`` a file name or template such as ``{slug}-{n}.{ext}``.
        """
        from vibeimg.files.naming import slugify
        from vibeimg.jobs.image_requests import ImageRequest

        text = check_prompt(prompt.strip())
        options = ImageOptions.build(model=model, size=size, quality=quality,
                                     output_format=output_format, compression=compression,
                                     moderation=moderation)
        plan = self._plan(output, out_dir, count=n, force=force, sidecar=sidecar)
        request = ImageRequest(endpoint="images/generations", prompt=text, options=options,
                               json_body=options.generation_body(text),
                               record={"slug": slugify(text, ascii_only=self.ascii_names)})
        return self._fetch(request, "generate", n, plan, sidecar=sidecar,
                           concurrency=concurrency)

    def edit(
        self,
        prompt: str,
        *,
        images: Sequence[PathLike],
        mask: PathLike | None = None,
        convert_mask: bool = False,
        resize_mask: bool = False,
        n: int = 1,
        size: str = "auto",
        quality: str = "auto",
        output_format: str = "png",
        compression: int | None = None,
        moderation: str = "auto",
        model: str = DEFAULT_MODEL,
        out_dir: PathLike | None = None,
        output: str | None = None,
        force: bool = False,
        sidecar: bool = True,
        concurrency: int = 4,
    ) -> Images:
        """Edit ``images`` (1 to 16; the mask applies to the first) as ``prompt`` says
        (``POST /images/edits``). ``convert_mask`` turns a black-and-white mask into an
        alpha mask first; ``resize_mask`` fits it to the first image."""
        from vibeimg.jobs.edits import build_edit_request

        options = ImageOptions.build(model=model, size=size, quality=quality,
                                     output_format=output_format, compression=compression,
                                     moderation=moderation)
        request = build_edit_request(
            prompt, [os.fspath(i) for i in images],
            os.fspath(mask) if mask is not None else None, options,
            convert_mask=convert_mask, resize_mask=resize_mask,
            warn=lambda message: warnings.warn(message, stacklevel=3),
            ascii_names=self.ascii_names,
        )
        plan = self._plan(output, out_dir, count=n, force=force, sidecar=sidecar)
        return self._fetch(request, "edit", n, plan, sidecar=sidecar, concurrency=concurrency)

    def chat_stream(
        self,
        prompt: str,
        *,
        images: Sequence[PathLike] = (),
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        output_format: str | None = None,
        compression: int | None = None,
        moderation: str | None = None,
        action: str = "auto",
        text_model: str | None = None,
        instructions: str | None = None,
        out_dir: PathLike | None = None,
        output: str | None = None,
        force: bool = False,
        sidecar: bool = True,
        session: str | None = None,
        context: str | int | None = None,
    ) -> Images:
        """Ask the text model, which calls the image tool (``POST /responses``, streamed).

        A prompt such as "Generate 3 images: 1) ... 2) ... 3) ..." makes one image per
        item, each named after its item; ``n`` asks for a count in vibeimg's own words.
        Each image carries the model's ``revised_prompt``. ``size``, ``quality``,
        ``output_format`` and ``moderation`` default to ``auto``, ``auto``, ``png``, ``auto``.

        With ``session="coast"`` the call is a turn of that conversation (created by its
        first turn; see :class:`vibeimg.Session`): the earlier turns are resent with the
        images ``context`` chooses (``"last"``, the default; ``"all"``; or a number of the
        most recent images), options not given are the last turn's, and the images are
        named ``coast-TURN-N``.
        """
        from vibeimg.jobs.chat import DEFAULT_INSTRUCTIONS, DEFAULT_TEXT_MODEL
        from vibeimg.jobs.chat.run import run_chat_stream
        from vibeimg.jobs.chat.session import TurnSettings, plan_turn

        chosen = {"size": size, "quality": quality, "output_format": output_format,
                  "compression": compression, "moderation": moderation,
                  "model": text_model, "instructions": instructions}
        settings = TurnSettings(
            size=size or "auto", quality=quality or "auto", output_format=output_format or "png",
            compression=compression, moderation=moderation or "auto", action=action,
            model=text_model or DEFAULT_TEXT_MODEL,
            instructions=DEFAULT_INSTRUCTIONS if instructions is None else instructions,
            count=n,
        )
        paths = [Path(i) for i in images]
        turn = None
        if session is not None:
            from vibeimg.records import sessions

            transcript = sessions.load(session, create=True)
            given = [name for name, value in chosen.items() if value is not None]
            turn = plan_turn(transcript, prompt, settings.inherit(transcript, given),
                             context=None if context is None else str(context), images=paths)
            request = turn.request
        else:
            request = _plain_request(prompt, settings, paths)
        plan: NamePlan = self._plan(output or (turn.name_template if turn else None), out_dir,
                                    count=request.expected_images, force=force,
                                    sidecar=sidecar)
        from vibeimg.jobs.entries import chat_run_entry
        from vibeimg.records.pricing import price_of

        gateway = self._connection()
        run = self._in_progress(chat_run_entry(request=request, offline=gateway.offline),
                                price_of(request.options.size, request.options.quality
                                         ).times(request.expected_images), gateway)
        with run if run is not None else nullcontext():
            try:
                result = run_chat_stream(gateway, request, plan=plan, sidecar=sidecar,
                                         ascii_names=self.ascii_names,
                                         before_send=run.before_send if run else None)
            except VibeimgError as error:  # before any stream: recorded, with its cost
                if run is not None:
                    run.finish(chat_run_entry(request=request, error=error,
                                              offline=gateway.offline))
                raise
            if run is not None:
                run.finish(chat_run_entry(request=request, offline=result.offline,
                                          result=result))
        if turn is not None:
            from vibeimg.jobs.chat.session import record_turn

            record_turn(turn, result, offline=result.offline)
        return _stream_images(result)

    # -- shared steps --------------------------------------------------------------------
    def _plan(self, output: str | None, out_dir: PathLike | None, *, count: int,
              force: bool, sidecar: bool = True) -> NamePlan:
        from vibeimg.errors import UsageError
        from vibeimg.files.naming import NamePlan
        from vibeimg.files.writable import ensure_output_dir

        if count < 1:
            raise UsageError(f"n must be at least 1, not {count}")
        if output == "-":
            raise UsageError("the Python API saves files; output '-' (stdout) is for the "
                             "command line", hint="name a file or leave output out")
        folder = Path(out_dir) if out_dir is not None else self.out_dir
        plan = NamePlan.build(output, folder, count=count, force=force, sidecar=sidecar)
        ensure_output_dir(plan.directory)
        return plan

    def _fetch(self, request: ImageRequest, command: str, count: int, plan: NamePlan, *,
               sidecar: bool, concurrency: int) -> Images:
        from vibeimg.jobs.entries import image_run_entry
        from vibeimg.jobs.image_runs import fetch_many
        from vibeimg.records.pricing import price_of

        gateway = self._connection()
        # offline too when the base URL answered as vibeimg's emulator
        run = self._in_progress(image_run_entry(
            command=command, request=request, offline=gateway.offline, count=count),
            price_of(request.options.size, request.options.quality), gateway)
        with run if run is not None else nullcontext():
            outcome = fetch_many(gateway, request, count=count, concurrency=concurrency,
                                 plan=plan, sidecar=sidecar,
                                 before_send=run.before_send if run is not None else None)
            if outcome.interrupted:
                # Ctrl-C cancelled this connection for good (its abandoned requests must
                # never be retried): the next operation opens a new one.
                self.close()
            error = outcome.final_error(count)
            if run is not None:
                run.finish(image_run_entry(command=command, request=request,
                                           offline=gateway.offline, count=count,
                                           outcome=outcome, error=error))
        return _saved_images(outcome, count, error, offline=gateway.offline)

    def _in_progress(self, entry: Entry, cost_per_send: Price, gateway: GatewayClient
                     ) -> RunInProgress | None:
        """The history row of a run about to send (None without history): written
        before its first request goes out, so a killed process leaves what it spent."""
        if not self.history:
            return None
        from vibeimg.records.inprogress import RunInProgress

        return RunInProgress(entry, cost_per_send, offline=lambda: gateway.offline,
                             warn=_warn_unrecorded)


def _warn_unrecorded(message: str) -> None:
    """A history that cannot be written is a warning, never a loss."""
    warnings.warn(f"not recorded in the history: {message}", stacklevel=6)


def _plain_request(prompt: str, settings: TurnSettings, images: list[Path]
                   ) -> ChatStreamRequest:
    from vibeimg.jobs.chat.request import ChatStreamRequest

    return ChatStreamRequest.build(
        prompt, model=settings.model, instructions=settings.instructions, size=settings.size,
        quality=settings.quality, output_format=settings.output_format,
        compression=settings.compression, moderation=settings.moderation,
        action=settings.action, count=settings.count, images=images)


def _raise_unless_some_saved(saved: int, error: VibeimgError | None) -> None:
    """Nothing saved: the run's error. Interrupted: raised whatever was saved."""
    if error is not None and (not saved or isinstance(error, Interrupted)):
        raise error


def _saved_images(outcome: Outcome, count: int, error: VibeimgError | None, *,
                  offline: bool) -> Images:
    _raise_unless_some_saved(len(outcome.saved), error)
    failed = {f.index: f.error for f in outcome.failures}
    saved = {s.index for s in outcome.saved}
    abandoned = set(outcome.abandoned)
    missing = [Missing(n, "failed" if n in failed else
                       "abandoned" if n in abandoned else "not-sent", failed.get(n))
               for n in range(1, count + 1) if n not in saved]
    images = [
        Image(path=s.path, index=s.index, format=s.format, bytes=s.bytes, size=s.size,
              quality=s.quality, revised_prompt=s.revised_prompt, request_id=s.request_id,
              cost_usd=s.estimated_cost_usd, elapsed=s.elapsed, sidecar=s.sidecar,
              usage=s.usage, cost_extrapolated=s.cost_extrapolated, offline=s.offline)
        for s in outcome.saved if s.path is not None
    ]
    return Images(images, missing=missing, error=error, cost_usd=outcome.estimated_cost_usd,
                  possible_cost_usd=outcome.possible_cost_usd,
                  cost_extrapolated=outcome.cost_extrapolated, offline=offline)


def _stream_images(result: ChatStreamResult) -> Images:
    _raise_unless_some_saved(len(result.images), result.error)
    errors = {c.index: c.error for c in result.missing}
    missing = [Missing(m["index"], m["phase"], errors.get(m["index"]))
               for m in result.missing_json()]
    conversation = result.request.conversation
    images = [
        Image(path=i.path, index=i.index, format=i.format, bytes=i.bytes, size=i.size,
              quality=i.quality, revised_prompt=i.revised_prompt,
              request_id=result.request_id, cost_usd=i.estimated_cost_usd,
              elapsed=i.elapsed, sidecar=i.sidecar, usage=None,
              cost_extrapolated=i.cost_extrapolated, offline=i.offline,
              session=conversation.session if conversation else None,
              turn=conversation.turn if conversation else None)
        for i in result.images
    ]
    return Images(images, missing=missing, error=result.error,
                  cost_usd=result.estimated_cost_usd,
                  possible_cost_usd=result.possible_cost_usd,
                  cost_extrapolated=result.cost_extrapolated, offline=result.offline)
