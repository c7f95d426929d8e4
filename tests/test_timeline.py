"""The loop's two kinds of time: readings of both clocks, jumps between them, replays
placed in the past."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from posture.timeline import LiveTimeline, ReplayTimeline
from tests.fakes import Clocks

NINE = datetime(2026, 11, 24, 9, 0, 0).astimezone()


def test_clocks_that_agree_give_loop_seconds_and_the_wall_time_read_now():
    clocks = Clocks(NINE)
    timeline = LiveTimeline(clocks.monotonic, clocks.now)
    first = timeline.read()
    clocks.sleep(2.5)
    second = timeline.read()
    assert (first.loop_s, first.at, first.jump_s) == (0.0, NINE, 0.0)
    assert (second.loop_s, second.at, second.jump_s) == (2.5, NINE + timedelta(seconds=2.5), 0)
    assert timeline.started_at == NINE
    assert timeline.wall(1.0) == NINE + timedelta(seconds=1)


def test_a_suspend_is_a_jump_and_the_loop_seconds_take_in_the_night():
    clocks = Clocks(NINE.replace(hour=18))
    timeline = LiveTimeline(clocks.monotonic, clocks.now)
    timeline.read()
    clocks.sleep(60)
    timeline.read()
    clocks.jump_wall(14 * 3600)  # the lid closed at 18:01, opened at 08:01
    clocks.sleep(1)
    morning = timeline.read()
    assert morning.jump_s == pytest.approx(14 * 3600)
    assert morning.loop_s == pytest.approx(60 + 1 + 14 * 3600)
    assert morning.at == NINE.replace(hour=8, minute=1, second=1) + timedelta(days=1)
    # Instants on either side of the night map back to the times read for them.
    assert timeline.wall(30) == NINE.replace(hour=18, second=30)
    assert timeline.wall(morning.loop_s) == morning.at
    clocks.sleep(5)
    assert timeline.read().jump_s == 0.0  # agreeing again


def test_a_clock_set_back_is_a_jump_but_loop_seconds_never_go_back():
    clocks = Clocks(NINE)
    timeline = LiveTimeline(clocks.monotonic, clocks.now)
    timeline.read()
    clocks.sleep(10)
    clocks.jump_wall(-3600)
    reading = timeline.read()
    assert reading.jump_s == pytest.approx(-3600)
    assert reading.loop_s == pytest.approx(10)
    assert reading.at == NINE + timedelta(seconds=10) - timedelta(hours=1)


def test_an_instant_is_never_filed_after_a_later_one_just_read():
    """The clock set back by less than the re-anchoring tolerance: an instant mapped from
    the anchor would be filed after the reading that came later, and an episode from
    it to now would end before it began (a ValueError that stopped the monitor)."""
    clocks = Clocks(NINE)
    timeline = LiveTimeline(clocks.monotonic, clocks.now)
    timeline.read()
    clocks.sleep(1.0)
    clocks.jump_wall(-0.2)
    now = timeline.read()
    assert now.jump_s == 0.0 and now.at == NINE + timedelta(seconds=0.8)
    earlier = timeline.wall(0.9)
    assert earlier <= timeline.wall(now.loop_s) == now.at
    assert timeline.wall(0.5) == NINE + timedelta(seconds=0.5)  # well before: as mapped


def test_drift_within_the_tolerance_is_not_a_jump():
    clocks = Clocks(NINE)
    timeline = LiveTimeline(clocks.monotonic, clocks.now)
    timeline.read()
    for _ in range(10):
        clocks.sleep(600)
        clocks.jump_wall(0.3)  # NTP slewing, well within 2 s + 0.1 %
        reading = timeline.read()
        assert reading.jump_s == 0.0
        assert timeline.wall(reading.loop_s) == reading.at  # mapped from a fresh reading


@pytest.mark.parametrize("second", [0, 5, 31, 59])
def test_a_replay_lies_in_the_past_on_whole_minutes_whatever_second_it_starts(second):
    clocks = Clocks(NINE.replace(minute=30, second=second))
    timeline = ReplayTimeline(duration_ms=40_000, now=clocks.now)
    assert timeline.started_at == NINE.replace(minute=29)
    stamps = [timeline.read(t_ms).at for t_ms in range(0, 40_001, 500)]
    assert stamps[0] == NINE.replace(minute=29) and stamps[-1] == NINE.replace(minute=29, second=40)
    assert max(stamps) <= clocks.now()


def test_a_replay_longer_than_announced_is_stamped_no_later_than_now():
    clocks = Clocks(NINE.replace(second=10))
    timeline = ReplayTimeline(duration_ms=30_000, now=clocks.now)  # it lasts 100 s
    readings = [timeline.read(t_ms) for t_ms in range(0, 100_001, 1000)]
    assert all(r.at <= clocks.now() for r in readings)
    assert [r.jump_s < 0 for r in readings].index(True) == 71  # 8:59 + 71 s > 9:00:10
    assert timeline.wall(90) == clocks.now()


def test_a_replay_of_unknown_length_starts_at_the_start_of_the_minute():
    clocks = Clocks(NINE.replace(second=42))
    timeline = ReplayTimeline(duration_ms=None, now=clocks.now)
    assert timeline.started_at == NINE
    assert timeline.read(5000).at == NINE  # the first frame is the start, whatever its t_ms
    assert timeline.read(15_000).at == NINE + timedelta(seconds=10)
