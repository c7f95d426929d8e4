"""The monitor's control surface: commands from any thread, a wait they cut short,
a stop that is safe in a signal handler, snapshots to subscribers."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from datetime import datetime, timedelta

import pytest

from posture.control import (
    Controls,
    Pause,
    Reload,
    Resume,
    Snapshot,
    Snooze,
    State,
    say_once_watching,
)

NOON = datetime(2026, 11, 24, 12, 0).astimezone()


@pytest.fixture
def controls():
    with Controls() as made:
        yield made


def test_commands_come_out_in_the_order_they_were_sent(controls):
    controls.pause(15, reason="in a meeting")
    controls.snooze(30)
    controls.resume()
    controls.pause()
    assert controls.take_commands() == [
        Pause(15, "in a meeting"),
        Snooze(30),
        Resume(),
        Pause(None, "paused"),
    ]
    assert controls.take_commands() == []
    assert not controls.pending


def test_a_command_from_another_thread_cuts_a_wait_short(controls):
    threading.Timer(0.05, controls.snooze, args=(5,)).start()
    started = time.monotonic()
    assert controls.wait(30.0) is True
    assert time.monotonic() - started < 5.0
    assert controls.take_commands() == [Snooze(5)]


def test_a_wait_without_commands_lasts_its_time_and_says_nothing_is_pending(controls):
    started = time.monotonic()
    assert controls.wait(0.05) is False
    assert time.monotonic() - started >= 0.04


def test_a_pending_command_makes_a_wait_return_at_once(controls):
    controls.pause(1)
    started = time.monotonic()
    assert controls.wait(30.0) is True
    assert time.monotonic() - started < 1.0
    assert controls.wait(30.0) is True  # still pending until taken


def test_stop_from_a_signal_handler_wakes_the_waiting_thread(controls):
    previous = signal.signal(signal.SIGUSR1, lambda *_: controls.stop())
    try:
        threading.Timer(0.05, os.kill, args=(os.getpid(), signal.SIGUSR1)).start()
        started = time.monotonic()
        assert controls.wait(30.0) is True
        assert time.monotonic() - started < 5.0
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert controls.stopped and controls.take_commands() == []


def test_many_threads_lose_no_command(controls):
    def send(n: int) -> None:
        for _ in range(n):
            controls.snooze(1)

    threads = [threading.Thread(target=send, args=(500,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    taken = 0
    while any(t.is_alive() for t in threads) or controls.pending:
        controls.wait(0.01)
        taken += len(controls.take_commands())
    assert taken == 2000


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.pause(0), "pause takes a finite number of minutes, more than 0"),
        (lambda c: c.pause(-5), "more than 0"),
        (lambda c: c.pause(math.nan), "pause takes a finite number"),
        (lambda c: c.snooze(math.inf), "snooze takes a finite number of minutes, 0 or more"),
        (lambda c: c.snooze(-1), "0 or more"),
    ],
)
def test_bad_minutes_are_refused_in_the_callers_thread(controls, call, message):
    with pytest.raises(ValueError, match=message):
        call(controls)
    assert controls.take_commands() == []


def test_subscribers_get_every_published_snapshot(controls):
    seen: list[Snapshot] = []
    controls.subscribe(seen.append)
    assert controls.snapshot.state is State.STARTING
    first = Snapshot(State.GOOD, "good", 92, 80, None, "", NOON)
    paused = Snapshot(
        State.PAUSED, None, None, 80, NOON + timedelta(minutes=15), "screen locked", NOON
    )
    controls.publish(first)
    controls.publish(paused)
    assert seen == [first, paused] and controls.snapshot is paused


def test_a_snapshot_is_validated():
    with pytest.raises(ValueError, match="timezone-aware"):
        Snapshot(State.GOOD, "good", 90, None, None, "", datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="score must be in"):
        Snapshot(State.GOOD, "good", 101, None, None, "", NOON)
    assert State("camera in use") is State.CAMERA_IN_USE


def test_a_fake_sleep_stands_in_for_waiting_on_a_fake_clock():
    now = [0.0]
    with Controls(sleep=lambda s: now.__setitem__(0, now[0] + s)) as controls:
        assert controls.wait(2.5) is False and now[0] == 2.5
        controls.resume()
        assert controls.wait(2.5) is True and now[0] == 2.5  # pending: no sleep at all


def test_a_reload_is_a_command_in_its_turn_carrying_its_loader(controls):
    def load():
        raise AssertionError("the monitor calls it, not the controls")

    controls.pause(None, reason="recalibrating")
    controls.reload_profile(load)
    controls.resume()
    assert controls.take_commands() == [Pause(None, "recalibrating"), Reload(load), Resume()]


@pytest.mark.parametrize("subscribed_after", [False, True], ids=["before", "after"])
def test_a_line_is_said_once_the_monitor_watches_and_only_once(controls, subscribed_after):
    said = []

    def snapshot(state):
        return Snapshot(state, None, None, None, None, "", NOON)

    if subscribed_after:
        controls.publish(snapshot(State.GOOD))
    else:
        say_once_watching(controls, said.append, "no tray icon")
        controls.publish(snapshot(State.STARTING))  # the source is not open yet
        assert said == []
        controls.publish(snapshot(State.AWAY))
    if subscribed_after:
        say_once_watching(controls, said.append, "no tray icon")
    controls.publish(snapshot(State.SLOUCHING))
    controls.publish(snapshot(State.STOPPED))
    assert said == ["no tray icon"]


def test_nothing_is_said_when_the_monitor_stops_before_it_watched(controls):
    said = []
    say_once_watching(controls, said.append, "no tray icon")
    controls.publish(Snapshot(State.STOPPED, None, None, None, None, "stopped", NOON))
    assert said == []
