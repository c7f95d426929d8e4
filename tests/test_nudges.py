"""The nudge policy on scripted verdict streams, in fake time."""

from __future__ import annotations

import pytest

from posture.nudges import MESSAGES, BreakEvent, EpisodeEvent, NudgeEngine, NudgeEvent, NudgePolicy
from posture.vocabulary import Verdict

G, S, F, N, C = (
    Verdict.GOOD,
    Verdict.SLOUCH,
    Verdict.FORWARD_HEAD,
    Verdict.NO_PERSON,
    Verdict.TOO_CLOSE,
)
STEP_S = 0.5  # the monitor's default 2 samples per second


def play(engine: NudgeEngine, script: list[tuple[Verdict, float]], start_s: float = 0.0):
    """Feed (verdict, seconds) runs at STEP_S; return every event and the end time."""
    events, now = [], start_s
    for verdict, seconds in script:
        for _ in range(round(seconds / STEP_S)):
            events.extend(engine.update(now, verdict))
            now += STEP_S
    return events, now


def nudges(events, kind: str | None = None) -> list[NudgeEvent]:
    return [e for e in events if isinstance(e, NudgeEvent) and (kind is None or e.kind == kind)]


def test_sustained_slouch_nudges_once_at_30_seconds():
    events, _ = play(NudgeEngine(), [(G, 10), (S, 60)])
    posture = nudges(events, "posture")
    assert len(posture) == 1
    assert posture[0].at_s == pytest.approx(10 + 30)
    assert posture[0].verdict is S and posture[0].level == 1
    assert posture[0].message in MESSAGES["slouch"]


def test_slouch_shorter_than_30_seconds_never_nudges():
    events, _ = play(NudgeEngine(), [(G, 10), (S, 29), (G, 60)])
    assert nudges(events) == []


def test_keyboard_glances_never_nudge():
    """Looking down for a few seconds now and then, good in between."""
    script = [(G, 20), (F, 4)] * 30
    events, _ = play(NudgeEngine(), script)
    assert nudges(events) == []


def test_cooldown_is_respected_then_escalates():
    events, _ = play(NudgeEngine(), [(S, 30 + 300 + 300 + 1)])
    posture = nudges(events, "posture")
    assert [round(n.at_s) for n in posture] == [30, 330, 630]
    assert [n.level for n in posture] == [1, 2, 3]
    assert MESSAGES["escalate"][0] in posture[2].message


def test_a_short_dip_to_good_does_not_restart_the_clock():
    events, _ = play(NudgeEngine(), [(S, 20), (G, 5), (S, 10)])
    assert len(nudges(events)) == 1  # 35 s after the slouch began, with a 5 s dip


def test_good_held_ends_the_episode_and_records_it():
    events, _ = play(NudgeEngine(), [(S, 40), (G, 15)])
    episodes = [e for e in events if isinstance(e, EpisodeEvent)]
    assert len(episodes) == 1
    assert episodes[0].start_s == 0 and episodes[0].end_s == pytest.approx(40)
    assert episodes[0].verdict is S


def test_short_bad_stretches_are_not_episodes():
    events, _ = play(NudgeEngine(), [(S, 10), (G, 15)])
    assert [e for e in events if isinstance(e, EpisodeEvent)] == []


def test_away_pauses_nudges_and_a_long_absence_is_a_break():
    engine = NudgeEngine()
    events, now = play(engine, [(S, 20), (N, 180), (S, 20)])
    assert nudges(events) == []  # never 30 s of slouch while present
    breaks = [e for e in events if isinstance(e, BreakEvent)]
    assert len(breaks) == 1 and breaks[0].end_s - breaks[0].start_s == pytest.approx(180)
    assert engine.sitting_s(now) < 25  # the break reset the sitting clock


def test_brief_absence_is_neither_away_nor_a_break():
    engine = NudgeEngine()
    events, _ = play(engine, [(G, 10), (N, 5), (G, 10)])
    assert not engine.away
    assert [e for e in events if isinstance(e, BreakEvent)] == []


def test_break_nudge_after_45_minutes_then_every_15():
    events, _ = play(NudgeEngine(), [(G, 45 * 60 + 15 * 60 + 1)])
    breaks = nudges(events, "break")
    assert [round(n.at_s) for n in breaks] == [45 * 60, 60 * 60]
    assert breaks[0].message.startswith("45 minutes without a break.")


def test_a_break_taken_resets_the_break_reminder():
    events, _ = play(NudgeEngine(), [(G, 40 * 60), (N, 3 * 60), (G, 40 * 60)])
    assert nudges(events, "break") == []


def test_too_close_gets_a_distance_nudge():
    events, _ = play(NudgeEngine(), [(C, 31)])
    distance = nudges(events, "distance")
    assert len(distance) == 1 and distance[0].message in MESSAGES["distance"]


def test_snooze_pauses_every_nudge():
    engine = NudgeEngine()
    engine.snooze(until_s=100)
    events, _ = play(engine, [(S, 99)])
    assert nudges(events) == []
    events, _ = play(engine, [(S, 2)], start_s=99)
    assert len(nudges(events)) == 1


def test_messages_rotate_without_repeating():
    engine = NudgeEngine(NudgePolicy(cooldown_s=0, good_to_end_s=0.5))
    seen = []
    now = 0.0
    for _ in range(3):
        events, now = play(engine, [(S, 31), (G, 2)], start_s=now)
        seen += [n.message for n in nudges(events)]
    assert seen[:3] == list(MESSAGES["slouch"][:3])


def test_finish_closes_an_open_episode():
    engine = NudgeEngine()
    _, now = play(engine, [(S, 40)])
    closed = engine.finish(now)
    assert len(closed) == 1 and isinstance(closed[0], EpisodeEvent)


@pytest.mark.parametrize(
    ("field", "value"),
    [("cooldown_s", -1), ("sustained_bad_s", float("nan")), ("break_min_s", 1.0)],
)
def test_policy_validation(field, value):
    with pytest.raises(ValueError):
        NudgePolicy(**{field: value})
