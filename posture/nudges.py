"""When to remind, and what to say: the nudge policy as a pure state machine.

`NudgeEngine.update(now_s, verdict)` is fed the smoothed verdict a few times a
second and returns what happened: nudges to show, episodes that ended, breaks
taken. Time is whatever the caller says it is (seconds on any monotonic clock),
so a test drives an hour of sitting in microseconds.

The policy, every duration configurable (`NudgePolicy`):

- Bad posture sustained for `sustained_bad_s` (30 s) → a posture nudge naming
  the habit that fixes what went wrong. A dip back to good shorter than
  `good_to_end_s` (10 s) does not reset the clock; holding good that long ends
  the episode. A glance at the keyboard lasts seconds: it never nudges.
- `cooldown_s` (5 min) between two nudges of a kind. If the same episode goes
  on, the next nudge escalates gently (level 2, then 3: suggest standing up).
- Nobody there for `away_after_s` (10 s) → away: nudges pause, the episode
  ends. An absence of at least `break_min_s` (2 min) counts as a movement break.
- Present for `break_due_s` (45 min) without a break → a break nudge, repeated
  every `break_repeat_s` (15 min) until one is taken.
- Too close to the screen sustained → a distance nudge (the same timing as
  posture, its own cooldown).
- `snooze(until_s)` pauses every nudge until then.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from posture.vocabulary import NudgeKind, Verdict


@dataclass(frozen=True)
class NudgePolicy:
    """Every duration of the nudge policy, in seconds. Defaults are explained above."""

    sustained_bad_s: float = 30.0
    good_to_end_s: float = 10.0
    cooldown_s: float = 300.0
    away_after_s: float = 10.0
    break_min_s: float = 120.0
    break_due_s: float = 45 * 60.0
    break_repeat_s: float = 15 * 60.0

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number of seconds, got {value!r}")
        if self.break_min_s < self.away_after_s:
            raise ValueError("break_min_s must be at least away_after_s")


# Short, friendly, specific; never a diagnosis. Rotated so they do not repeat.
MESSAGES: dict[str, tuple[str, ...]] = {
    "slouch": (
        "Sit back and let the chair support your upper back.",
        "Roll your shoulders down and back, and lift your chest a little.",
        "Scoot your hips to the back of the seat; the backrest can do the work.",
    ),
    "forward-head": (
        "Chin in gently: ears back over your shoulders.",
        "Bring the screen to eye level, so your head does not reach for it.",
        "Let the back of your head float up, tucking the chin a little.",
    ),
    "reclined": (
        "Slide back up in the chair: hips to the back of the seat.",
        "Sit up onto your sit bones; keep the backrest against your upper back.",
    ),
    "lateral-lean": (
        "Level your shoulders: weight evenly on both hips.",
        "Uncross your legs and centre yourself in the chair.",
    ),
    "distance": (
        "Lean back: keep the screen about an arm's length away.",
        "Too close to the screen: sit back, and enlarge the text if you need to.",
    ),
    "break": (
        "Time to stand up and move for a couple of minutes.",
        "Stand, stretch your arms overhead and walk a few steps.",
        "A 30-second stretch: squeeze your shoulder blades together, then reach tall.",
    ),
    "escalate": ("Still there after a while: stand up for a minute, then sit back in fresh.",),
}
# Leaning in until the pose is lost is a lean towards the screen.
_MESSAGE_KEY = {
    Verdict.SLOUCH: "slouch",
    Verdict.FORWARD_HEAD: "forward-head",
    Verdict.RECLINED: "reclined",
    Verdict.LATERAL_LEAN: "lateral-lean",
    Verdict.TOO_CLOSE: "distance",
    Verdict.PERSON_NO_POSE: "distance",
}


@dataclass(frozen=True)
class NudgeEvent:
    """A reminder to show now."""

    at_s: float
    kind: NudgeKind
    verdict: Verdict | None
    level: int
    message: str


@dataclass(frozen=True)
class EpisodeEvent:
    """A stretch of bad posture that ended (by good posture held, or by leaving)."""

    start_s: float
    end_s: float
    verdict: Verdict


@dataclass(frozen=True)
class BreakEvent:
    """An absence long enough to count as a movement break."""

    start_s: float
    end_s: float


Event = NudgeEvent | EpisodeEvent | BreakEvent


class MessageRotation:
    """Cycles through each catalogue entry so the same words do not come twice in a row."""

    def __init__(self) -> None:
        self._next: Counter[str] = Counter()

    def take(self, key: str) -> str:
        """The next wording for `key`: the same words every five minutes read as nagging."""
        options = MESSAGES[key]
        message = options[self._next[key] % len(options)]
        self._next[key] += 1
        return message


@dataclass
class _Episode:
    start_s: float
    durations: dict[Verdict, float] = field(default_factory=lambda: defaultdict(float))
    good_since_s: float | None = None
    nudges: int = 0

    def dominant(self) -> Verdict:
        if not self.durations:
            return Verdict.SLOUCH
        return max(self.durations, key=lambda verdict: self.durations[verdict])


class NudgeEngine:
    """The nudge policy's state. Feed it every smoothed verdict, in time order."""

    def __init__(self, policy: NudgePolicy | None = None) -> None:
        self.policy = policy or NudgePolicy()
        self.messages = MessageRotation()
        self._last_s: float | None = None
        self._episode: _Episode | None = None
        self._absent_since_s: float | None = None
        self._away = False
        self._present_since_s: float | None = None
        self._last_nudge_s: dict[str, float] = {}
        self._snoozed_until_s = -math.inf

    @property
    def away(self) -> bool:
        """Nobody in view for `away_after_s`: a glance away is not leaving."""
        return self._away

    def snooze(self, until_s: float) -> None:
        """No nudge of any kind before `until_s`; episodes and breaks are still kept."""
        self._snoozed_until_s = until_s

    def snoozed(self, now_s: float) -> bool:
        """Whether nudges are paused at `now_s`, for the status line to say so."""
        return now_s < self._snoozed_until_s

    def sitting_s(self, now_s: float) -> float:
        """How long the user has been present without a break."""
        return 0.0 if self._present_since_s is None else now_s - self._present_since_s

    def update(
        self, now_s: float, verdict: Verdict
    ) -> list[NudgeEvent | EpisodeEvent | BreakEvent]:
        """What `verdict` at `now_s` sets off. A step back in time counts as no time,
        so a clock that jumps back never takes time off a verdict's tally."""
        step = 0.0 if self._last_s is None else max(0.0, now_s - self._last_s)
        self._last_s = now_s
        events: list[NudgeEvent | EpisodeEvent | BreakEvent] = []
        if verdict is Verdict.NO_PERSON:
            self._absent(now_s, events)
            return events
        self._present(now_s, events)
        self._track_episode(now_s, verdict, step, events)
        self._maybe_break_nudge(now_s, events)
        return events

    def finish(self, now_s: float) -> list[NudgeEvent | EpisodeEvent | BreakEvent]:
        """The monitor stops: close the open episode (if it lasted) so it is not lost."""
        events: list[NudgeEvent | EpisodeEvent | BreakEvent] = []
        if self._episode is not None:
            end = self._episode.good_since_s if self._episode.good_since_s is not None else now_s
            self._end_episode(end, events)
        return events

    # -- presence -------------------------------------------------------------------------

    def _absent(self, now_s: float, events: list[Event]) -> None:
        if self._absent_since_s is None:
            self._absent_since_s = now_s
        if not self._away and now_s - self._absent_since_s >= self.policy.away_after_s:
            self._away = True
            self._end_episode(self._absent_since_s, events)

    def _present(self, now_s: float, events: list[Event]) -> None:
        if self._absent_since_s is not None:
            absent_for = now_s - self._absent_since_s
            if absent_for >= self.policy.break_min_s:
                events.append(BreakEvent(self._absent_since_s, now_s))
                self._present_since_s = now_s
                self._last_nudge_s.pop("break", None)
            self._absent_since_s = None
            self._away = False
        if self._present_since_s is None:
            self._present_since_s = now_s

    # -- posture episodes -------------------------------------------------------------------

    def _track_episode(
        self, now_s: float, verdict: Verdict, step: float, events: list[Event]
    ) -> None:
        episode = self._episode
        if verdict is Verdict.GOOD:
            if episode is None:
                return
            if episode.good_since_s is None:
                episode.good_since_s = now_s
            elif now_s - episode.good_since_s >= self.policy.good_to_end_s:
                self._end_episode(episode.good_since_s, events)
            return
        if episode is None:
            episode = self._episode = _Episode(start_s=now_s)
        episode.good_since_s = None
        episode.durations[verdict] += step
        if now_s - episode.start_s >= self.policy.sustained_bad_s:
            self._maybe_posture_nudge(now_s, episode, events)

    def _end_episode(self, end_s: float, events: list[Event]) -> None:
        episode, self._episode = self._episode, None
        if episode is not None and end_s - episode.start_s >= self.policy.sustained_bad_s:
            events.append(EpisodeEvent(episode.start_s, end_s, episode.dominant()))

    # -- nudges ------------------------------------------------------------------------------

    def _ready(self, kind: str, now_s: float, every_s: float) -> bool:
        last = self._last_nudge_s.get(kind)
        return not self.snoozed(now_s) and (last is None or now_s - last >= every_s)

    def _maybe_posture_nudge(self, now_s: float, episode: _Episode, events: list[Event]) -> None:
        verdict = episode.dominant()
        key = _MESSAGE_KEY.get(verdict, "slouch")
        kind: NudgeKind = "distance" if key == "distance" else "posture"
        if not self._ready(kind, now_s, self.policy.cooldown_s):
            return
        episode.nudges += 1
        level = min(episode.nudges, 3)
        message = self.messages.take(key)
        if level == 3:
            message = f"{message} {self.messages.take('escalate')}"
        self._last_nudge_s[kind] = now_s
        events.append(NudgeEvent(now_s, kind, verdict, level, message))

    def _maybe_break_nudge(self, now_s: float, events: list[Event]) -> None:
        if self.sitting_s(now_s) < self.policy.break_due_s:
            return
        if not self._ready("break", now_s, self.policy.break_repeat_s):
            return
        self._last_nudge_s["break"] = now_s
        minutes = round(self.sitting_s(now_s) / 60)
        message = f"{minutes} minutes without a break. {self.messages.take('break')}"
        events.append(NudgeEvent(now_s, "break", None, 1, message))
