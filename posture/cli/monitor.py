"""`posture monitor` (the background job) and `posture demo` (the same on the sample session)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from calibration.gates import CalibrationSample
from calibration.profile import DEFAULT_PROFILE_NAME, Profile, ProfileStore
from calibration.protocol import calibrate as build_profile
from posture.analysis import calibration_frames
from posture.cli.common import (
    FiniteFloatRange,
    NamedPath,
    ReplaySpeed,
    command_name,
    profile_store,
    source_option,
    stderr,
    stdout,
)
from posture.cli.report import show_report
from posture.config import MAX_FPS, MIN_FPS, MonitorConfig, load_config
from posture.control import Controllable, Controls, Snapshot, say_once_watching
from posture.errors import DemoHomeError, SourceError
from posture.history import MinuteRow, day_bounds
from posture.instance import InstanceLock
from posture.monitor import Monitor, MonitorSettings, MonitorSummary, Status, open_throttled
from posture.notify import NOTIFIER_CHOICES, TITLES, Notice, make_notifier
from posture.nudges import NudgeEvent, NudgePolicy
from posture.paths import PathError, data_dir, private_folder, write_private
from posture.preview import PreviewWindow
from posture.provisional import LearningScorer
from posture.records import NullRecorder
from posture.scoring import Judge, Scorer
from posture.screen import ScreenWatcher
from posture.sources import open_source
from posture.store import HistoryStore
from posture.vocabulary import Verdict

log = logging.getLogger(__name__)

# Ctrl+C, `kill`, and the terminal closing (SIGHUP) all stop the monitor the same way.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def stop_on_signals(controls: Controllable) -> Iterator[Controllable]:
    """Ctrl+C, SIGTERM or SIGHUP stop the monitor through its controls, so it flushes the
    history, closes the session and summarises (`Controls.stop` is safe in a handler)."""
    previous = {}
    for number in STOP_SIGNALS:
        with contextlib.suppress(ValueError):  # not the main thread (tests)
            previous[number] = signal.signal(number, lambda *_: controls.stop())
    try:
        yield controls
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def listen_for_keys(controls: Controls, snooze_minutes: float, console: Console) -> None:
    """In a terminal: Enter snoozes nudges for `snooze_minutes`, `q` then Enter quits.

    A thread of its own reads the keys and sends commands; it never blocks the loop.
    """
    if not sys.stdin or not sys.stdin.isatty():
        return

    def read() -> None:
        for line in sys.stdin:
            if line.strip().lower() in ("q", "quit"):
                controls.stop()
                return
            controls.snooze(snooze_minutes)
            console.print(f"Nudges snoozed for {snooze_minutes:g} minutes.")

    threading.Thread(target=read, name="posture-keys", daemon=True).start()


def status_printer(console: Console) -> Callable[[Status], None] | None:
    """One live line on a terminal's stderr, rewritten in place; nothing elsewhere."""
    if not console.is_terminal:
        return None

    def show(status: Status) -> None:
        console.file.write("\r\x1b[K" + status.line())
        console.file.flush()

    return show


def terminal_nudge(
    console: Console, clock_label: Callable[[float], str]
) -> Callable[[NudgeEvent], None]:
    """Nudges printed on `console`, each stamped by `clock_label(seconds)`, with a bell
    on a terminal."""

    def show(event: NudgeEvent) -> None:
        bell = "\a" if console.is_terminal else ""
        title = TITLES.get(event.kind, event.kind)
        console.print(
            f"{bell}[{clock_label(event.at_s)}] {title}: {event.message}", highlight=False
        )

    return show


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def print_summary(summary: MonitorSummary, console: Console) -> None:
    """The closing summary: time, scores, postures, nudges, and what was not watched."""
    present = summary.present_s
    console.print(f"Session: {_minutes(summary.duration_s)}, present {_minutes(present)}.")
    if summary.score is not None:
        console.print(f"Posture score: {summary.score} / 100")
    if summary.earlier_today and summary.day_score is not None:
        console.print(f"Today so far, with earlier sessions: {summary.day_score} / 100")
    parts = [
        f"{verdict.value} {_minutes(seconds)}"
        for verdict, seconds in sorted(
            summary.seconds_by_verdict.items(), key=lambda item: -item[1]
        )
        if verdict is not Verdict.NO_PERSON and seconds >= 1
    ]
    if parts:
        console.print("Time by posture: " + ", ".join(parts))
    console.print(
        f"Nudges: {len(summary.nudges)}, bad-posture episodes: {len(summary.episodes)}, "
        f"breaks: {len(summary.breaks)}"
    )
    if summary.view_advice:
        console.print(f"Note: {summary.view_advice}.")
    if summary.judged_note:
        note = summary.judged_note[0].upper() + summary.judged_note[1:]
        console.print(f"{note}: `{command_name()} calibrate` fits you from the start.")
    if summary.camera_gaps_s:
        gap = sum(summary.camera_gaps_s)
        console.print(
            f"Camera unavailable {len(summary.camera_gaps_s)} time(s), {gap:.0f} s in all."
        )
    lent = [seconds for cause, seconds in summary.gaps if cause == "in use"]
    if lent:
        console.print(
            f"Camera left to other programs {len(lent)} time(s), {_minutes(sum(lent))} in all."
        )
    paused = sum(seconds for cause, seconds in summary.gaps if cause == "paused")
    if paused:
        console.print(f"Paused {_minutes(paused)}.")
    asleep = sum(seconds for cause, seconds in summary.gaps if cause == "clock")
    if asleep:
        console.print(
            f"Not watched while the computer slept or its clock was set: {_minutes(asleep)}."
        )


def _earlier_today(recorder: object) -> list[MinuteRow]:
    """The history's minutes of today so far (none without a history)."""
    if not isinstance(recorder, HistoryStore):
        return []
    return recorder.minutes(*day_bounds(datetime.now().astimezone().date()))


def _scorer_for(profile_name: str | None) -> tuple[Judge, str | None, str | None]:
    """The judge for this run, the profile's name, and a notice for the user about it."""
    store = profile_store()
    name = profile_name or (DEFAULT_PROFILE_NAME if store.exists(DEFAULT_PROFILE_NAME) else None)
    if name is None:
        notice = (
            "No calibration yet: learning your upright posture from this session (about a "
            "minute of sitting upright), judged by a population default until then. "
            f"`{command_name()} calibrate` fits you from the start."
        )
        return LearningScorer(), None, notice
    profile = store.load(name)
    if profile.forced:
        return (
            Scorer(profile),
            profile.name,
            f"Note: profile {profile.name!r} was kept with --force although it did not look "
            f"upright; `{command_name()} calibrate` sitting tall gives fairer verdicts.",
        )
    return Scorer(profile), profile.name, None


def saved_judge(profile_name: str | None) -> Scorer:
    """The judge of the saved profile `profile_name` ('default' when None): what a
    monitor reloads after a recalibration. Raises `ProfileError` when it cannot be read."""
    return Scorer(profile_store().load(profile_name or DEFAULT_PROFILE_NAME))


F = TypeVar("F", bound=Callable[..., Any])


def monitor_options(command: F) -> F:
    """The options `posture monitor` and `posture tray` share."""
    options = [
        source_option("A camera index, or a recorded video or folder of images to replay."),
        click.option(
            "--profile",
            "profile_name",
            metavar="NAME",
            help="Calibrated profile to judge against [default: 'default' if it exists].",
        ),
        click.option(
            "--fps",
            type=FiniteFloatRange(min=MIN_FPS, max=MAX_FPS),
            help="Frames analysed per second [default: 2, or as configured].",
        ),
        click.option(
            "--notifier",
            "notifier_choice",
            type=click.Choice(NOTIFIER_CHOICES),
            help="Where nudges go [default: auto (desktop if available, else this terminal)].",
        ),
        click.option(
            "--speed",
            type=ReplaySpeed(),
            default=1.0,
            show_default=True,
            help="Replay speed for files (1 = real time, 0 = as fast as possible).",
        ),
        click.option(
            "--snooze",
            "snoozed_at_start_min",
            type=FiniteFloatRange(min=0),
            default=0.0,
            help="Start with nudges paused for this many minutes.",
        ),
        click.option("--quiet", is_flag=True, help="No live status line."),
        click.option(
            "--no-history", is_flag=True, help="Do not record this session in the history."
        ),
        click.option(
            "--record",
            is_flag=True,
            help="Record a replayed file in the history too, filed in the minutes just before "
            "the replay began, never in the future (a camera session is always recorded, "
            "unless --no-history).",
        ),
        click.option(
            "--no-lock-pause",
            is_flag=True,
            help="Go on watching the camera while the screen is locked, the screen saver is on "
            "or the computer goes to sleep (by default the monitor then pauses, frees the "
            "camera and counts the time as a break; Linux).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class MonitorOptions:
    """What `posture monitor` or `posture tray` was asked for, as given."""

    source_spec: str
    profile_name: str | None
    fps: float | None
    notifier_choice: str | None
    speed: float
    snoozed_at_start_min: float
    quiet: bool
    no_history: bool
    record: bool
    no_lock_pause: bool
    preview: bool = False


# Runs the monitor's loop (the second argument) under something, and returns its summary:
# `posture tray` runs it under the tray icon.
Host = Callable[[Controls, Callable[[], MonitorSummary]], MonitorSummary]


@click.command()
@monitor_options
@click.option(
    "--preview",
    is_flag=True,
    help="Show the picture with the skeleton and verdict in a window (needs a display).",
)
def monitor(**options: Any) -> None:
    """Watch your posture in the background and nudge when it matters.

    Samples the camera a couple of times a second, judges each frame against
    your calibrated upright posture, and reminds you (sit back, chin in, screen
    at eye level, stand up and move) when bad posture lasts 30 s or a break is
    due after 45 min. Away from the desk: no nudges, and it counts as a break.
    While the screen is locked or the computer sleeps, a camera is let go and
    the time counts as a break (Linux; --no-lock-pause to go on watching).
    In a terminal, press Enter to snooze nudges for 30 minutes, q and Enter to
    quit; Ctrl+C, closing the terminal or SIGTERM also stop it, with a summary.
    One monitor runs per data folder. A replayed file is recorded in the history
    only with --record. No frame is ever stored.

    Durations, fps and where nudges go can be set in a config file: see
    `posture config show`. Flags win over the environment, which wins over
    the file.
    """
    run_monitor(MonitorOptions(**options))


def run_monitor(options: MonitorOptions, host: Host | None = None) -> None:
    """`posture monitor` (or, with a `host`, `posture tray`), from its options to the summary."""
    if options.record and options.no_history:
        raise click.UsageError("--record and --no-history contradict each other: choose one")
    out, err = stdout(), stderr()
    config, _ = load_config({"fps": options.fps, "notifier": options.notifier_choice})
    camera = options.source_spec.strip().isdigit()
    # A replay is not today's sitting: it is recorded only when asked.
    recorded = (camera or options.record) and not options.no_history
    # One monitor per data folder: a second would count every minute twice and nudge
    # twice. Taken first, so a refused monitor touches nothing.
    lock = InstanceLock(data_dir(), _watching(options.source_spec))
    run = _Run(
        options.source_spec,
        options.profile_name,
        options.speed,
        options.snoozed_at_start_min,
        options.quiet,
        recorded,
        options.preview,
        # Only a camera is let go while nobody can be at the screen: a recording's
        # posture does not depend on it.
        watch_screen=camera and not options.no_lock_pause,
    )
    with lock if camera or recorded else contextlib.nullcontext():
        summary = _monitor_session(run, config, host)
    if err.is_terminal and not options.quiet:
        err.file.write("\n")
    print_summary(summary, out)
    if not (camera or options.record or options.no_history):
        err.print("A replay is not kept in your history: add --record to keep it.")


def _watching(source_spec: str) -> str:
    """What a monitor watches, for the lock's holder line: "camera 0" or the file."""
    spec = source_spec.strip()
    return f"camera {spec}" if spec.isdigit() else str(Path(spec).expanduser().resolve())


@dataclass(frozen=True)
class _Run:
    """What `posture monitor` was asked for, past the checks."""

    source_spec: str
    profile_name: str | None
    speed: float
    snoozed_at_start_min: float  # --snooze: nudges paused from the start for this long
    quiet: bool
    recorded: bool
    preview: bool
    watch_screen: bool  # pause while the screen is locked or the computer sleeps


@contextlib.contextmanager
def screen_watched(controls: Controls, watch: bool) -> Iterator[ScreenWatcher | None]:
    """The screen-lock watcher pausing the monitor while nobody can be at the screen.

    What it watches, and why it watches nothing where there is no D-Bus, is logged
    (`posture --verbose monitor` shows it): the monitor runs the same without it.
    """
    if not watch:
        yield None
        return
    watcher = ScreenWatcher(controls)
    watcher.start()
    log.info("pausing when away: watching %s", ", ".join(watcher.watching) or "nothing")
    for problem in watcher.problems:
        log.info("pausing when away: %s", problem)
    try:
        yield watcher
    finally:
        watcher.stop()


def say_notices(console: Console) -> Callable[[Snapshot], None]:
    """A snapshot listener that prints the monitor's notices (a profile not reloaded)."""

    def listen(snapshot: Snapshot) -> None:
        if snapshot.notice:
            console.print(f"posture: {snapshot.notice}", markup=False, highlight=False)

    return listen


def _monitor_session(run: _Run, config: MonitorConfig, host: Host | None) -> MonitorSummary:
    """One monitoring session, from opening the history to the loop's end."""
    out, err = stdout(), stderr()
    window = PreviewWindow() if run.preview else None
    scorer, name, notice = _scorer_for(run.profile_name)
    notifier = make_notifier(config.notifier, out)
    settings = MonitorSettings(fps=config.fps, speed=run.speed, policy=config.policy())
    history = HistoryStore() if run.recorded else contextlib.nullcontext(NullRecorder())
    with (
        history as recorder,
        Controls() as controls,
        stop_on_signals(controls),
        screen_watched(controls, run.watch_screen),
    ):
        runner = Monitor(
            lambda: open_throttled(run.source_spec, config.fps, lambda: controls.stopped),
            scorer,
            notify=lambda event: notifier.notify(Notice.from_nudge(event)),
            recorder=recorder,
            settings=settings,
            status=None if run.quiet else status_printer(err),
            controls=controls,
            source_name=run.source_spec,
            profile_name=name,
            preview=window,
            earlier_today=_earlier_today(recorder),
        )
        if notice:
            say_once_watching(controls, err.print, notice)
        controls.subscribe(say_notices(err))
        if run.snoozed_at_start_min:
            controls.snooze(run.snoozed_at_start_min)
        # Enter snoozes for the configured time, whatever --snooze said for the start.
        listen_for_keys(controls, config.snooze_minutes, err)
        try:
            return runner.run() if host is None else host(controls, runner.run)
        finally:
            notifier.close()
            if window is not None:
                window.close()


# The demo compresses the policy so that a 40 s recording shows what a working
# day would: nudges after 3 s of bad posture instead of 30 s, and so on. A break
# still falls due after the usual sitting (NudgePolicy's), which 40 s never reaches.
DEMO_POLICY = NudgePolicy(
    sustained_bad_s=3.0,
    good_to_end_s=2.0,
    cooldown_s=8.0,
    away_after_s=3.0,
    break_min_s=5.0,
)
DEMO_CALIBRATION_END_S = 9.5
HISTORY_FILE = "history.sqlite3"
# Written into every folder the demo makes: the only folders it will ever empty.
DEMO_MARKER = ".posture-demo"


def _calibrate_on(video: Path, store: ProfileStore, end_s: float) -> Profile:
    with open_source(video, end_ms=round(end_s * 1000)) as source:
        samples = [
            CalibrationSample(row.metrics, row.person_count, row.brightness)
            for row in calibration_frames(source)
        ]
        description = f"{source.description} (0-{end_s:g} s)"
    profile = build_profile(samples, name="demo", source=description)
    store.save(profile)
    return profile


@click.command()
@click.option(
    "--video",
    type=NamedPath(),
    default=Path("samples/session.mp4"),
    show_default=True,
    help="The recorded session to replay.",
)
@click.option(
    "--speed",
    type=ReplaySpeed(),
    default=0.0,
    show_default=True,
    help="Replay speed (0 = as fast as possible, 1 = real time).",
)
@click.option(
    "--home",
    type=NamedPath(),
    default=Path(tempfile.gettempdir()) / "posture-demo",
    show_default=True,
    help="Where the demo keeps its profile and history: a new or empty folder, or one an "
    "earlier demo made (emptied first).",
)
def demo(video: Path, speed: float, home: Path) -> None:
    """Calibrate and monitor on the bundled sample session: no camera needed.

    Calibrates on the session's upright opening, then replays the whole session
    (upright, slouched, upright, reclined) through the monitor with the nudge
    timings compressed (3 s instead of 30 s) and nudges printed here. Writes
    only to a temporary folder, never to your real profiles or history.
    """
    if not video.is_file():
        raise SourceError(
            f"sample session not found at '{video}': run from the repository folder, "
            "or pass --video PATH"
        )
    out = stdout()
    _fresh_demo_home(home)
    store = ProfileStore(home / "profiles")
    out.print(
        f"1. Calibrating on the upright opening of {video} (0-{DEMO_CALIBRATION_END_S:g} s)..."
    )
    profile = _calibrate_on(video, store, DEMO_CALIBRATION_END_S)
    out.print(f"   {profile.frame_count} frames, {profile.view.value} view.")
    out.print("2. Replaying the whole session through the monitor.")
    out.print(
        f"   Nudges come after {DEMO_POLICY.sustained_bad_s:g} s of bad posture here "
        "(30 s in real use):"
    )
    with HistoryStore(home / HISTORY_FILE) as history:
        history.record_calibration(
            datetime.now().astimezone(), profile.name, profile.view.value, profile.frame_count
        )
        runner = Monitor(
            lambda: open_throttled(str(video), 2.0),
            Scorer(profile),
            notify=terminal_nudge(out, lambda s: f"{s:5.1f} s"),
            recorder=history,
            settings=MonitorSettings(speed=speed, policy=DEMO_POLICY),
            source_name=str(video),
            profile_name=profile.name,
        )
        summary = runner.run()
        out.print("3. Summary:")
        print_summary(summary, out)
        out.print("4. The day's report, from the history just written:")
        day = summary.started_at.date()
        show_report(history, day, day, out=out)
    out.print(
        f"The demo's history is in {home} (not your real one): "
        f"POSTURE_HOME={home} {command_name()} report --html report.html",
        soft_wrap=True,
    )


def _fresh_demo_home(home: Path) -> None:
    """The demo's folder, emptied at each run; kept afterwards so its report can be reopened.

    Only a folder the demo made itself (it holds the demo's marker file, owned by
    this user) is ever emptied. A new or empty folder is taken and marked; anything
    else (a real data folder, a symbolic link, a file, someone's papers) is refused:
    a mistyped --home must not delete anything.
    """

    def refuse(why: str) -> DemoHomeError:
        return DemoHomeError(f"--home '{home}' {why}: pass --home with a new or empty folder")

    if home.is_symlink():
        raise refuse("is a symbolic link, which the demo does not follow")
    if home.exists() and not home.is_dir():
        raise refuse("is not a folder")
    try:
        if home.is_dir() and any(home.iterdir()):
            marker = home / DEMO_MARKER
            if marker.is_symlink() or not marker.is_file():
                raise refuse(f"was not made by the demo (it has no {DEMO_MARKER} file)")
            my_uid = getattr(os, "getuid", None)  # not on Windows
            if my_uid is not None and marker.stat().st_uid != my_uid():
                raise refuse("was made by another user's demo")
            shutil.rmtree(home)
        private_folder(home)
        write_private(
            home / DEMO_MARKER, b"Made by `posture demo`, which empties this folder at each run.\n"
        )
    except PathError as error:
        raise refuse(f"cannot be prepared ({error})") from None
    except OSError as error:
        raise refuse(f"cannot be prepared ({error.strerror or error})") from None
