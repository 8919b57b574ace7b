"""What a request is made of besides its JSON: multipart file parts streamed from disk,
and the client's own request id (``X-Client-Request-Id``)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any, BinaryIO, Protocol

_request_ids = itertools.count()


_id_prefix = os.urandom(8).hex()


def _new_prefix() -> None:
    global _id_prefix  # noqa: PLW0603 - a forked child numbers its requests apart
    _id_prefix = os.urandom(8).hex()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_prefix)


def client_request_id() -> str:
    """A request's own id (32 hex digits, as a UUID's): random per process, numbered
    within it, so that a batch does not ask the system for randomness per request."""
    return f"{_id_prefix}{next(_request_ids):016x}"


class Upload(Protocol):
    """A file part streamed from where it lives (a file on disk), not held in memory."""

    def upload(self) -> BinaryIO:
        """A new reader from the start; its failure is raised as a VibeimgError."""
        ...


#: Multipart file parts: (field, (file name, bytes or an Upload, media type)).
Files = Sequence[tuple[str, tuple[str, "bytes | Upload", str]]]


def opened_parts(files: Files | None, readers: ExitStack) -> list[Any] | None:
    """The parts as httpx takes them, each Upload opened (and closed with ``readers``):
    httpx reads an open file in chunks, so a big input is never held whole."""
    if files is None:
        return None
    parts: list[Any] = []
    for field, (name, content, media_type) in files:
        body = content if isinstance(content, bytes) else readers.enter_context(content.upload())
        parts.append((field, (name, body, media_type)))
    return parts
