"""Time in the monitor: the loop's seconds, the wall clock, and where the two disagree.

The monitor keeps two kinds of time apart (STYLE 5). Timers (the smoother's window,
"nudge after 30 s of slouch", the break clock) run on the loop's seconds, which only
move forward. Every record (a minute, a nudge, an episode, a session's end) is
stamped with wall-clock time read when it happens, never a start time plus loop
seconds: the monotonic clock stops while a laptop is suspended, and a loop that
skips a lost camera would file everything after it too early.

- `LiveTimeline` (a camera) reads both clocks together at every frame. Normally
  they advance alike; when the wall clock ran ahead of the monotonic one (a
  suspend, or the clock set forward) or fell behind it (set back), the reading
  says so (`jump_s`). The loop's seconds then take in the time slept, so a night
  of suspend lasts a night for the break clock, and the monitor records the jump
  as a gap (a break if long), never as presence.
- `ReplayTimeline` (a recording) runs on the recording's own clock, placed in the
  past: a replay is not happening now, so its stamps must not reach into the
  future, whatever its speed. It ends by the start of the minute the replay began
  (its length rounded up to whole minutes before that), so the same replay files
  the same minutes, and the same day score, whichever second it starts at.

`wall(loop_s)` turns a loop instant (an episode's start, a break's end) back into
the wall-clock time that was read for it.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from posture.history import minute_start
from posture.records import check_aware

# The wall clock may run ahead of or behind the monotonic one by this much before it
# counts as a jump (a suspend, the clock set), plus a share of the time between two
# readings: NTP slews a clock by at most 0.05 %.
JUMP_TOLERANCE_S = 2.0
SLEW_SHARE = 0.001
# Below this, the wall clock has merely drifted; above it, later instants are mapped
# from a fresh reading (see `LiveTimeline.wall`).
REANCHOR_S = 0.25


def local_now() -> datetime:
    """The wall clock, timezone-aware in the local zone."""
    return datetime.now().astimezone()


@dataclass(frozen=True)
class Reading:
    """Both clocks at one moment of the loop.

    - `loop_s`: the loop's seconds since the session began: monotonic, and
      including time the monotonic clock did not see (a suspend).
    - `at`: wall-clock time, read at this moment (timezone-aware).
    - `jump_s`: how far the wall clock moved beyond what the loop's own clock saw
      since the previous reading: positive after a suspend or the clock set
      forward, negative when set back, 0 when they agree.
    """

    loop_s: float
    at: datetime
    jump_s: float = 0.0

    def __post_init__(self) -> None:
        check_aware(self.at)


class LiveTimeline:
    """The loop's seconds and the wall clock for a live source, read together."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = local_now,
    ) -> None:
        self._clock = clock
        self._now = now
        self._origin_s: float | None = None
        self._unseen_s = 0.0  # wall time the monotonic clock did not count (suspends)
        self._last: Reading | None = None
        # (loop_s, at) pairs from which later loop instants are mapped to wall time.
        self._anchors: list[tuple[float, datetime]] = []

    @property
    def started_at(self) -> datetime | None:
        """The wall-clock time of the first reading."""
        return self._anchors[0][1] if self._anchors else None

    def read(self) -> Reading:
        """Read both clocks now."""
        mono_s, at = self._clock(), self._now()
        last = self._last
        if self._origin_s is None or last is None:
            self._origin_s = mono_s
            reading = Reading(0.0, at)
            self._anchors.append((0.0, at))
        else:
            loop_s = mono_s - self._origin_s + self._unseen_s
            seen_s = loop_s - last.loop_s
            disagreement = (at - last.at).total_seconds() - seen_s
            jump_s = 0.0
            if abs(disagreement) > JUMP_TOLERANCE_S + SLEW_SHARE * abs(seen_s):
                jump_s = disagreement
                self._unseen_s += max(0.0, disagreement)
                loop_s += max(0.0, disagreement)
            reading = Reading(loop_s, at, jump_s)
            if abs((at - self.wall(loop_s)).total_seconds()) > REANCHOR_S:
                self._anchors.append((loop_s, at))
        self._last = reading
        return reading

    def wall(self, loop_s: float) -> datetime:
        """The wall-clock time of a loop instant, from the reading taken nearest before it.

        An earlier instant is never filed after the one just read: mapped from an anchor,
        it can be up to REANCHOR_S later than the clock read since (set back a little),
        and an episode or break would end before it began."""
        if not self._anchors:
            raise RuntimeError("read() the timeline before asking for wall-clock times")
        last = self._last
        if last is not None and loop_s == last.loop_s:
            return last.at  # the instant just read: exactly as read
        index = max(0, bisect.bisect_right(self._anchors, loop_s, key=lambda a: a[0]) - 1)
        anchor_s, anchor_at = self._anchors[index]
        mapped = anchor_at + timedelta(seconds=loop_s - anchor_s)
        return min(mapped, last.at) if last is not None and loop_s < last.loop_s else mapped


class ReplayTimeline:
    """A recording's own clock, placed so that it ends before the replay began.

    `duration_ms`: the recording's length when known. It starts at the start of
    the current minute less that length rounded up to whole minutes (unknown: the
    start of the current minute). Frames beyond the announced length (a file
    longer than its header said) are stamped no later than now, as jumps.
    """

    def __init__(
        self,
        duration_ms: int | None,
        now: Callable[[], datetime] = local_now,
    ) -> None:
        self._now = now
        minutes = 0 if duration_ms is None else math.ceil(max(0, duration_ms) / 60_000)
        self.started_at = minute_start(now()) - timedelta(minutes=minutes)
        self._first_t_ms: int | None = None
        self._last = Reading(0.0, self.started_at)

    def read(self, t_ms: int) -> Reading:
        """The reading for a frame at `t_ms` on the recording's clock."""
        if self._first_t_ms is None:
            self._first_t_ms = t_ms
        loop_s = (t_ms - self._first_t_ms) / 1000
        at = self.started_at + timedelta(seconds=loop_s)
        now = self._now()
        overshoot_s = (at - now).total_seconds()
        self._last = Reading(loop_s, min(at, now), -overshoot_s if overshoot_s > 0 else 0.0)
        return self._last

    def wall(self, loop_s: float) -> datetime:
        """The wall-clock time a loop instant of the replay is filed at."""
        return min(self.started_at + timedelta(seconds=loop_s), self._now())
