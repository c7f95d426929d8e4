"""A private D-Bus session bus and a mock notification daemon for the notification tests.

`private_session_bus` runs the system's `dbus-daemon` (Debian package `dbus`) on a
socket in a fresh temporary directory, and `NotificationService` serves
org.freedesktop.Notifications on it with `dbus-fast`, the pure-Python D-Bus library
that desktop-notifier itself uses, on an event loop in a background thread. It records
every Notify call, so a test can check what reached the "desktop". Nothing here needs
dbus-python or its C build.

The bus is started from a minimal configuration of its own rather than the system's
session.conf: that one lists the standard service directories, and on a desktop
machine D-Bus activation could then start the real notification daemon (dunst,
notification-daemon, ...) on the private bus and put test notifications on screen.
"""

import asyncio
import contextlib
import os
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from dbus_fast import BusType, NameFlag, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusDict, DBusInt32, DBusSignature, DBusStr, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method, dbus_signal

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
SERVER_INFORMATION = ("posture-test-notifications", "posture", "1.0", "1.2")
CAPABILITIES = ["actions", "body"]
CLOSED_PROGRAMMATICALLY = 3  # NotificationClosed reason: CloseNotification was called
URGENCY_NAMES = {0: "low", 1: "normal", 2: "critical"}

DBusStrings = Annotated[list[str], DBusSignature("as")]

SESSION_CONFIG = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={directory}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def dbus_daemon() -> str | None:
    """The dbus-daemon program, or None where it is not installed."""
    return shutil.which("dbus-daemon")


@contextlib.contextmanager
def private_session_bus(timeout_s: float = 10.0) -> Iterator[str]:
    """Runs a private session bus for the block; yields its address, then stops it."""
    program = dbus_daemon()
    if program is None:
        raise FileNotFoundError("dbus-daemon not found (Debian/Ubuntu: apt-get install dbus)")
    # A short directory of its own: a unix socket path must fit in 108 bytes.
    with tempfile.TemporaryDirectory(prefix="posture-dbus-") as directory:
        config = Path(directory) / "session.conf"
        config.write_text(SESSION_CONFIG.format(directory=directory), encoding="utf-8")
        errors_path = Path(directory) / "dbus-daemon.err"
        with errors_path.open("wb") as errors:
            daemon = subprocess.Popen(
                [program, f"--config-file={config}", "--nofork", "--print-address"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                start_new_session=True,  # a Ctrl-C in the terminal is for pytest only
            )
        try:
            address = _read_address(daemon, timeout_s)
            if address is None:
                raise RuntimeError(
                    f"dbus-daemon gave no address within {timeout_s:g} s "
                    f"(exit status {daemon.poll()}): "
                    + errors_path.read_text(encoding="utf-8", errors="replace").strip()
                )
            yield address
        finally:
            _stop(daemon)


def _read_address(daemon: subprocess.Popen[bytes], timeout_s: float) -> str | None:
    """The first line dbus-daemon prints, read without blocking past the deadline."""
    assert daemon.stdout is not None
    deadline = time.monotonic() + timeout_s
    output = b""
    with selectors.DefaultSelector() as selector:
        selector.register(daemon.stdout, selectors.EVENT_READ)
        while b"\n" not in output:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return None
            chunk = os.read(daemon.stdout.fileno(), 4096)
            if not chunk:  # the daemon exited
                return None
            output += chunk
    return output.split(b"\n", 1)[0].decode().strip() or None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stdout is not None:
        process.stdout.close()


@dataclass(frozen=True)
class NotifyCall:
    """One Notify call as the daemon received it, as plain Python values."""

    app_name: str
    replaces_id: int
    app_icon: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any]
    expire_timeout: int

    @property
    def urgency(self) -> str | None:
        """ "low", "normal" or "critical" from the urgency hint; None if there was none."""
        level = self.hints.get("urgency")
        return None if level is None else URGENCY_NAMES.get(int(level), str(level))


class _NotificationsInterface(ServiceInterface):
    """org.freedesktop.Notifications, as far as desktop-notifier uses it."""

    def __init__(self, owner: "NotificationService") -> None:
        super().__init__(INTERFACE)
        self._owner = owner
        self._last_id = 0

    @dbus_method()
    async def Notify(
        self,
        app_name: DBusStr,
        replaces_id: DBusUInt32,
        app_icon: DBusStr,
        summary: DBusStr,
        body: DBusStr,
        actions: DBusStrings,
        hints: DBusDict,
        expire_timeout: DBusInt32,
    ) -> DBusUInt32:
        plain_hints = {
            key: value.value if isinstance(value, Variant) else value
            for key, value in hints.items()
        }
        call = NotifyCall(
            app_name,
            replaces_id,
            app_icon,
            summary,
            body,
            list(actions),
            plain_hints,
            expire_timeout,
        )
        self._owner._record(call)  # before any delay: the call arrived, the answer is late
        if self._owner.notify_delay_s > 0:
            await asyncio.sleep(self._owner.notify_delay_s)
        if replaces_id:
            return replaces_id
        self._last_id += 1
        return self._last_id

    @dbus_method()
    def CloseNotification(self, id: DBusUInt32) -> None:
        self._owner._record_closed(id)
        self.NotificationClosed(id, CLOSED_PROGRAMMATICALLY)

    @dbus_method()
    def GetCapabilities(self) -> DBusStrings:
        return list(CAPABILITIES)

    @dbus_method()
    def GetServerInformation(
        self,
    ) -> Annotated[tuple[str, str, str, str], DBusSignature("ssss")]:
        return SERVER_INFORMATION

    @dbus_signal()
    def NotificationClosed(self, id: int, reason: int) -> Annotated[list[int], DBusSignature("uu")]:
        return [id, reason]

    @dbus_signal()
    def ActionInvoked(self, id: int, action_key: str) -> Annotated[list[Any], DBusSignature("us")]:
        return [id, action_key]


class NotificationService:
    """A mock notification daemon on the bus at `address`, served from its own thread.

    Use it as a context manager: on entry it owns org.freedesktop.Notifications (or
    raises), on exit it leaves the bus and its thread ends. `notify_delay_s` makes
    every Notify answer that much later, as a hung daemon would.
    """

    def __init__(self, address: str, notify_delay_s: float = 0.0, timeout_s: float = 10.0):
        self.address = address
        self.notify_delay_s = notify_delay_s
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._calls: list[NotifyCall] = []
        self._closed: list[int] = []
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()  # bound to the loop when first awaited there
        self._thread = threading.Thread(
            target=self._run, name="mock-notification-daemon", daemon=True
        )

    @property
    def calls(self) -> list[NotifyCall]:
        """Every Notify call received so far, oldest first."""
        with self._lock:
            return list(self._calls)

    @property
    def closed(self) -> list[int]:
        """The ids passed to CloseNotification so far."""
        with self._lock:
            return list(self._closed)

    def __enter__(self) -> "NotificationService":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(self.timeout_s):
            self.stop()
            raise TimeoutError(f"the mock notification daemon was not up in {self.timeout_s:g} s")
        if self._failure is not None:
            self._thread.join(self.timeout_s)
            raise RuntimeError("the mock notification daemon failed to start") from self._failure

    def stop(self) -> None:
        if self._thread.ident is None:  # never started
            self._loop.close()
            return
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread.is_alive():
            self._thread.join(self.timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(f"the mock notification daemon did not stop in {self.timeout_s:g} s")

    def _record(self, call: NotifyCall) -> None:
        with self._lock:
            self._calls.append(call)

    def _record_closed(self, id: int) -> None:
        with self._lock:
            self._closed.append(id)

    def _run(self) -> None:
        loop = self._loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as error:
            self._failure = error
        finally:
            # Whatever is still running, such as a Notify sleeping out its delay.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._ready.set()

    async def _serve(self) -> None:
        bus = await asyncio.wait_for(
            MessageBus(bus_address=self.address, bus_type=BusType.SESSION).connect(),
            self.timeout_s,
        )
        try:
            bus.export(OBJECT_PATH, _NotificationsInterface(self))
            reply = await asyncio.wait_for(
                bus.request_name(BUS_NAME, NameFlag.DO_NOT_QUEUE), self.timeout_s
            )
            if reply != RequestNameReply.PRIMARY_OWNER:
                raise RuntimeError(f"could not own {BUS_NAME} on the private bus: {reply.name}")
            self._ready.set()
            await self._stopping.wait()
        finally:
            bus.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bus.wait_for_disconnect(), self.timeout_s)
