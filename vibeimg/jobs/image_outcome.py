"""What image requests come to: each image saved, each failure, and how a run of
several ended (its cost, what may have been billed, its final error)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vibeimg.errors import Interrupted, PartialFailure, VibeimgError
from vibeimg.records.pricing import Price
from vibeimg.units import count_of


@dataclass
class SavedImage:
    """An image that landed on disk (or on stdout), with what the sidecar records."""

    index: int
    path: Path | None
    sidecar: Path | None
    format: str
    bytes: int
    size: str | None  # the image's own WxH; the gateway's when it cannot be read
    quality: str | None
    request_id: str | None
    elapsed: float
    estimated_cost_usd: float
    usage: dict[str, Any] | None = None
    revised_prompt: str | None = None
    size_reported: str | None = None  # the gateway's size, kept when the image disagrees
    sha256: str | None = None  # of the saved file's bytes, taken as they were written
    mtime_ns: int | None = None  # with sha256: the saved file's, as it was closed
    sidecar_facts: dict[str, Any] | None = None  # with sha256: bytes, sha256, mtime_ns
    cost_extrapolated: bool = False  # priced outside the published table (see pricing)
    offline: bool = False  # made by vibeimg's emulator: nothing billed
    passed_over: list[str] = field(default_factory=list)  # why names planned were not used
    # Earlier attempts of this request with an unknown outcome (resent with
    # --retry-unknown): each may have been billed too, at the request's price.
    unknown_attempts: int = 0
    possible_cost_usd: float = 0.0

    def sizes(self) -> dict[str, Any]:
        """``size``, and ``size_reported`` when the gateway said otherwise."""
        if self.size_reported is None:
            return {"size": self.size}
        return {"size": self.size, "size_reported": self.size_reported}

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "path": str(self.path) if self.path else None,
            "sidecar": str(self.sidecar) if self.sidecar else None,
            "format": self.format,
            "bytes": self.bytes,
            **self.sizes(),
            "quality": self.quality,
            "request_id": self.request_id,
            "elapsed_seconds": round(self.elapsed, 3),
            "estimated_cost_usd": self.estimated_cost_usd,
            "possible_cost_usd": self.possible_cost_usd,
            "cost_extrapolated": self.cost_extrapolated,
            "offline": self.offline,
            "usage": self.usage,
            "revised_prompt": self.revised_prompt,
        }


@dataclass
class Failure:
    index: int
    error: VibeimgError

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "error": self.error.one_line(),
            "exit_code": int(self.error.exit_code),
            "request_id": self.error.request_id,
            "outcome_unknown": self.error.outcome_unknown,
            "possible_cost_usd": self.error.possible_cost_usd,
        }


@dataclass
class Outcome:
    saved: list[SavedImage] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: what was saved is kept, the rest abandoned
    # Requests on the wire when Ctrl-C came: abandoned, and maybe made and billed all the
    # same. The others not saved were never sent (or were waiting to retry): not billed.
    abandoned: list[int] = field(default_factory=list)
    abandoned_cost_usd: float = 0.0  # the estimated price of each abandoned request
    # Earlier sends of the abandoned requests of unknown outcome (--retry-unknown): each
    # may have been billed too, at the same price.
    abandoned_earlier: int = 0
    abandoned_extrapolated: bool = False  # that price is extrapolated (see pricing)

    @property
    def estimated_cost_usd(self) -> float:
        """The images received and saved."""
        return round(sum(s.estimated_cost_usd for s in self.saved), 6)

    @property
    def cost_extrapolated(self) -> bool:
        """Whether the estimated or the possible cost includes an extrapolated price (a
        size outside the published table, see :mod:`vibeimg.records.pricing`)."""
        return (any(s.cost_extrapolated for s in self.saved)
                or any(f.error.cost_extrapolated and f.error.possible_cost_usd
                       for f in self.failures)
                or bool(self.abandoned and self.abandoned_extrapolated))

    @property
    def price(self) -> Price:
        """:attr:`estimated_cost_usd`, marked extrapolated when :attr:`cost_extrapolated`."""
        return Price(self.estimated_cost_usd, self.cost_extrapolated)

    @property
    def possible_cost_usd(self) -> float:
        """What may have been billed with no image to show for it: every attempt of
        unknown outcome (those resent before an image arrived included), answers billed
        but unusable (bad base64, not an image, refused by the disk), and requests
        abandoned on the wire."""
        failed = sum(f.error.possible_cost_usd for f in self.failures)
        earlier = sum(s.possible_cost_usd for s in self.saved)
        abandoned = self.abandoned_cost_usd * (len(self.abandoned) + self.abandoned_earlier)
        return round(failed + earlier + abandoned, 6)

    @property
    def maybe_billed_unsaved(self) -> int:
        """The images not saved whose request may have been billed all the same (of
        unknown outcome, billed but unusable, abandoned on the wire)."""
        return len(self.abandoned) + sum(
            1 for f in self.failures if f.error.outcome_unknown or f.error.possible_cost_usd)

    def abandoned_text(self) -> str:
        """What an interruption left on the wire: abandoned, and maybe billed all the same."""
        if not self.abandoned:
            return ""
        return (f"; {count_of(len(self.abandoned), 'request')} abandoned on the wire, "
                f"may have been billed (up to ${self.possible_cost_usd:.3f})")

    def final_error(self, count: int) -> VibeimgError | None:
        """How a run of ``count`` images ended: None when all were saved; Interrupted
        after Ctrl-C; the first error (its own exit code) when none was saved; partial
        success when some of several failed (and, after a full disk, some not sent)."""
        if self.interrupted:
            stopped = Interrupted(f"interrupted: {len(self.saved)} of "
                                  f"{count_of(count, 'image')} saved" + self.abandoned_text())
            # What the run may have spent without an image, for a caller that gets only
            # the error (the Python API raises it).
            stopped.possible_cost_usd = self.possible_cost_usd
            stopped.cost_extrapolated = self.cost_extrapolated and bool(self.possible_cost_usd)
            return stopped
        errors = [f.error for f in self.failures]
        if not errors:
            return None
        # Images not sent after a full disk stopped the run (never billed).
        unsent = count - len(self.saved) - len(errors)
        if not self.saved:
            first = errors[0]
            if unsent:
                first.message = (f"no image saved ({len(errors)} failed, {unsent} not sent); "
                                 f"the first: {first.message}")
            elif count > 1:
                first.message = f"all {count} images failed; the first: {first.message}"
            return first
        return PartialFailure(
            f"{len(self.saved)} of {count} images saved, {len(errors)} failed"
            + (f", {unsent} not sent" if unsent else ""),
            failures=errors,
        )
