"""Where reminders go: desktop notifications, the terminal, or nowhere.

Every sink is a `Notifier` (`notify(notice)`, `close()`), and `make_notifier`
is the one place a sink is chosen from the user's setting ("auto", "desktop",
"terminal", "none"):

    notifier = make_notifier("auto", Console())
    notifier.notify(Notice("Posture", "Sit back and let the chair support you.", "posture", 1))
    notifier.close()

Desktop notifications come from the optional `desktop-notifier` library
(`pip install "posture[notify]"`), imported only when a desktop sink is made.
On Linux it speaks org.freedesktop.Notifications over the D-Bus session bus,
a unix socket, so it keeps working after `posture.netguard` has forbidden
internet sockets. A reminder must never crash the monitor: if the desktop
cannot take one (no notification daemon, D-Bus gone), the sink warns once and
prints that reminder and every later one in the terminal instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

from rich.console import Console
from rich.text import Text

from posture.errors import NotifierError
from posture.vocabulary import NUDGE_KINDS

if TYPE_CHECKING:
    from posture.nudges import NudgeEvent

log = logging.getLogger(__name__)

# A notice is a nudge, or information about posture itself ("info").
KINDS = (*NUDGE_KINDS, "info")
LEVELS = (1, 2, 3)  # 1 gentle, 2 firmer (the same episode goes on), 3 insistent
NOTIFIER_CHOICES = ("auto", "desktop", "terminal", "none")
INSTALL_HINT = 'pip install "posture[notify]"'
TITLES = {
    "posture": "Posture",
    "distance": "Screen distance",
    "break": "Movement break",
    "info": "posture",
}
# A notification daemon answers in milliseconds; one started on demand by D-Bus
# activation may take a second or two. Past this, the monitor has waited long
# enough: the reminder goes to the terminal instead.
DESKTOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Notice:
    """One reminder to show: a short title, one sentence, its kind and insistence."""

    title: str
    message: str
    kind: str
    level: int = 1

    def __post_init__(self) -> None:
        if not self.title.strip() or not self.message.strip():
            raise ValueError(f"a notice needs a title and a message, got {self!r}")
        if self.kind not in KINDS:
            raise ValueError(f"notice kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if isinstance(self.level, bool) or self.level not in LEVELS:
            raise ValueError(f"notice level must be 1, 2 or 3, got {self.level!r}")

    @classmethod
    def from_nudge(cls, event: NudgeEvent) -> Notice:
        """The nudge as a notification shows it: titled by its kind, since a banner
        seen from the corner of an eye is read by its title."""
        return cls(TITLES.get(event.kind, event.kind), event.message, event.kind, event.level)


@runtime_checkable
class Notifier(Protocol):
    """A sink for reminders. `notify` never raises for a valid notice."""

    name: str

    def notify(self, notice: Notice) -> None:
        """Show the reminder now; a sink that cannot must fall back or drop it,
        since a reminder that fails must never stop the monitor."""

    def close(self) -> None:
        """Release what the sink holds (a D-Bus connection); a second call does nothing."""


class NullNotifier:
    """Drops every reminder (`notifier = "none"`: the status line is enough)."""

    name = "none"

    def notify(self, notice: Notice) -> None:
        """Dropped: the user chose the status line alone."""

    def close(self) -> None:
        """Nothing held, nothing to release."""


class RecordingNotifier:
    """Keeps every reminder in `notices`: for tests, and for `posture demo`'s summary."""

    name = "recording"

    def __init__(self) -> None:
        self.notices: list[Notice] = []
        self.closed = False

    def notify(self, notice: Notice) -> None:
        """Kept in order, for a test or the demo's summary to read afterwards."""
        self.notices.append(notice)

    def close(self) -> None:
        """Only noted, so that a test can check the monitor closes its sink."""
        self.closed = True


# Colour marks how insistent a reminder is; NO_COLOR (honoured by rich) leaves bold only.
_LEVEL_STYLE = {1: "bold cyan", 2: "bold yellow", 3: "bold red"}


class TerminalNotifier:
    """One line per reminder, `⏰ 10:42  Posture: Sit back ...`, with a bell on a terminal."""

    name = "terminal"

    def __init__(
        self,
        console_or_stream: Console | TextIO,
        bell: bool = True,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        if isinstance(console_or_stream, Console):
            self.console = console_or_stream
        else:
            self.console = Console(file=console_or_stream, highlight=False)
        self.bell = bell
        self.now = now

    def notify(self, notice: Notice) -> None:
        """One line; the bell only on a real terminal, never into a log file."""
        if self.bell and _is_tty(self.console.file):
            self.console.bell()
        line = Text()
        line.append(f"{self._icon()} {self.now():%H:%M}  ")
        line.append(f"{notice.title}:", style=_LEVEL_STYLE[notice.level])
        line.append(f" {notice.message}")
        # soft_wrap: one reminder stays one line in a log, whatever the console width.
        self.console.print(line, soft_wrap=True)

    def close(self) -> None:
        """Nothing to release: the stream is the caller's."""

    def _icon(self) -> str:
        # The alarm clock cannot be encoded on a Latin-1 or ASCII terminal.
        return "⏰" if self.console.encoding.lower().startswith("utf") else "*"


def _is_tty(stream: object) -> bool:
    """The stream itself, not rich's guess: FORCE_COLOR must not put bells into a log file."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # closed
        return False


class DesktopBackend(Protocol):
    """What `DesktopNotifier` needs from a notification library. `send` raises on failure."""

    def send(self, notice: Notice) -> None:
        """Show one notification, or raise: `DesktopNotifier` falls back on failure."""

    def close(self) -> None:
        """Let go of the notification service; a second call does nothing."""


class DesktopNotifier:
    """Desktop notifications, falling back to `fallback` for good after the first failure."""

    name = "desktop"

    def __init__(
        self,
        fallback: Notifier,
        backend: DesktopBackend | None = None,
        timeout_s: float = DESKTOP_TIMEOUT_S,
    ) -> None:
        self.fallback = fallback
        self.backend: DesktopBackend | None = (
            backend if backend is not None else LibraryBackend(timeout_s)
        )
        self.failure: str | None = None

    def notify(self, notice: Notice) -> None:
        """On the desktop while it works; after its first failure on the fallback
        for good, since each new try could cost the whole time limit again."""
        if self.backend is not None:
            try:
                self.backend.send(notice)
                return
            # Anything at all: a reminder that cannot be shown must not stop the monitor.
            except Exception as error:
                self._give_up(error)
        self.fallback.notify(notice)

    def close(self) -> None:
        """The backend and the fallback both: either may hold a connection."""
        self._close_backend()
        self.fallback.close()

    def _give_up(self, error: Exception) -> None:
        self.failure = str(error) or type(error).__name__
        log.warning(
            "desktop notifications failed (%s); reminders are shown in the terminal from now on",
            self.failure,
        )
        self._close_backend()

    def _close_backend(self) -> None:
        backend, self.backend = self.backend, None
        if backend is not None:
            with contextlib.suppress(Exception):
                backend.close()


class LibraryBackend:
    """`desktop-notifier`'s API driven on a private event loop, with a time limit.

    Its synchronous wrapper (`DesktopNotifierSync`) has no time limit, and a hung
    notification service must not freeze the monitor, so each send runs its async
    API under `asyncio.wait_for` instead. The library reports a failed send with a
    log warning and a traceback, not an exception: its log is captured here and a
    send that was never dispatched raises `NotifierError` with the library's reason.
    """

    def __init__(self, timeout_s: float = DESKTOP_TIMEOUT_S) -> None:
        library = import_library()
        self._library = library
        self._timeout_s = timeout_s
        self._api = library.DesktopNotifier(app_name="posture", app_icon=None)
        self._loop = asyncio.new_event_loop()

    def send(self, notice: Notice) -> None:
        """Sent within the time limit, or a `NotifierError` with the library's reason."""
        dispatched: list[bool] = []
        notification = self._library.Notification(
            title=notice.title,
            message=notice.message,
            urgency=self._urgency(notice.level),
            on_dispatched=lambda: dispatched.append(True),
        )
        with _captured_library_log() as problems:
            try:
                sending = asyncio.wait_for(
                    self._api.send_notification(notification), self._timeout_s
                )
                self._loop.run_until_complete(sending)
            except asyncio.TimeoutError:
                raise NotifierError(
                    f"no answer from the notification service within {self._timeout_s:g} s"
                ) from None
        if not dispatched:
            raise NotifierError(problems[-1] if problems else "the notification was not sent")

    def close(self) -> None:
        """The D-Bus connection and the private loop, once; a later call does nothing."""
        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self._loop.run_until_complete(self._disconnect())
        self._loop.close()

    async def _disconnect(self) -> None:
        # The library keeps its D-Bus connection on a private attribute and offers no
        # close(); without this the socket lingers until garbage collection.
        bus = getattr(getattr(self._api, "_backend", None), "bus", None)
        if bus is not None:
            bus.disconnect()
            await asyncio.wait_for(bus.wait_for_disconnect(), self._timeout_s)

    def _urgency(self, level: int) -> Any:
        # Level 3 insists: critical notifications stay on screen until dismissed. Low
        # urgency is never used: some desktops (GNOME) show no banner for it at all.
        urgency = self._library.Urgency
        return urgency.Critical if level == 3 else urgency.Normal


def import_library() -> Any:
    """`desktop_notifier`, or a `NotifierError` saying how to install it."""
    try:
        import desktop_notifier  # type: ignore[import-not-found, unused-ignore]
    except ImportError as error:
        raise NotifierError(
            f"desktop notifications need the desktop-notifier library: {INSTALL_HINT}, "
            'or set notifier = "terminal"'
        ) from error
    return desktop_notifier


class _LibraryLogCapture(logging.Handler):
    """Collects the library's warnings as one-line reasons instead of tracebacks."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        reason = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            reason = f"{type(error).__name__}: {error}"
        self.problems.append(reason)


@contextlib.contextmanager
def _captured_library_log() -> Iterator[list[str]]:
    library_log = logging.getLogger("desktop_notifier")
    capture = _LibraryLogCapture()
    library_log.addHandler(capture)
    propagate, library_log.propagate = library_log.propagate, False
    try:
        yield capture.problems
    finally:
        library_log.removeHandler(capture)
        library_log.propagate = propagate


def desktop_unavailable(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """Why desktop notifications cannot work here, or None if they can be tried."""
    try:
        library = import_library()
    except NotifierError:
        return f"the desktop-notifier library is not installed ({INSTALL_HINT})"
    return _no_desktop_session(library, environ, platform)


def _no_desktop_session(
    library: Any, environ: Mapping[str, str] | None, platform: str | None
) -> str | None:
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith("linux"):
        if environ.get("DBUS_SESSION_BUS_ADDRESS"):
            return None
        return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"
    # Where the library has no real backend (macOS outside an app bundle, old Windows)
    # it picks a dummy that silently drops every notification.
    if library.main.get_backend_class().__name__.startswith("Dummy"):
        return "desktop-notifier cannot show notifications on this system"
    return None


def resolve_choice(
    choice: str, environ: Mapping[str, str] | None = None, platform: str | None = None
) -> tuple[str, str]:
    """The sink a setting stands for ("desktop", "terminal" or "none") and why."""
    choice = choice.strip().lower()
    if choice not in NOTIFIER_CHOICES:
        raise NotifierError(
            f"unknown notifier {choice!r}: choose one of {', '.join(NOTIFIER_CHOICES)}"
        )
    if choice != "auto":
        return choice, "chosen"
    reason = desktop_unavailable(environ, platform)
    if reason is None:
        return "desktop", "a desktop session is available"
    return "terminal", reason


def make_notifier(
    choice: str,
    console: Console,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
) -> Notifier:
    """The one place a sink is chosen. "desktop" raises `NotifierError` if impossible."""
    sink, _ = resolve_choice(choice, environ, platform)
    if sink == "none":
        return NullNotifier()
    if sink == "terminal":
        return TerminalNotifier(console)
    reason = _no_desktop_session(import_library(), environ, platform)
    if reason is not None:
        raise NotifierError(
            f"desktop notifications are not possible here: {reason}; "
            'run posture inside your desktop session, or set notifier = "terminal"'
        )
    return DesktopNotifier(TerminalNotifier(console))
