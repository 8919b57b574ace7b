"""The HTTP core: base URL, auth, timeouts, error mapping, and sending with the retry
rule of :mod:`vibeimg.wire.retry`, which never bills twice.

A client knows which of its requests are on the wire (sent, their answer not yet
read to the end) and can be cancelled: a cancelled client sends nothing more, and a
request waiting to be retried is dropped at once (:class:`~vibeimg.errors.NotSent`),
since the gateway did no work for it. Interrupted runs cancel their client, then wait
only for the requests really on the wire.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

import httpx

from vibeimg.errors import NetworkError, VibeimgError
from vibeimg.settings.resolve import Settings, base_url_fix, check_api_key, mask_url
from vibeimg.units import human_bytes
from vibeimg.version import __version__
from vibeimg.wire.parts import Files, client_request_id, opened_parts
from vibeimg.wire.response import (
    EMULATOR_HEADER,
    GatewayResponse,
    Trace,
    error_from_response,
    unknown_outcome,
)
from vibeimg.wire.retry import (
    RETRY_STATUSES,
    UNKNOWN_OUTCOME,
    UNKNOWN_OUTCOME_STATUSES,
    Attempts,
    OnRetry,
    Retryable,
    RetryWait,
    backoff_seconds,
    retry_after_seconds,
)

T = TypeVar("T")


class GatewayClient:
    """An httpx client for the gateway, safe to share between threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        trace: Trace | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: OnRetry | None = None,
        emulated: bool = False,
    ) -> None:
        self.settings = settings
        self.emulated = emulated  # --offline: the base URL is an in-process emulator
        self.emulator_version: str | None = None  # once an answer says it is one
        self._trace = trace
        self._sleep = sleep
        # Set by an interrupt: send nothing more, drop the requests waiting to retry.
        self.cancelled = threading.Event()
        self._wire_lock = threading.Lock()
        self._on_wire: dict[int, int] = {}  # thread ident -> its requests on the wire
        self.abandoned_on_wire = 0  # requests that Ctrl-C cut off on the wire (maybe billed)
        # Told of every retry: the command line says it waits, a batch slows down.
        self.retry_listeners: list[OnRetry] = [on_retry] if on_retry is not None else []
        self._urls: dict[str, httpx.URL] = {}  # path -> the absolute URL it is sent to
        self._headers = {"User-Agent": f"vibeimg/{__version__}"}
        if settings.api_key:
            # Settings built by hand (the Python API) are held to the same rule as loaded ones.
            key = check_api_key(settings.api_key, settings.origins.get("api_key"))
            self._headers["Authorization"] = f"Bearer {key}"
        # One httpx client, and so one connection, per request in flight, taken from
        # those idle (made when none is): concurrent requests never queue on a shared
        # pool's lock, and a pool of one looks at one idle connection before a request,
        # not at every worker's.
        self._idle: deque[httpx.Client] = deque()  # append and pop need no lock
        self._clients: list[httpx.Client] = []  # every one made, closed together
        self._clients_lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None  # loaded once (20 ms), shared by all
        self._closed = False

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _checkout(self) -> httpx.Client:
        """An idle httpx client (the one used last: its connection is warm), or a new one."""
        try:
            return self._idle.pop()
        except IndexError:
            return self._new_client()

    def _checkin(self, client: httpx.Client) -> None:
        if not self._closed:
            self._idle.append(client)

    def _new_client(self) -> httpx.Client:
        settings = self.settings
        with self._clients_lock:
            # A plain-HTTP base URL (the emulator, a local proxy) never negotiates TLS and
            # redirects are not followed, so loading the CA bundle would be wasted.
            if self._tls is None and settings.base_url.startswith("https://"):
                self._tls = httpx.create_ssl_context()
            client = httpx.Client(
                base_url=settings.base_url + "/",
                headers=self._headers,
                timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
                follow_redirects=False,
                verify=self._tls if self._tls is not None else False,
            )
            self._clients.append(client)
        return client

    def close(self) -> None:
        with self._clients_lock:
            self._closed = True
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def trace(self, line: str) -> None:
        if self._trace is not None:
            self._trace(line)

    @property
    def offline(self) -> bool:
        """Whether this client talks to vibeimg's emulator (``--offline``, or a base URL
        whose answers carry the emulator's header): what it makes is never billed."""
        return self.emulated or self.emulator_version is not None

    def cancel(self) -> None:
        """Send nothing more; a request waiting to be retried ends at once (NotSent).
        Requests on the wire go on: the gateway is making (and billing) them."""
        self.cancelled.set()

    @property
    def on_wire(self) -> int:
        """Requests sent whose answer has not been read to the end."""
        with self._wire_lock:
            return sum(self._on_wire.values())

    def threads_on_wire(self) -> frozenset[int]:
        """The threads (``threading.get_ident``) with a request on the wire."""
        with self._wire_lock:
            return frozenset(ident for ident, count in self._on_wire.items() if count)

    def _wire(self, step: int, *, interrupted: bool = False) -> None:
        ident = threading.get_ident()
        with self._wire_lock:
            self.abandoned_on_wire += interrupted
            count = self._on_wire.get(ident, 0) + step
            if count:
                self._on_wire[ident] = count
            else:
                self._on_wire.pop(ident, None)

    def _check_not_cancelled(self, attempts: Attempts) -> None:
        """Cancelled: NotSent (nothing billed), or the outcome of an earlier attempt that
        went out when one did (see :meth:`Attempts.not_sent`)."""
        if self.cancelled.is_set():
            raise attempts.not_sent()

    def url(self, path: str) -> str:
        return f"{self.settings.base_url}/{path.lstrip('/')}"

    @contextmanager
    def open(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: dict[str, str] | None = None,
        files: Files | None = None,
        headers: dict[str, str] | None = None,
        attempts: Attempts | None = None,
    ) -> Iterator[GatewayResponse]:
        """Send a request with the retry rule and yield the open successful answer.

        Error statuses are raised as GatewayError subclasses; transport failures as
        NetworkError. The answer's body is read by the caller, as a stream: a failure
        while it is read is the caller's (never resent; see :meth:`fetch`).
        ``attempts``, when given, is filled in with what the sends came to.
        """
        http = self._checkout()
        try:
            yield from self._exchange(http, method, path, json_body=json_body, data=data,
                                      files=files, headers=headers,
                                      attempts=attempts if attempts is not None else Attempts())
        finally:
            self._checkin(http)

    def fetch(
        self,
        method: str,
        path: str,
        read: Callable[[GatewayResponse], T],
        *,
        json_body: Any = None,
        data: dict[str, str] | None = None,
        files: Files | None = None,
        attempts: Attempts | None = None,
    ) -> T:
        """Send a request with the retry rule and read its answer with ``read``.

        An answer cut off while ``read`` reads it (a dropped connection, a timeout: the
        outcome is unknown) is sent again, whole, only with ``--retry-unknown`` and
        within ``--retries``: ``read`` is then called again on the new answer, so it
        must start afresh (a new temporary file). ``attempts`` counts every attempt of
        unknown outcome, each of which may have been billed.
        """
        attempts = attempts if attempts is not None else Attempts()
        while True:
            with self.open(method, path, json_body=json_body, data=data, files=files,
                           attempts=attempts) as response:
                try:
                    return read(response)
                except VibeimgError as exc:
                    if not exc.outcome_unknown:
                        raise
                    attempts.ended_unknown(exc)
                    if not (self.settings.retry_unknown and isinstance(exc, NetworkError)):
                        raise
                    cut = exc
            self._before_retry(Retryable(cut), attempts)

    def _exchange(
        self, http: httpx.Client, method: str, path: str, *, json_body: Any,
        data: dict[str, str] | None, files: Files | None, headers: dict[str, str] | None,
        attempts: Attempts,
    ) -> Iterator[GatewayResponse]:
        """:meth:`open`'s work, on one httpx client."""
        request_id = client_request_id()
        url = self._urls.get(path)
        if url is None:  # merged with the base URL once per path, not at 30 us a request
            url = self._urls[path] = http.build_request(method, path.lstrip("/")).url
        while True:
            self._check_not_cancelled(attempts)
            if attempts.before_send is not None:
                attempts.before_send(attempts)
            retry: Retryable | None = None
            with ExitStack() as readers:  # each attempt streams the files afresh
                request = http.build_request(
                    method,
                    url,
                    json=json_body,
                    data=data,
                    files=opened_parts(files, readers),
                    headers={"X-Client-Request-Id": request_id, **(headers or {})},
                )
                if self._trace is not None:  # the line costs more than no line
                    size = request.headers.get("content-length")
                    self.trace(f"-> {method} {mask_url(str(request.url))} "
                               f"({human_bytes(int(size)) if size else 'streamed'})")
                started = time.monotonic()
                self._wire(+1)
                try:
                    response = self._send_once(http, request, started)  # the body is sent
                except Retryable as refused:
                    self._wire(-1)
                    retry = refused
                    if refused.error.outcome_unknown:
                        attempts.ended_unknown(refused.error)
                except BaseException as exc:
                    self._wire(-1, interrupted=isinstance(exc, KeyboardInterrupt))
                    if isinstance(exc, VibeimgError) and exc.outcome_unknown:
                        attempts.ended_unknown(exc)
                    raise
            if retry is not None:
                self._before_retry(retry, attempts)
                continue
            interrupted = False
            try:
                yield GatewayResponse(response, response.headers.get("x-request-id"), started,
                                      self._trace, response.headers.get(EMULATOR_HEADER))
            except KeyboardInterrupt:
                interrupted = True
                raise
            finally:
                response.close()
                self._wire(-1, interrupted=interrupted)
            return

    def _before_retry(self, retry: Retryable, attempts: Attempts) -> None:
        """Announce and wait before a retry; raise the error when no retry is left."""
        if attempts.retries >= self.settings.retries:
            raise attempts.gave_up(retry.error) from retry.__cause__
        wait = retry.wait if retry.wait is not None else backoff_seconds(attempts.retries)
        attempts.retries += 1
        self.trace(
            f"   retry {attempts.retries}/{self.settings.retries} in {wait:.1f} s: "
            f"{retry.error.one_line()}"
        )
        for listener in self.retry_listeners:
            listener(RetryWait(retry.error, wait, attempts.retries, self.settings.retries))
        self._wait_to_retry(wait, attempts)

    def _wait_to_retry(self, seconds: float, attempts: Attempts) -> None:
        """Wait before a retry; a cancel (Ctrl-C) ends the wait at once: not sent again.

        The wait blocks on the cancel event itself, so it ends the moment the interrupt
        sets it, whichever thread waits. A test may stand in its own ``sleep``.
        """
        if self._sleep is time.sleep:
            if self.cancelled.wait(seconds):
                self._check_not_cancelled(attempts)
            return
        self._sleep(seconds)
        self._check_not_cancelled(attempts)

    def _send_once(self, http: httpx.Client, request: httpx.Request,
                   started: float) -> httpx.Response:
        """One attempt: the open successful response, or an error to raise or retry."""
        try:
            response = http.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the gateway: safe to try again.
            raise Retryable(NetworkError(
                f"cannot connect to {mask_url(self.settings.base_url)} "
                f"({type(exc).__name__}: {exc})",
                hint=base_url_fix(self.settings.origins.get("base_url")),
            )) from exc
        except httpx.TransportError as exc:
            # The request may have reached the gateway: the outcome is unknown.
            if isinstance(exc, httpx.TimeoutException):
                error = unknown_outcome(NetworkError(
                    f"no answer within {self.settings.timeout:g} s",
                    hint=f"{UNKNOWN_OUTCOME}; raise --timeout for slow prompts",
                ))
            else:
                error = unknown_outcome(NetworkError(
                    f"the connection failed after the request was sent ({type(exc).__name__})",
                    hint=UNKNOWN_OUTCOME,
                ))
            if self.settings.retry_unknown:
                raise Retryable(error) from exc
            raise error from exc
        emulator = response.headers.get(EMULATOR_HEADER)
        if emulator is not None:
            self.emulator_version = emulator
        if self._trace is not None:  # the line costs more than no line
            request_id = response.headers.get("x-request-id")
            length = response.headers.get("content-length")
            kind = response.headers.get("content-type", "").split(";")[0] or "no content type"
            self.trace(
                f"<- {response.status_code} after {time.monotonic() - started:.2f} s, {kind}, "
                f"{human_bytes(int(length)) if length and length.isdigit() else 'streamed'}"
                f" [request id {request_id or '-'}]"
            )
        if response.is_success:
            return response
        try:
            body = response.read()
        except httpx.HTTPError:
            body = b""
        finally:
            response.close()
        gateway_error = error_from_response(response, body, self.settings.origins.get("api_key"))
        status = response.status_code
        if status in RETRY_STATUSES:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            raise Retryable(gateway_error, wait)
        if status in UNKNOWN_OUTCOME_STATUSES and self.settings.retry_unknown:
            raise Retryable(gateway_error)
        raise gateway_error
