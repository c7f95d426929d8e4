"""Notification sinks: one suite over every sink, the terminal line, the choice of sink,
the fallback when the desktop fails, and real notifications on a private D-Bus.

The D-Bus tests start their own session bus (dbus-daemon) with a mock notification
daemon on it (tests/dbus_notifications.py, served with dbus-fast: no dbus-python or C
build needed), point DBUS_SESSION_BUS_ADDRESS there, and tear both down afterwards:
nothing reaches the desktop of whoever runs the tests.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from rich.console import Console

from posture.cli.exits import exit_code
from posture.errors import PostureError
from posture.notify import (
    INSTALL_HINT,
    KINDS,
    DesktopNotifier,
    LibraryBackend,
    Notice,
    Notifier,
    NotifierError,
    NullNotifier,
    RecordingNotifier,
    TerminalNotifier,
    make_notifier,
    resolve_choice,
)
from posture.nudges import NudgeEvent
from posture.vocabulary import Verdict
from tests.conftest import REPO

AT_10_42 = datetime(2024, 5, 6, 10, 42, 7)
SIT_BACK = Notice("Posture", "Sit back and let the chair support your upper back.", "posture", 1)
HAS_LIBRARY = importlib.util.find_spec("desktop_notifier") is not None
needs_library = pytest.mark.skipif(
    not HAS_LIBRARY, reason=f"desktop-notifier not installed ({INSTALL_HINT})"
)
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the D-Bus notification backend is Linux's"
)


class TtyStream(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class FakeBackend:
    """Stands in for desktop-notifier: records what it is sent, fails on demand."""

    def __init__(self, fail_from: int | None = None) -> None:
        self.sent: list[Notice] = []
        self.fail_from = fail_from  # the index of the first send that fails
        self.closed = 0

    def send(self, notice: Notice) -> None:
        if self.fail_from is not None and len(self.sent) >= self.fail_from:
            raise RuntimeError("org.freedesktop.Notifications went away")
        self.sent.append(notice)

    def close(self) -> None:
        self.closed += 1


def notices() -> list[Notice]:
    return [
        Notice(kind.capitalize(), f"A {kind} reminder at level {level}.", kind, level)
        for kind in KINDS
        for level in (1, 2, 3)
    ]


# -- Notice ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        (("", "Sit back.", "posture", 1), "title and a message"),
        (("Posture", "  ", "posture", 1), "title and a message"),
        (("Posture", "Sit back.", "nagging", 1), "kind must be one of"),
        (("Posture", "Sit back.", "posture", 0), "level must be 1, 2 or 3"),
        (("Posture", "Sit back.", "posture", 4), "level must be 1, 2 or 3"),
        (("Posture", "Sit back.", "posture", True), "level must be 1, 2 or 3"),
    ],
)
def test_a_notice_is_validated(fields: tuple[Any, ...], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Notice(*fields)


@pytest.mark.parametrize(
    ("kind", "title"),
    [("posture", "Posture"), ("distance", "Screen distance"), ("break", "Movement break")],
)
def test_a_nudge_becomes_a_notice_with_a_title(kind: str, title: str) -> None:
    event = NudgeEvent(12.0, kind, Verdict.SLOUCH, 2, "Sit back.")
    assert Notice.from_nudge(event) == Notice(title, "Sit back.", kind, 2)


# -- one suite over every sink ---------------------------------------------------------------


@dataclass
class Sink:
    notifier: Notifier
    shown: Callable[[], list[str]] | None  # what reached the user, if observable


def _terminal_lines(stream: io.StringIO) -> Callable[[], list[str]]:
    return lambda: stream.getvalue().splitlines()


def _null() -> Sink:
    return Sink(NullNotifier(), None)


def _recording() -> Sink:
    notifier = RecordingNotifier()
    return Sink(notifier, lambda: [n.message for n in notifier.notices])


def _terminal() -> Sink:
    stream = io.StringIO()
    return Sink(TerminalNotifier(stream, now=lambda: AT_10_42), _terminal_lines(stream))


def _desktop() -> Sink:
    backend = FakeBackend()
    notifier = DesktopNotifier(TerminalNotifier(io.StringIO()), backend=backend)
    return Sink(notifier, lambda: [n.message for n in backend.sent])


@pytest.fixture(params=[_null, _recording, _terminal, _desktop], ids=lambda f: f.__name__[1:])
def sink(request: pytest.FixtureRequest) -> Iterator[Sink]:
    made: Sink = request.param()
    yield made
    made.notifier.close()


def test_every_sink_is_a_notifier_with_a_name(sink: Sink) -> None:
    assert isinstance(sink.notifier, Notifier)
    assert sink.notifier.name and isinstance(sink.notifier.name, str)


def test_every_sink_takes_every_kind_and_level(sink: Sink) -> None:
    for notice in notices():
        sink.notifier.notify(notice)
    if sink.shown is not None:
        shown = sink.shown()
        assert len(shown) == len(notices())
        for notice, line in zip(notices(), shown, strict=True):
            assert notice.message in line


def test_every_sink_can_be_closed_twice(sink: Sink) -> None:
    """The monitor's shutdown and the sink fixture's teardown both close: the second
    close neither raises nor repeats or loses what the user was already shown."""
    sink.notifier.notify(SIT_BACK)
    sink.notifier.close()
    sink.notifier.close()
    if sink.shown is not None:
        [line] = sink.shown()
        assert SIT_BACK.message in line


def test_the_recording_sink_keeps_notices_in_order() -> None:
    notifier = RecordingNotifier()
    for notice in notices():
        notifier.notify(notice)
    notifier.close()
    assert notifier.notices == notices() and notifier.closed


# -- the terminal sink -----------------------------------------------------------------------


def test_the_terminal_line_says_when_what_and_how() -> None:
    stream = io.StringIO()
    TerminalNotifier(stream, now=lambda: AT_10_42).notify(SIT_BACK)
    assert stream.getvalue() == (
        "⏰ 10:42  Posture: Sit back and let the chair support your upper back.\n"
    )


def test_the_bell_rings_only_on_a_terminal() -> None:
    tty, log = TtyStream(), io.StringIO()
    TerminalNotifier(tty, now=lambda: AT_10_42).notify(SIT_BACK)
    TerminalNotifier(log, now=lambda: AT_10_42).notify(SIT_BACK)
    assert tty.getvalue().startswith("\a⏰ 10:42")
    assert "\a" not in log.getvalue()


def test_the_bell_can_be_turned_off() -> None:
    tty = TtyStream()
    TerminalNotifier(tty, bell=False).notify(SIT_BACK)
    assert "\a" not in tty.getvalue()


def test_forced_colour_does_not_put_bells_into_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    log = io.StringIO()
    TerminalNotifier(log).notify(SIT_BACK)
    assert "\a" not in log.getvalue()


def test_a_terminal_gets_colour_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    insistent = Notice("Posture", "Stand up for a minute.", "posture", 3)

    def show() -> str:
        stream = TtyStream()
        console = Console(file=stream, force_terminal=True, color_system="standard")
        TerminalNotifier(console, bell=False).notify(insistent)
        return stream.getvalue()

    monkeypatch.delenv("NO_COLOR", raising=False)
    coloured = show()
    monkeypatch.setenv("NO_COLOR", "1")
    plain = show()
    assert "\x1b[1;31mPosture:" in coloured
    assert "31m" not in plain and "\x1b[1mPosture:\x1b[0m Stand up for a minute." in plain


def test_a_long_message_stays_on_one_line_and_markup_is_not_interpreted() -> None:
    stream = io.StringIO()
    console = Console(file=stream, width=30, highlight=False)
    message = "Chin in [bold]gently[/bold]: ears back over your shoulders, " * 3
    TerminalNotifier(console).notify(Notice("Posture", message.strip(), "posture"))
    assert stream.getvalue().count("\n") == 1
    assert "[bold]gently[/bold]" in stream.getvalue()


def test_an_ascii_terminal_gets_no_emoji() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    TerminalNotifier(stream, now=lambda: AT_10_42).notify(SIT_BACK)
    stream.flush()
    assert raw.getvalue().startswith(b"* 10:42  Posture: Sit back")


# -- choosing a sink -------------------------------------------------------------------------

DESKTOP_SESSION = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus"}


def _console() -> Console:
    return Console(file=io.StringIO())


@pytest.mark.parametrize(
    ("choice", "kind"),
    [("none", NullNotifier), ("terminal", TerminalNotifier), (" Terminal ", TerminalNotifier)],
)
def test_plain_choices(choice: str, kind: type) -> None:
    assert isinstance(make_notifier(choice, _console(), DESKTOP_SESSION, "linux"), kind)


def test_an_unknown_choice_lists_the_choices() -> None:
    with pytest.raises(NotifierError) as caught:
        make_notifier("popup", _console())
    assert str(caught.value) == (
        "unknown notifier 'popup': choose one of auto, desktop, terminal, none"
    )
    # The CLI alone knows exit codes: bad arguments, 2.
    assert isinstance(caught.value, PostureError) and exit_code(caught.value) == 2


def test_auto_without_a_desktop_session_is_the_terminal() -> None:
    notifier = make_notifier("auto", _console(), {}, "linux")
    assert isinstance(notifier, TerminalNotifier)
    assert resolve_choice("auto", {}, "linux") == (
        "terminal",
        "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)",
    )


def test_desktop_without_a_desktop_session_says_what_to_do() -> None:
    if not HAS_LIBRARY:
        pytest.skip(f"desktop-notifier not installed ({INSTALL_HINT})")
    with pytest.raises(NotifierError) as caught:
        make_notifier("desktop", _console(), {}, "linux")
    assert str(caught.value) == (
        "desktop notifications are not possible here: no D-Bus session bus "
        "(DBUS_SESSION_BUS_ADDRESS is not set); run posture inside your desktop session, "
        'or set notifier = "terminal"'
    )


@pytest.fixture
def no_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if desktop-notifier were not installed: `import desktop_notifier` fails."""
    monkeypatch.setitem(sys.modules, "desktop_notifier", None)


@pytest.mark.usefixtures("no_library")
def test_without_the_library_desktop_gives_the_install_hint() -> None:
    with pytest.raises(NotifierError) as caught:
        make_notifier("desktop", _console(), DESKTOP_SESSION, "linux")
    assert str(caught.value) == (
        "desktop notifications need the desktop-notifier library: "
        'pip install "posture[notify]", or set notifier = "terminal"'
    )


@pytest.mark.usefixtures("no_library")
def test_without_the_library_auto_is_the_terminal() -> None:
    assert isinstance(make_notifier("auto", _console(), DESKTOP_SESSION), TerminalNotifier)
    sink, why = resolve_choice("auto", DESKTOP_SESSION, "linux")
    assert sink == "terminal" and INSTALL_HINT in why


@needs_library
def test_auto_in_a_desktop_session_is_the_desktop() -> None:
    notifier = make_notifier("auto", _console(), DESKTOP_SESSION, "linux")
    try:
        assert isinstance(notifier, DesktopNotifier)
        assert isinstance(notifier.fallback, TerminalNotifier)
    finally:
        notifier.close()


@needs_library
@pytest.mark.parametrize(
    ("backend", "sink"),
    [("DummyNotificationCenter", "terminal"), ("CocoaNotificationCenter", "desktop")],
)
def test_where_the_library_would_drop_notifications_auto_is_the_terminal(
    monkeypatch: pytest.MonkeyPatch, backend: str, sink: str
) -> None:
    import desktop_notifier.main

    monkeypatch.setattr(desktop_notifier.main, "get_backend_class", lambda: type(backend, (), {}))
    assert resolve_choice("auto", {}, "darwin")[0] == sink


# -- when the desktop fails at run time -------------------------------------------------------


def test_a_failing_desktop_warns_once_and_falls_back_for_good(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend, fallback = FakeBackend(fail_from=1), RecordingNotifier()
    notifier = DesktopNotifier(fallback, backend=backend)
    later = [Notice("Posture", f"Reminder {i}.", "posture") for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="posture.notify"):
        notifier.notify(SIT_BACK)
        for notice in later:
            notifier.notify(notice)
    assert backend.sent == [SIT_BACK]
    assert fallback.notices == later  # the one that failed, and every one after it
    assert backend.closed == 1 and notifier.backend is None
    assert notifier.failure == "org.freedesktop.Notifications went away"
    assert [r.getMessage() for r in caplog.records] == [
        "desktop notifications failed (org.freedesktop.Notifications went away); "
        "reminders are shown in the terminal from now on"
    ]
    notifier.close()
    assert fallback.closed


@needs_library
@linux_only
def test_the_library_failing_to_reach_d_bus_falls_back_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    stream = io.StringIO()
    notifier = DesktopNotifier(TerminalNotifier(stream, now=lambda: AT_10_42))
    with caplog.at_level(logging.DEBUG):
        notifier.notify(SIT_BACK)
    notifier.close()
    assert stream.getvalue().startswith("⏰ 10:42  Posture: Sit back")
    assert notifier.failure is not None and "No such file" in notifier.failure
    assert [r.name for r in caplog.records if r.levelno >= logging.WARNING] == ["posture.notify"]
    assert not any(r.exc_info for r in caplog.records)


# -- real notifications on a private D-Bus session ---------------------------------------------


@dataclass
class PrivateSession:
    address: str
    # Starts the mock notification daemon (tests/dbus_notifications.py) on the bus and
    # returns it; notify_delay_s makes it answer Notify that much later.
    start_daemon: Callable[..., Any]


@pytest.fixture
def private_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateSession]:
    """A private D-Bus session bus, torn down afterwards, with DBUS_SESSION_BUS_ADDRESS on it."""
    if not sys.platform.startswith("linux"):
        pytest.skip("desktop notifications go over D-Bus on Linux only")
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon not found (Debian/Ubuntu: apt-get install dbus)")
    if not HAS_LIBRARY:
        pytest.skip(f"desktop-notifier not installed ({INSTALL_HINT})")
    # desktop-notifier brings dbus-fast on Linux; its typed annotations need dbus-fast >= 4.
    pytest.importorskip("dbus_fast.annotations", reason="dbus-fast >= 4 not installed")
    from tests.dbus_notifications import NotificationService, private_session_bus

    with contextlib.ExitStack() as stack:
        address = stack.enter_context(private_session_bus())
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)

        def start_daemon(notify_delay_s: float = 0.0) -> NotificationService:
            # Entered last, so stopped before the bus goes away.
            return stack.enter_context(NotificationService(address, notify_delay_s))

        yield PrivateSession(address, start_daemon)


def test_a_real_notification_reaches_the_notification_daemon(
    private_session: PrivateSession,
) -> None:
    daemon = private_session.start_daemon()
    stream = io.StringIO()
    notifier = make_notifier("auto", Console(file=stream))
    insistent = Notice("Movement break", "Stand up and walk a few steps.", "break", 3)
    try:
        assert isinstance(notifier, DesktopNotifier)
        notifier.notify(SIT_BACK)
        notifier.notify(insistent)
    finally:
        notifier.close()
    calls = daemon.calls
    assert [(c.app_name, c.summary, c.body) for c in calls] == [
        ("posture", SIT_BACK.title, SIT_BACK.message),
        ("posture", insistent.title, insistent.message),
    ]
    assert [c.urgency for c in calls] == ["normal", "critical"]
    assert notifier.failure is None and stream.getvalue() == ""


def test_no_notification_daemon_on_the_bus_falls_back_to_the_terminal(
    private_session: PrivateSession, caplog: pytest.LogCaptureFixture
) -> None:
    stream = io.StringIO()
    notifier = make_notifier("desktop", Console(file=stream))
    with caplog.at_level(logging.WARNING):
        notifier.notify(SIT_BACK)
        notifier.notify(SIT_BACK)
    notifier.close()
    assert stream.getvalue().count("Posture: Sit back") == 2
    assert [r.name for r in caplog.records] == ["posture.notify"]
    assert "org.freedesktop.Notifications" in caplog.records[0].getMessage()


def test_a_hung_notification_daemon_costs_the_monitor_at_most_the_time_limit(
    private_session: PrivateSession,
) -> None:
    daemon = private_session.start_daemon(notify_delay_s=3.0)
    fallback = RecordingNotifier()
    notifier = DesktopNotifier(fallback, LibraryBackend(timeout_s=0.5))
    started = time.monotonic()
    notifier.notify(SIT_BACK)
    elapsed = time.monotonic() - started
    notifier.close()
    assert [c.summary for c in daemon.calls] == [SIT_BACK.title]  # it arrived, no answer came
    assert fallback.notices == [SIT_BACK]
    assert notifier.failure == "no answer from the notification service within 0.5 s"
    assert elapsed < 2.5


NETWORK_BLOCKED_SEND = textwrap.dedent(
    """
    import io, socket, sys
    from posture.netguard import block_network
    if not block_network():
        sys.exit(77)
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sys.exit("an internet socket could still be opened")
    except PermissionError:
        pass
    from posture.notify import DesktopNotifier, Notice, RecordingNotifier
    fallback = RecordingNotifier()
    notifier = DesktopNotifier(fallback)
    notifier.notify(Notice("Blocked", "Sent with internet sockets forbidden.", "info", 1))
    notifier.close()
    print("fell back:", notifier.failure) if fallback.notices else print("sent")
    """
)


def test_notifications_still_work_when_the_network_is_blocked(
    private_session: PrivateSession,
) -> None:
    daemon = private_session.start_daemon()
    child = subprocess.run(
        [sys.executable, "-c", NETWORK_BLOCKED_SEND],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if child.returncode == 77:
        pytest.skip("the network block is not available on this system")
    assert (child.returncode, child.stdout.strip()) == (0, "sent"), child.stderr
    assert [(c.summary, c.body) for c in daemon.calls] == [
        ("Blocked", "Sent with internet sockets forbidden.")
    ]
