"""A mock screen saver and a mock logind, for the screen-lock watcher's tests.

Each serves its interfaces on a private bus (see `private_session_bus` in
tests/dbus_notifications.py: the system's dbus-daemon on a socket of its own) with
dbus-fast, from an event loop on a background thread, and is driven from the test's
thread: `saver.set_active(True)` emits `ActiveChanged(true)` as a screen saver does
when it comes on; `logind.set_locked(True)` changes the session's `LockedHint` and
emits `PropertiesChanged` as logind does when the locker reports; `logind.sleep(True)`
emits `PrepareForSleep(true)` as before a suspend. Its `Inhibit` hands out a delay
lock as logind does, the write end of a pipe: `logind.inhibitor_held(i)` says whether
the i-th one is still open somewhere (the read end sees no end of file).
"""

import asyncio
import contextlib
import os
import select
import threading
from collections.abc import Callable
from typing import Annotated, Any

from dbus_fast import BusType, NameFlag, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusInt32,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt32,
    DBusUnixFd,
)
from dbus_fast.service import (
    PropertyAccess,
    ServiceInterface,
    dbus_method,
    dbus_property,
    dbus_signal,
)

SESSION_ID = "31"
SESSION_PATH = "/org/freedesktop/login1/session/_331"


class ServedBus:
    """Owns `name` on the bus at `address` and serves `objects` (path → interface) on a
    thread of its own until `stop()`. `call_in_loop(f, *args)` runs f there and waits."""

    def __init__(
        self,
        address: str,
        name: str,
        objects: dict[str, ServiceInterface],
        timeout_s: float = 10.0,
        negotiate_unix_fd: bool = False,
    ) -> None:
        self.address, self.name, self.objects, self.timeout_s = address, name, objects, timeout_s
        self.negotiate_unix_fd = negotiate_unix_fd
        self._loop = asyncio.new_event_loop()
        self._up = threading.Event()
        self._failure: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name=f"mock {name}", daemon=True)

    def __enter__(self) -> "ServedBus":
        self._thread.start()
        if not self._up.wait(self.timeout_s) or self._failure is not None:
            self.stop()
            raise RuntimeError(f"mock {self.name} did not start") from self._failure
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def call_in_loop(self, function: Callable[..., Any], *args: Any) -> None:
        done = threading.Event()

        def run() -> None:
            try:
                function(*args)
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        if not done.wait(self.timeout_s):
            raise TimeoutError(f"mock {self.name} did not run {function!r}")

    def stop(self) -> None:
        if self._thread.is_alive() and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(self.timeout_s)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:
            self._failure = error
        finally:
            self._up.set()
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        bus = await MessageBus(
            bus_address=self.address,
            bus_type=BusType.SESSION,
            negotiate_unix_fd=self.negotiate_unix_fd,
        ).connect()
        try:
            for path, interface in self.objects.items():
                bus.export(path, interface)
            reply = await bus.request_name(self.name, NameFlag.DO_NOT_QUEUE)
            if reply != RequestNameReply.PRIMARY_OWNER:
                raise RuntimeError(f"could not own {self.name}: {reply.name}")
            self._up.set()
            await self._stop.wait()
        finally:
            bus.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bus.wait_for_disconnect(), self.timeout_s)


class _ScreenSaver(ServiceInterface):
    def __init__(self, interface: str) -> None:
        super().__init__(interface)
        self.active = False

    @dbus_method()
    def GetActive(self) -> DBusBool:
        return self.active

    @dbus_signal()
    def ActiveChanged(self, active: bool) -> DBusBool:
        return active


class MockScreenSaver(ServedBus):
    """org.freedesktop.ScreenSaver (or GNOME's org.gnome.ScreenSaver, by `interface`)."""

    def __init__(self, address: str, interface: str = "org.freedesktop.ScreenSaver") -> None:
        self.saver = _ScreenSaver(interface)
        path = "/" + interface.replace(".", "/")
        super().__init__(address, interface, {path: self.saver})

    def set_active(self, active: bool) -> None:
        def change() -> None:
            self.saver.active = active
            self.saver.ActiveChanged(active)

        self.call_in_loop(change)


class _Manager(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.freedesktop.login1.Manager")
        self.lookups: list[tuple[str, Any]] = []
        # (what, who, why, mode) of each Inhibit call, and the read end of its pipe.
        self.inhibitors: list[tuple[tuple[str, str, str, str], int]] = []

    @dbus_method()
    def GetSession(self, session_id: DBusStr) -> DBusObjectPath:
        self.lookups.append(("GetSession", session_id))
        if session_id != SESSION_ID:
            raise_no_session(session_id)
        return SESSION_PATH

    @dbus_method()
    def GetSessionByPID(self, pid: DBusUInt32) -> DBusObjectPath:
        self.lookups.append(("GetSessionByPID", pid))
        return SESSION_PATH

    @dbus_method()
    def Inhibit(self, what: DBusStr, who: DBusStr, why: DBusStr, mode: DBusStr) -> DBusUnixFd:
        read, write = os.pipe()
        self.inhibitors.append(((what, who, why, mode), read))
        # Ours is closed once the reply carrying it is sent (at once, in this callback).
        asyncio.get_running_loop().call_soon(os.close, write)
        return write

    @dbus_signal()
    def PrepareForSleep(self, start: bool) -> DBusBool:
        return start


def raise_no_session(session_id: str) -> None:
    from dbus_fast import DBusError

    raise DBusError("org.freedesktop.login1.NoSuchSession", f"No session '{session_id}' known")


class _Session(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.freedesktop.login1.Session")
        self.locked = False

    @dbus_property(access=PropertyAccess.READ)
    def LockedHint(self) -> DBusBool:
        return self.locked


class MockLogind(ServedBus):
    """org.freedesktop.login1: the manager, and one session (id 31)."""

    def __init__(self, address: str) -> None:
        self.manager, self.session = _Manager(), _Session()
        super().__init__(
            address,
            "org.freedesktop.login1",
            {"/org/freedesktop/login1": self.manager, SESSION_PATH: self.session},
            negotiate_unix_fd=True,
        )

    def stop(self) -> None:
        super().stop()
        inhibitors, self.manager.inhibitors = self.manager.inhibitors, []
        for _, read in inhibitors:
            os.close(read)

    def inhibitor_held(self, index: int) -> bool:
        """Whether the `index`-th delay lock is still open in some process."""
        read = self.manager.inhibitors[index][1]
        readable, _, _ = select.select([read], [], [], 0)
        return not (readable and os.read(read, 1) == b"")

    def set_locked(self, locked: bool) -> None:
        def change() -> None:
            self.session.locked = locked
            self.session.emit_properties_changed({"LockedHint": locked})

        self.call_in_loop(change)

    def sleep(self, start: bool) -> None:
        self.call_in_loop(self.manager.PrepareForSleep, start)


class _StatusNotifierWatcher(ServiceInterface):
    """org.kde.StatusNotifierWatcher, the registry a desktop's tray (KDE's panel, GNOME's
    AppIndicator extension, waybar, ...) keeps of the icons it shows."""

    def __init__(self) -> None:
        super().__init__("org.kde.StatusNotifierWatcher")
        self.items: list[str] = []

    @dbus_method()
    def RegisterStatusNotifierItem(self, service: DBusStr) -> None:
        self.items.append(service)
        self.StatusNotifierItemRegistered(service)

    @dbus_method()
    def RegisterStatusNotifierHost(self, service: DBusStr) -> None:
        pass

    @dbus_property(access=PropertyAccess.READ)
    def RegisteredStatusNotifierItems(self) -> Annotated[list[str], DBusSignature("as")]:
        return list(self.items)

    @dbus_property(access=PropertyAccess.READ)
    def IsStatusNotifierHostRegistered(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def ProtocolVersion(self) -> DBusInt32:
        return 0

    @dbus_signal()
    def StatusNotifierItemRegistered(self, service: str) -> DBusStr:
        return service

    @dbus_signal()
    def StatusNotifierHostRegistered(self) -> None:
        return None


class MockStatusNotifierWatcher(ServedBus):
    """A tray host as StatusNotifierItem apps see it: `items` are the icons registered."""

    def __init__(self, address: str) -> None:
        self.watcher = _StatusNotifierWatcher()
        super().__init__(
            address, "org.kde.StatusNotifierWatcher", {"/StatusNotifierWatcher": self.watcher}
        )

    @property
    def items(self) -> list[str]:
        return list(self.watcher.items)
