"""What the Python API returns: each saved image, and the run's images with what is missing.

A run that saved some of its images returns them (with ``missing`` naming the others
and why); a run that saved none raises the error that stopped it. Plain dataclasses,
with no HTTP or Pillow behind them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vibeimg.errors import RunStatus, VibeimgError, run_status


@dataclass(frozen=True)
class Image:
    """One image saved on disk, with what its sidecar records."""

    path: Path
    index: int  # 1 for the first image of the run
    format: str  # png, jpeg or webp: the bytes received, whatever was asked
    bytes: int
    size: str | None  # WIDTHxHEIGHT read from the image itself
    quality: str | None
    revised_prompt: str | None
    request_id: str | None
    cost_usd: float  # estimated price of the image output (SPEC.md section 6)
    elapsed: float  # seconds from sending to saving
    sidecar: Path | None = None
    usage: dict[str, Any] | None = None
    cost_extrapolated: bool = False  # a size outside the published price table: a guess
    offline: bool = False  # made by vibeimg's emulator: nothing billed
    session: str | None = None  # the conversation it is a turn of (chat_stream(session=))
    turn: int | None = None


@dataclass(frozen=True)
class Missing:
    """An image asked for and not received: ``failed`` (see ``error``), ``abandoned``
    (on the wire when the run was interrupted: it may have been billed), ``not-sent``
    (waiting to be retried, or not yet sent, when it was: not billed), or, for a stream,
    the phase its call had reached."""

    index: int
    phase: str
    error: VibeimgError | None = None


class Images(list[Image]):
    """The images a run saved, in order, as a list; ``missing`` lists the rest.

    ``error`` is the error the run ended with (a :class:`vibeimg.PartialFailure` when
    some images are missing), or None when every image asked for was saved.
    ``cost_usd`` is the estimated price of the images received; ``possible_cost_usd``
    what the missing ones may have cost all the same (an unknown outcome, an answer
    billed but unusable, a request abandoned on the wire).
    """

    def __init__(self, images: list[Image], *, missing: list[Missing] | None = None,
                 error: VibeimgError | None = None, cost_usd: float | None = None,
                 possible_cost_usd: float = 0.0, cost_extrapolated: bool | None = None,
                 offline: bool = False) -> None:
        super().__init__(images)
        self.missing: list[Missing] = list(missing or [])
        self.error = error
        self.cost_usd = round(sum(i.cost_usd for i in images), 6) if cost_usd is None \
            else cost_usd
        self.possible_cost_usd = possible_cost_usd
        #: Whether the costs include a price extrapolated for a size off the table.
        self.cost_extrapolated = any(i.cost_extrapolated for i in images) \
            if cost_extrapolated is None else cost_extrapolated
        self.offline = offline  # made by vibeimg's emulator: nothing billed

    @property
    def status(self) -> RunStatus:
        """``completed`` or ``partial``: the status of the run's JSON document."""
        return run_status(self.error)

    @property
    def paths(self) -> list[Path]:
        return [image.path for image in self]

    def __repr__(self) -> str:
        return (f"Images({list.__repr__(self)}, missing={self.missing!r}, "
                f"cost_usd={self.cost_usd!r})")


@dataclass(frozen=True)
class MaskConversion:
    """A black-and-white mask turned into an alpha mask: where, and what it repaints."""

    path: Path
    bytes: int
    width: int
    height: int
    repaint: float  # share of pixels the model may repaint (alpha below 128)
    notes: list[str] = field(default_factory=list)  # what was changed on the way
