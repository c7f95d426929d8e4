"""Share the camera: hand it back the moment another program opens it.

On Linux a webcam streams to one program at a time: while the monitor holds it, a
video call cannot start its camera. So the monitor watches its camera's device node
(`/dev/videoN`) with inotify, which reports every `open()` and `close()` of the node by
any process, and when someone else opens it the monitor releases the camera at once
and waits, paused quietly ("camera in use by zoom"), until the device has been free
for a moment; then it opens it again.

Who holds the device comes from `/proc/*/fd`: the processes with the node open,
leaving out this process and PipeWire's own daemons (`IGNORED_PROGRAMS`), which keep
camera nodes open all day to list them. A program that reaches the camera through
PipeWire (the camera portal of sandboxed apps) is therefore not seen when it starts;
the monitor's own open then fails, and a failed open while only PipeWire holds the
device is reported as "camera in use", not as an error.

Why inotify and not short capture bursts with the device free in between: a burst
must reopen the device, which costs a real webcam hundreds of milliseconds and a
burst of frames for its auto-exposure, every time; to catch a slouch within 3 s the
bursts would come every second or two, with the camera light blinking each time.
The watch costs nothing while nobody opens the device (a thread asleep in `select`)
and a `/proc` scan of about 2 ms when someone does. The figures are in
docs/performance.md ("Sharing the camera").

    share = CameraShare.for_camera(0, on_change=controls.wake)   # None: cannot watch
    if share and (holder := share.take_wanted()):
        ...  # release the camera; wait until share.holders() stays empty

Where inotify is unavailable (or `inotify_simple` is not installed) there is no watch:
the monitor keeps the camera while it runs, and still reads who holds it when its own
open fails. Where there is no device node (macOS, Windows) there is no share at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# PipeWire's daemons hold camera nodes open to list them; that is not "in use". Names
# as /proc/PID/comm gives them (at most 15 characters).
IGNORED_PROGRAMS = frozenset(
    {"pipewire", "wireplumber", "pipewire-media-", "pipewire-pulse", "pipewire-uninst"}
)
# An open is reported before the new file descriptor is installed in the opener's
# table, so a scan right after the event can miss it: scan again after these delays.
RESCAN_DELAYS_S = (0.0, 0.02, 0.1)
PROC = Path("/proc")


@dataclass(frozen=True)
class Holder:
    """A process holding the camera: its id and its program's name."""

    pid: int
    name: str


def camera_paths(index: int, dev: Path = Path("/dev")) -> tuple[Path, ...]:
    """The device node OpenCV opens for camera `index` on Linux (V4L2: /dev/videoN)."""
    return (dev / f"video{index}",)


def program_name(pid: int, proc: Path = PROC) -> str:
    """A process's program name: /proc/PID/comm, or the command's own name when comm
    was cut at 15 characters; "process PID" when neither can be read."""
    try:
        comm = (proc / str(pid) / "comm").read_text().strip()
    except OSError:
        return f"process {pid}"
    if len(comm) >= 15:
        with contextlib.suppress(OSError, IndexError):
            argv0 = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")[0].decode()
            name = os.path.basename(argv0)
            if name.startswith(comm):
                return name
    return comm or f"process {pid}"


def holders_of(
    paths: Iterable[Path],
    *,
    proc: Path = PROC,
    own_pid: int | None = None,
    ignored: frozenset[str] = IGNORED_PROGRAMS,
) -> list[Holder]:
    """The other processes that hold any of `paths` open, by process id.

    Reads the links in /proc/PID/fd (about 2 ms for a desktop's few hundred
    processes). Processes of other users cannot be read and are not seen.
    """
    targets = {os.path.realpath(path) for path in paths}
    own = os.getpid() if own_pid is None else own_pid
    found: list[Holder] = []
    try:
        entries = list(os.scandir(proc))
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        if _holds(proc / entry.name / "fd", targets):
            name = program_name(int(entry.name), proc)
            if name not in ignored:
                found.append(Holder(int(entry.name), name))
    return sorted(found, key=lambda holder: holder.pid)


def _holds(fd_folder: Path, targets: set[str]) -> bool:
    try:
        with os.scandir(fd_folder) as fds:
            for fd in fds:
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) in targets:
                        return True
    except OSError:  # gone, or another user's
        pass
    return False


def describe(holders: Sequence[Holder]) -> str:
    """ "camera in use by zoom" or "by zoom and chrome"; "another program" if unnamed."""
    names = list(dict.fromkeys(holder.name for holder in holders))
    if not names:
        return "camera in use by another program"
    shown = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"camera in use by {shown}"


class CameraShare:
    """Watches camera device nodes and says when another program wants the camera.

    A thread reads inotify events for the `paths`: after an open by another process
    (`holders()` not empty) `take_wanted()` returns that holder once, and `on_change`
    is called so that the monitor wakes from any wait; after a close `on_change` is
    called too, so that a monitor waiting for the device looks again. `start()`
    returns False where no watch can be set (the monitor then keeps the camera).
    """

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        on_change: Callable[[], None] = lambda: None,
        proc: Path = PROC,
        own_pid: int | None = None,
        ignored: frozenset[str] = IGNORED_PROGRAMS,
    ) -> None:
        self.paths = tuple(paths)
        self.on_change = on_change
        self._proc, self._own_pid, self._ignored = proc, own_pid, ignored
        self._wanted: Holder | None = None
        self._lock = threading.Lock()
        self._inotify: Any = None
        self._stop_in, self._stop_out = -1, -1
        self._thread: threading.Thread | None = None
        self.scans = 0  # how many /proc scans the watch made (for the benchmark)

    @classmethod
    def for_camera(
        cls, index: int, on_change: Callable[[], None] = lambda: None
    ) -> CameraShare | None:
        """The share of camera `index`'s device node, its watch started; None where there
        is no such node (not Linux). Without inotify it only answers `holders()`."""
        paths = camera_paths(index)
        if not all(path.exists() for path in paths):
            return None
        share = cls(paths, on_change=on_change)
        share.start()
        return share

    @property
    def watching(self) -> bool:
        """The inotify watch is set and its thread runs."""
        return self._thread is not None

    def start(self) -> bool:
        """Set the watch and start its thread; False (and logged) where impossible."""
        try:
            from inotify_simple import INotify, flags
        except ImportError:
            log.info("camera sharing off: inotify_simple is not installed")
            return False
        try:
            inotify = INotify()
        except OSError as error:
            log.info("camera sharing off: no inotify here (%s)", error)
            return False
        mask = flags.OPEN | flags.CLOSE_WRITE | flags.CLOSE_NOWRITE
        try:
            for path in self.paths:
                inotify.add_watch(path, mask)
        except OSError as error:
            inotify.close()
            log.info("camera sharing off: cannot watch %s (%s)", path, error)
            return False
        self._inotify, self._open_flag = inotify, int(flags.OPEN)
        self._stop_in, self._stop_out = os.pipe()
        self._thread = threading.Thread(target=self._watch, name="camera share", daemon=True)
        self._thread.start()
        return True

    def holders(self) -> list[Holder]:
        """The other programs holding the camera now."""
        self.scans += 1
        return holders_of(self.paths, proc=self._proc, own_pid=self._own_pid, ignored=self._ignored)

    def take_wanted(self) -> Holder | None:
        """The program that opened the camera since the last call, if any (once)."""
        with self._lock:
            wanted, self._wanted = self._wanted, None
        return wanted

    def close(self) -> None:
        """Stop the watch; safe to call more than once."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        os.write(self._stop_out, b"\0")
        thread.join(timeout=2.0)
        for fd in (self._stop_in, self._stop_out):
            os.close(fd)
        self._inotify.close()

    def __enter__(self) -> CameraShare:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the watch thread ------------------------------------------------------------------

    def _watch(self) -> None:
        inotify = self._inotify
        while True:
            ready, _, _ = select.select([inotify.fileno(), self._stop_in], [], [])
            if self._stop_in in ready:
                return
            events = inotify.read(timeout=0)
            if any(event.mask & self._open_flag for event in events):
                self._opened()
            elif events:
                self.on_change()

    def _opened(self) -> None:
        """Someone opened the node: if it is another program, it wants the camera."""
        for delay in RESCAN_DELAYS_S:
            time.sleep(delay)
            holders = self.holders()
            if holders:
                with self._lock:
                    self._wanted = holders[0]
                log.info("%s: handing the camera over", describe(holders))
                break
        self.on_change()
