"""What several commands share: the prompt, the connection, stdout rendering."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vibeimg.errors import UsageError
from vibeimg.params import MAX_PROMPT_CHARS, check_prompt, decode_prompt
from vibeimg.settings.resolve import Settings, mask_key, mask_url, sends_in_clear
from vibeimg.ui import Reporter, is_terminal

if TYPE_CHECKING:
    from vibeimg.wire.client import GatewayClient
    from vibeimg.wire.retry import RetryWait

#: The most a prompt's text can take in UTF-8: every character at its widest (4 bytes),
#: with room for a byte-order mark and blank lines around it. Stdin and a prompt file
#: are read no further: ``yes | vibeimg generate -`` is refused, not read until memory
#: runs out.
MAX_PROMPT_BYTES = MAX_PROMPT_CHARS * 4 + 4096
#: The most read from stdin for a batch (``vibeimg batch -``); a batch file is not held
#: to it.
MAX_STDIN_BATCH_BYTES = 256_000_000


def _prompt_too_long(where: str) -> UsageError:
    return UsageError(
        f"{where} is more than {MAX_PROMPT_BYTES:,} bytes, longer than any prompt can be "
        f"(at most {MAX_PROMPT_CHARS:,} characters)", hint="shorten the prompt")


def read_prompt(argument: str | None, prompt_file: Path | None) -> str:
    """The prompt from the argument, ``-`` (stdin) or ``--prompt-file``; stdin and the
    file are read no further than :data:`MAX_PROMPT_BYTES`."""
    if argument is not None and prompt_file is not None:
        raise UsageError("give the prompt as an argument or with --prompt-file, not both")
    if prompt_file is not None:
        from vibeimg.files.inputs import read_regular

        try:
            data = read_regular(prompt_file, what="prompt file", max_bytes=MAX_PROMPT_BYTES)
            if data is None:
                raise _prompt_too_long(f"the prompt file {prompt_file}")
        except OSError as exc:
            raise UsageError(
                f"cannot read the prompt file {prompt_file}: {exc.strerror or exc}",
                hint="check the path, or pass the prompt as an argument",
            ) from exc
        text = decode_prompt(data, f"the prompt file {prompt_file}")
    elif argument == "-":
        if is_terminal(sys.stdin):
            raise UsageError(
                "'-' reads the prompt from stdin, but stdin is a terminal",
                hint="pipe it in: echo 'a red fox' | vibeimg generate -",
            )
        data = read_stdin_bytes(MAX_PROMPT_BYTES)
        if data is None:
            raise _prompt_too_long("the prompt on stdin")
        text = decode_prompt(data)
    elif argument is None:
        raise UsageError(
            "no prompt given", hint="pass it as an argument, '-' for stdin, or --prompt-file"
        )
    else:
        text = argument
    return check_prompt(text.strip())


def read_stdin_bytes(max_bytes: int) -> bytes | None:
    """All of stdin as bytes (decoding is ours to do, and to refuse in words), or None
    when it holds more than ``max_bytes``: no more than that is read, a piece at a time,
    so an endless stdin (``yes |``) is refused instead of filling the memory."""
    stream = sys.stdin
    if stream is None:
        return b""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a text-only stand-in (an embedding program's)
        data = stream.read(max_bytes + 1).encode("utf-8", "surrogateescape")
        return data if len(data) <= max_bytes else None
    received = bytearray()
    while len(received) <= max_bytes:
        piece = buffer.read(min(1 << 20, max_bytes + 1 - len(received)))
        if not piece:
            return bytes(received)
        received += piece
    return None


@dataclass(frozen=True, kw_only=True)
class Connection:
    """The connection flags every networked command takes (by name: two booleans such as
    ``verbose`` and ``quiet`` must never be swapped unseen)."""

    offline: bool = False
    base_url: str | None = None
    api_key: str | None = None
    timeout: float | None = None
    retries: int | None = None
    retry_unknown: bool = False
    verbose: bool = False
    quiet: bool = False

    def reporter(self) -> Reporter:
        return Reporter(quiet=self.quiet, verbose=self.verbose)

    def settings(self) -> Settings:
        """Resolved settings; offline, they point at the emulator (started by ``session``)."""
        from vibeimg.api.connect import connection_settings

        return connection_settings(
            offline=self.offline, api_key=self.api_key, base_url=self.base_url,
            timeout=self.timeout, retries=self.retries, retry_unknown=self.retry_unknown,
            verbose=self.verbose,
        )


@contextmanager
def session(connection: Connection, reporter: Reporter,
            show_retry: Callable[[RetryWait], None] | None = None
            ) -> Iterator[GatewayClient]:
    """A ready GatewayClient: to the gateway, or to an in-process emulator with --offline.

    Each wait before a retry is announced once on stderr (not with --quiet), by
    ``show_retry`` when given (it receives a ``vibeimg.wire.client.RetryWait``).
    """
    from vibeimg.api.connect import open_gateway
    from vibeimg.cli.retrynotice import RetryNotices, retry_notice

    notices = RetryNotices(show_retry or (lambda retry: reporter.info(retry_notice(retry))))
    warn_if_ignored_offline(connection, reporter)
    settings = connection.settings()
    reporter.trace(settings_trace(connection, settings))
    if not connection.offline and settings.api_key:  # no key: refused before sending
        warn_if_in_clear(settings, reporter)
    with open_gateway(settings, offline=connection.offline,
                      trace=reporter.trace, on_retry=notices) as client:
        yield client


def warn_if_ignored_offline(connection: Connection, reporter: Reporter) -> None:
    """Say that --base-url does nothing with --offline, which always uses the emulator
    (a user who gave both may think the run went to their server)."""
    if connection.offline and connection.base_url:
        reporter.warn("--base-url is ignored with --offline: the requests go to the "
                      "built-in emulator; drop one of the two")


def warn_if_in_clear(settings: Settings, reporter: Reporter) -> None:
    """Say once per run when the key and prompts would cross a network unencrypted."""
    if sends_in_clear(settings.base_url):
        origin = settings.origins.get("base_url")
        reporter.warn(
            f"the base URL {mask_url(settings.base_url)}{f' ({origin})' if origin else ''} "
            "is plain http to another machine: the key and the prompts cross the network "
            "unencrypted; use https")


def settings_trace(connection: Connection, settings: Settings) -> str:
    """``--verbose``: the connection settings in force and where each came from."""
    origins = settings.origins
    if connection.offline:
        url, key = "(offline emulator)", "(not needed offline)"
    else:
        url = f"{mask_url(settings.base_url)} ({origins.get('base_url', 'default')})"
        key = f"{mask_key(settings.api_key)} ({origins.get('api_key', 'default')})"
    return (f"settings: base-url {url}, api-key {key}, timeout {settings.timeout:g} s "
            f"({origins.get('timeout', 'default')}), retries {settings.retries} "
            f"({origins.get('retries', 'default')})")


def shown_base_url(connection: Connection, settings: Settings) -> str:
    """The base URL as output shows it: no user name or password (maybe a key) in it."""
    return "(offline emulator)" if connection.offline else mask_url(settings.base_url)


def dry_run_document(
    connection: Connection, method: str, path: str, body: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """What ``--dry-run`` prints: the request as it would be sent, the key masked."""
    warn_if_ignored_offline(connection, connection.reporter())
    settings = connection.settings()
    return {
        "dry_run": True,
        "request": {
            "method": method,
            "url": f"{shown_base_url(connection, settings)}/{path}",
            "headers": {"Authorization": f"Bearer {mask_key(settings.api_key)}"},
            "body": body,
        },
        **extra,
        "offline": connection.offline,
    }
