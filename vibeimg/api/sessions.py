"""``vibeimg.Session``: a conversation kept by vibeimg, seen from Python.

The same conversations as ``chat-stream --session NAME`` and ``vibeimg chat``: a
transcript in the data folder, read afresh at each access (so a turn added from the
shell meanwhile is there). Turns are added by ``Client.chat_stream(prompt,
session=NAME)``; a session is created by its first turn.
"""

from __future__ import annotations

from pathlib import Path

from vibeimg.records import sessions
from vibeimg.records.transcript import Transcript, Turn


class Session:
    """The conversation ``name`` (raises :class:`vibeimg.UsageError` if it does not exist,
    unless ``create``: then it is empty until its first turn)::

        with vibeimg.Client(offline=True) as client:
            client.chat_stream("a lighthouse at dawn", session="coast")
            client.chat_stream("now make it night", session="coast")
        coast = vibeimg.Session("coast")
        coast.turns[-1].prompt, coast.images[-1]
        coast.undo()  # the last turn leaves the conversation; its files stay
    """

    def __init__(self, name: str, *, create: bool = False) -> None:
        self.name = sessions.check_session_name(name)
        if not create:
            sessions.load(self.name)  # an unknown session is an error now, not later

    def __repr__(self) -> str:
        return f"Session({self.name!r})"

    @classmethod
    def names(cls) -> list[str]:
        """Every session's name, most recently changed first."""
        return [info.name for info in sessions.list_sessions()]

    @classmethod
    def latest(cls) -> Session:
        """The most recently changed session (what ``--continue`` continues)."""
        return cls(sessions.latest_name())

    @property
    def path(self) -> Path:
        """The transcript file (JSON Lines)."""
        return sessions.transcript_path(self.name)

    def transcript(self) -> Transcript:
        """Every turn recorded, undone, failed and cancelled ones included."""
        return sessions.load(self.name, create=True)

    @property
    def turns(self) -> list[Turn]:
        """The conversation as it stands: the turns that saved images, not undone."""
        return self.transcript().live_turns

    @property
    def images(self) -> list[Path]:
        """Every image of the conversation, oldest first."""
        return self.transcript().images

    @property
    def cost_usd(self) -> float:
        """Estimated spend on image output, every turn included (offline ones cost 0)."""
        return self.transcript().estimated_cost_usd

    @property
    def possible_cost_usd(self) -> float:
        """What the images of cut or cancelled turns that never arrived may have cost."""
        return self.transcript().possible_cost_usd

    def undo(self) -> Turn:
        """Drop the last turn from the conversation (its files stay) and return it."""
        return sessions.undo_turn(self.name)[1]
