"""What the monitor hands to the history store: numbers and spans, never pixels.

The monitor produces these; `posture.store` keeps them (per-minute aggregates,
episodes, nudges, breaks); `posture.report` reads them back. Times are wall-clock,
timezone-aware datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from posture.vocabulary import NUDGE_KINDS, NudgeKind, Verdict


def check_aware(*moments: datetime) -> None:
    """Raises ValueError unless every moment carries its time zone."""
    for moment in moments:
        if moment.tzinfo is None:
            raise ValueError(f"times must be timezone-aware, got {moment!r}")


@dataclass(frozen=True)
class SessionInfo:
    """One run of the monitor."""

    started_at: datetime
    source: str  # what --source said: "0", "samples/session.mp4", ...
    source_kind: str  # what it was: "camera", "video", "image" or "folder"
    profile: str | None  # None: the population default profile

    def __post_init__(self) -> None:
        check_aware(self.started_at)


@dataclass(frozen=True)
class Sample:
    """One judged moment: the smoothed verdict standing for `duration_s` seconds up to `at`."""

    at: datetime
    duration_s: float
    verdict: Verdict
    score: int | None  # None when nobody is there
    neck_excess: float | None = None  # forward-head deviation, in tolerances (1 = threshold)
    trunk_excess: float | None = None  # slouch or recline deviation, in tolerances

    def __post_init__(self) -> None:
        check_aware(self.at)
        if not 0 <= self.duration_s <= 3600:
            raise ValueError(f"duration_s must be in [0, 3600], got {self.duration_s}")
        if self.score is not None and not 0 <= self.score <= 100:
            raise ValueError(f"score must be in [0, 100], got {self.score}")


@dataclass(frozen=True)
class Span:
    """A stretch of time in one state."""

    start: datetime
    end: datetime
    verdict: Verdict

    def __post_init__(self) -> None:
        check_aware(self.start, self.end)
        if self.end < self.start:
            raise ValueError(f"a span cannot end ({self.end}) before it starts ({self.start})")

    @property
    def seconds(self) -> float:
        """How long the span lasted."""
        return (self.end - self.start).total_seconds()


class Episode(Span):
    """A stretch of one bad verdict, from its start to the return to good posture."""


@dataclass(frozen=True)
class Nudge:
    """A reminder that was shown. `kind`: posture, distance or break."""

    at: datetime
    kind: NudgeKind
    message: str

    def __post_init__(self) -> None:
        check_aware(self.at)
        if self.kind not in NUDGE_KINDS:
            raise ValueError(f"kind must be one of {NUDGE_KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class Break:
    """Time away from the desk long enough to count as a movement break."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        check_aware(self.start, self.end)
        if self.end < self.start:
            raise ValueError("a break cannot end before it starts")


class Recorder(Protocol):
    """Where the monitor writes history. Implementations: the SQLite store, `NullRecorder`."""

    def begin_session(self, info: SessionInfo) -> None:
        """Starts recording a monitor run."""

    def add_sample(self, sample: Sample) -> None:
        """Adds a judged moment (the recorder keeps it per minute, never as is)."""

    def add_episode(self, episode: Episode) -> None:
        """Adds a stretch of bad posture that ended."""

    def add_nudge(self, nudge: Nudge) -> None:
        """Adds a reminder that was shown."""

    def add_break(self, interval: Break) -> None:
        """Adds a movement break that was taken."""

    def flush(self) -> None:
        """Write what is buffered (the monitor calls it at least once a minute)."""

    def end_session(self, ended_at: datetime) -> None:
        """Writes what is buffered and the run's end."""


class NullRecorder:
    """Keeps nothing: for `posture monitor --no-history` and for tests."""

    def begin_session(self, info: SessionInfo) -> None:
        """Keeps nothing."""

    def add_sample(self, sample: Sample) -> None:
        """Keeps nothing."""

    def add_episode(self, episode: Episode) -> None:
        """Keeps nothing."""

    def add_nudge(self, nudge: Nudge) -> None:
        """Keeps nothing."""

    def add_break(self, interval: Break) -> None:
        """Keeps nothing."""

    def flush(self) -> None:
        """Nothing to write."""

    def end_session(self, ended_at: datetime) -> None:
        """Keeps nothing."""
