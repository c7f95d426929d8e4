"""Pause the monitor while nobody can be at the screen: locked, screen saver on, asleep.

Nobody sits upright in front of a locked screen, and a camera that stays on while
the laptop sleeps or the screen is locked is exactly what users complain about. On
Linux the desktop says all three things over D-Bus:

- the session bus: `ActiveChanged(b)` from the screen saver (`org.freedesktop.ScreenSaver`,
  and GNOME's, MATE's and Cinnamon's own interfaces of the same shape);
- the system bus: logind's session property `LockedHint` (set by the screen locker)
  and the manager's `PrepareForSleep(b)` before a suspend and after the wake-up.

`ScreenWatcher` listens on its own thread and event loop and turns them into
`controls.pause(reason="screen locked")` and `controls.resume()`. It also holds a
logind "delay" lock on sleep, so that a suspend waits (a few seconds at most) until
the monitor has paused, and lets it go then; it takes a new one after the wake-up:

    watcher = ScreenWatcher(controls)
    watcher.start()          # returns at once when neither bus is there
    ...
    watcher.stop()

`AwayTracker` holds the rules, without D-Bus: the monitor is paused when the first
cause switches on, and given back when the last one switches off, but only a pause
the watcher made itself. A pause the user chose stays (an open-ended one is left
alone; a timed one that the lock interrupted is restored with its remaining time).

Session idle (logind's `IdleHint`: no keyboard or mouse for a while) is deliberately
not a cause: someone reading or in a call sits in front of the camera without
typing, and that is when slouching happens. The screen saver coming on is the
desktop's own judgement that nobody is there.

dbus-fast (pure Python, no system library) speaks D-Bus; it is imported when a
watcher starts, and the watcher only runs on Linux.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from posture.control import Controllable, State
from posture.timeline import local_now

if TYPE_CHECKING:
    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

log = logging.getLogger(__name__)

# The reasons the monitor's snapshot and the tray show while paused by the watcher.
LOCKED = "screen locked"
SCREEN_SAVER = "screen saver on"
ASLEEP = "asleep"

SCREEN_SAVER_INTERFACES = (
    "org.freedesktop.ScreenSaver",
    "org.gnome.ScreenSaver",
    "org.mate.ScreenSaver",
    "org.cinnamon.ScreenSaver",
)
SCREEN_SAVER_NAME = "org.freedesktop.ScreenSaver"
SCREEN_SAVER_PATH = "/org/freedesktop/ScreenSaver"
LOGIN1 = "org.freedesktop.login1"
LOGIN1_PATH = "/org/freedesktop/login1"
LOGIN1_MANAGER = "org.freedesktop.login1.Manager"
LOGIN1_SESSION = "org.freedesktop.login1.Session"
PROPERTIES = "org.freedesktop.DBus.Properties"
# A bus answers in milliseconds; past this the desktop is not going to answer.
DBUS_TIMEOUT_S = 5.0
# How long a suspend may wait for the monitor to pause: the monitor applies a command
# within a frame, and logind itself stops waiting after InhibitDelayMaxSec (5 s by default).
SLEEP_DELAY_MAX_S = 3.0
SLEEP_DELAY_WHY = "Let the camera go before the computer sleeps"


@dataclass(frozen=True)
class _Restore:
    """A timed pause of the user's that a lock interrupted."""

    until: datetime
    reason: str


class AwayTracker:
    """Turns causes of absence switching on and off into pause and resume calls.

    `update(cause, active)` is called with each report; repeated reports are
    harmless. `now` is the wall clock (timezone-aware, as the snapshots' times are),
    read when a lock ends, to restore what is left of a timed pause.
    """

    def __init__(self, controls: Controllable, now: Callable[[], datetime] = local_now) -> None:
        self.controls = controls
        self.now = now
        self._causes: dict[str, None] = {}  # insertion-ordered set: the first cause names the pause
        self._paused_for: str | None = None
        self._restore: _Restore | None = None

    @property
    def causes(self) -> tuple[str, ...]:
        """The causes on now, in the order they came on; () when someone may be there."""
        return tuple(self._causes)

    def update(self, cause: str, active: bool) -> None:
        """`cause` (`LOCKED`, `SCREEN_SAVER`, `ASLEEP`) came on or went off: the first on
        pauses the monitor, named after it, the last off ends that pause (the user's own
        pauses are kept, as the class docstring says)."""
        was_away = bool(self._causes)
        if active:
            self._causes[cause] = None
        else:
            self._causes.pop(cause, None)
        if self._causes and not was_away:
            self._away(cause)
        elif was_away and not self._causes:
            self._back()

    def _away(self, cause: str) -> None:
        snapshot = self.controls.snapshot
        if snapshot.state is State.STOPPED:
            return
        if snapshot.state is State.PAUSED and snapshot.paused_until is None:
            return  # the user's open-ended pause already covers it, and must outlive the lock
        self._restore = None
        if snapshot.state is State.PAUSED and snapshot.paused_until is not None:
            self._restore = _Restore(snapshot.paused_until, snapshot.reason)
        log.debug("pausing the monitor: %s", cause)
        self.controls.pause(None, reason=cause)
        self._paused_for = cause

    def _back(self) -> None:
        reason, self._paused_for = self._paused_for, None
        restore, self._restore = self._restore, None
        if reason is None:
            return
        snapshot = self.controls.snapshot
        # A snapshot can lag a command by a frame, so "not paused yet" still means ours;
        # only a pause for another reason (the user's, since) is left alone.
        interrupted = restore is not None and (snapshot.reason, snapshot.paused_until) == (
            restore.reason,
            restore.until,
        )
        if snapshot.state is State.PAUSED and snapshot.reason != reason and not interrupted:
            return
        if restore is not None:
            left_s = (restore.until - self.now()).total_seconds()
            if left_s > 0:
                self.controls.pause(left_s / 60, reason=restore.reason)
                return
        log.debug("resuming the monitor: %s is over", reason)
        self.controls.resume()


class ScreenWatcher:
    """Watches the screen lock, the screen saver and suspend on D-Bus, on its own thread.

    `start()` returns once it listens (or knows it cannot); `watching` then says
    what it watches, `problems` why something is not watched. It never raises for a
    missing bus or service: the monitor runs on without it.
    """

    def __init__(
        self,
        controls: Controllable,
        *,
        session_address: str | None = None,
        system_address: str | None = None,
        environ: Mapping[str, str] | None = None,
        platform: str | None = None,
        now: Callable[[], datetime] = local_now,
        timeout_s: float = DBUS_TIMEOUT_S,
    ) -> None:
        self.tracker = AwayTracker(controls, now)
        self.environ = os.environ if environ is None else environ
        self.platform = sys.platform if platform is None else platform
        self.session_address = session_address
        self.system_address = system_address
        self.timeout_s = timeout_s
        self.watching: list[str] = []
        self.problems: list[str] = []
        self._session_path: str | None = None
        self._system: MessageBus | None = None
        self._sleep_delay: int | None = None  # the delay lock's file descriptor, while held
        self._tasks: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ScreenWatcher:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Starts the watching thread and waits until it listens, at most 4 x `timeout_s`
        + 1 s when a bus does not answer. Off Linux, or without dbus-fast, it only notes
        why in `problems`. Call it once."""
        if not self.platform.startswith("linux"):
            self.problems.append("the screen lock is watched on Linux only")
            return
        try:
            import dbus_fast  # noqa: F401
        except ImportError:
            self.problems.append("the dbus-fast library is not installed (pip install dbus-fast)")
            return
        self._thread = threading.Thread(target=self._run, name="posture-screen", daemon=True)
        self._thread.start()
        # Connecting and subscribing take a few round trips, each bounded by timeout_s.
        self._ready.wait(4 * self.timeout_s + 1)

    def stop(self) -> None:
        """Stops the thread and lets go of the delay lock on sleep; it waits for the
        buses to close, up to 5 x `timeout_s`. Does nothing if not started."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(stopping.set)
        # Bounded: pending requests (2 x timeout_s), then each bus's goodbye (timeout_s).
        thread.join(5 * self.timeout_s)
        self._thread = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except Exception as error:  # never take the monitor down with it
            self.problems.append(f"the screen watcher failed: {type(error).__name__}: {error}")
            log.warning("%s", self.problems[-1])
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        buses: list[MessageBus] = []
        try:
            session = await self._connect("session", self.session_address)
            if session is not None:
                buses.append(session)
                await self._watch_screen_saver(session)
            system = await self._connect("system", self.system_address)
            if system is not None:
                buses.append(system)
                await self._watch_logind(system)
            log.debug("screen watcher: watching %s", ", ".join(self.watching) or "nothing")
            self._ready.set()
            await self._stopping.wait()
        finally:
            # A delay lock asked for just before the stop may still be on its way: let
            # that request land first, so its descriptor is closed here and not leaked.
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=2 * self.timeout_s)
            self._let_sleep()
            for bus in buses:
                bus.disconnect()
                with contextlib.suppress(Exception):
                    # dbus-fast leaves this one untyped.
                    disconnected = bus.wait_for_disconnect()  # type: ignore[no-untyped-call, unused-ignore]
                    await asyncio.wait_for(disconnected, self.timeout_s)

    async def _connect(self, kind: str, address: str | None) -> MessageBus | None:
        from dbus_fast import BusType
        from dbus_fast.aio import MessageBus

        bus_type = BusType.SESSION if kind == "session" else BusType.SYSTEM
        session_unset = not self.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if kind == "session" and address is None and session_unset:
            self.problems.append("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
            return None
        try:
            # Unix file descriptors: logind hands its delay lock on sleep over as one.
            bus = MessageBus(bus_address=address, bus_type=bus_type, negotiate_unix_fd=True)
            return await asyncio.wait_for(bus.connect(), self.timeout_s)
        except Exception as error:
            self.problems.append(f"no D-Bus {kind} bus ({type(error).__name__}: {error})")
            return None

    # -- the screen saver, on the session bus ------------------------------------------------

    async def _watch_screen_saver(self, bus: MessageBus) -> None:
        bus.add_message_handler(self._on_screen_saver)
        if not await self._add_match(bus, "type='signal',member='ActiveChanged'"):
            return
        self.watching.append("screen saver")
        active = await self._call(
            bus, SCREEN_SAVER_NAME, SCREEN_SAVER_PATH, SCREEN_SAVER_NAME, "GetActive"
        )
        if active is not None and active.body and active.body[0] is True:
            self._report(SCREEN_SAVER, True)

    def _on_screen_saver(self, message: Message) -> None:
        if (
            _is_signal(message)
            and message.member == "ActiveChanged"
            and message.interface in SCREEN_SAVER_INTERFACES
            and message.signature == "b"
        ):
            self._report(SCREEN_SAVER, bool(message.body[0]))

    # -- logind, on the system bus --------------------------------------------------------

    async def _watch_logind(self, bus: MessageBus) -> None:
        bus.add_message_handler(self._on_logind)
        sleep_rule = (
            f"type='signal',sender='{LOGIN1}',interface='{LOGIN1_MANAGER}',member='PrepareForSleep'"
        )
        if await self._add_match(bus, sleep_rule):
            self.watching.append("suspend")
            self._system = bus
            await self._delay_sleep()
        path = await self._session_object(bus)
        if path is None:
            return
        lock_rule = (
            f"type='signal',sender='{LOGIN1}',path='{path}',"
            f"interface='{PROPERTIES}',member='PropertiesChanged'"
        )
        if not await self._add_match(bus, lock_rule):
            return
        self._session_path = path
        self.watching.append("screen lock")
        reply = await self._call(
            bus, LOGIN1, path, PROPERTIES, "Get", "ss", [LOGIN1_SESSION, "LockedHint"]
        )
        if reply is not None and reply.body and reply.body[0].value is True:
            self._report(LOCKED, True)

    async def _session_object(self, bus: MessageBus) -> str | None:
        """This login session's object: by XDG_SESSION_ID, else by this process."""
        session_id = self.environ.get("XDG_SESSION_ID")
        if session_id:
            reply = await self._call(
                bus, LOGIN1, LOGIN1_PATH, LOGIN1_MANAGER, "GetSession", "s", [session_id]
            )
        else:
            reply = await self._call(
                bus, LOGIN1, LOGIN1_PATH, LOGIN1_MANAGER, "GetSessionByPID", "u", [os.getpid()]
            )
        if reply is None or not reply.body:
            self.problems.append("no logind session found for this process: lock not watched")
            return None
        return str(reply.body[0])

    def _on_logind(self, message: Message) -> None:
        if not _is_signal(message):
            return
        if (
            message.interface == LOGIN1_MANAGER
            and message.member == "PrepareForSleep"
            and message.signature == "b"
        ):
            going = bool(message.body[0])
            self._report(ASLEEP, going)
            self._spawn(self._let_sleep_once_paused() if going else self._delay_sleep())
        elif (
            message.interface == PROPERTIES
            and message.member == "PropertiesChanged"
            and message.path == self._session_path
            and message.body
            and message.body[0] == LOGIN1_SESSION
        ):
            changed: dict[str, Any] = message.body[1]
            if "LockedHint" in changed:
                self._report(LOCKED, bool(changed["LockedHint"].value))

    # -- the delay lock on sleep ---------------------------------------------------------

    async def _delay_sleep(self) -> None:
        """Takes logind's delay lock on sleep (once): a suspend then waits for its release."""
        bus = self._system
        if bus is None or self._sleep_delay is not None:
            return
        why = ["sleep", "posture", SLEEP_DELAY_WHY, "delay"]
        reply = await self._call(bus, LOGIN1, LOGIN1_PATH, LOGIN1_MANAGER, "Inhibit", "ssss", why)
        received = list(reply.unix_fds) if reply is not None else []
        index = reply.body[0] if reply is not None and reply.body else None
        if isinstance(index, int) and 0 <= index < len(received):
            self._sleep_delay = received.pop(index)
        else:
            log.debug("no delay lock on sleep: the monitor pauses as the computer sleeps")
        for unused in received:
            os.close(unused)

    async def _let_sleep_once_paused(self) -> None:
        """Going to sleep: the lock is let go once the monitor has paused (or after
        SLEEP_DELAY_MAX_S), and the suspend goes ahead."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SLEEP_DELAY_MAX_S
        let_go = (State.PAUSED, State.STOPPED)
        stopping = self._stopping
        while (
            self.tracker.controls.snapshot.state not in let_go
            and loop.time() < deadline
            and not (stopping is not None and stopping.is_set())
        ):
            await asyncio.sleep(0.02)
        self._let_sleep()

    def _let_sleep(self) -> None:
        fd, self._sleep_delay = self._sleep_delay, None
        if fd is not None:
            os.close(fd)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # a task nobody refers to may be collected before it ends
        task.add_done_callback(self._tasks.discard)

    # -- plumbing -------------------------------------------------------------------------

    def _report(self, cause: str, active: bool) -> None:
        try:
            self.tracker.update(cause, active)
        except Exception:  # a failed command must not end the watching
            log.warning("could not act on %s (%s)", cause, "on" if active else "off", exc_info=True)

    async def _add_match(self, bus: MessageBus, rule: str) -> bool:
        reply = await self._call(
            bus,
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "AddMatch",
            "s",
            [rule],
        )
        return reply is not None

    async def _call(
        self,
        bus: MessageBus,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: list[Any] | None = None,
    ) -> Message | None:
        """A method call's reply, or None (logged) when it fails or times out."""
        from dbus_fast import Message, MessageFlag, MessageType

        message = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=body or [],
            # Never start a service just to ask it: a screen saver activated by the
            # question would be a side effect of posture.
            flags=MessageFlag.NO_AUTOSTART,
        )
        try:
            reply = await asyncio.wait_for(bus.call(message), self.timeout_s)
        except Exception as error:
            log.debug("%s.%s failed: %s", interface, member, error)
            return None
        if reply is None or reply.message_type == MessageType.ERROR:
            log.debug("%s.%s: %s", interface, member, reply.error_name if reply else "no reply")
            return None
        return reply


def _is_signal(message: Message) -> bool:
    from dbus_fast import MessageType

    return bool(message.message_type == MessageType.SIGNAL)
