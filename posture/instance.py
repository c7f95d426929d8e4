"""One monitor per data folder: a lock held for the whole session.

Two monitors on one history would count every minute twice and nudge twice. The
monitor therefore takes an exclusive, non-blocking lock on `monitor.lock` in the
data folder before it starts, and holds it until it ends; a second one finds the
lock taken and says who holds it (the pid, since when, what it watches), from
the lines the holder wrote into the same file.

The lock is the operating system's (`flock` on Linux and macOS, `msvcrt.locking`
on Windows), not the file's existence: the kernel drops it when its process ends
in any way, SIGKILL and power cut included, so a crash never leaves a stale lock
behind. Only the monitor takes it: `posture report`, `pain add` and `data export`
read and write the history beside a running monitor (SQLite's WAL lets them).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from posture.errors import PostureError
from posture.paths import PathError, private_folder
from posture.timeline import local_now

LOCK_FILE = "monitor.lock"
# Windows locks byte ranges, and a locked range cannot be read by others: the lock
# sits on one byte far past the holder's lines, which stay readable.
_WINDOWS_LOCK_OFFSET = 1 << 20


class MonitorRunningError(PostureError):
    """Another monitor holds the data folder, or its lock cannot be taken at all."""


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as it wrote itself down."""

    pid: int
    since: datetime
    source: str

    def describe(self) -> str:
        """ "pid 1234, since 2026-11-24 09:00:05, watching camera 0"."""
        since = self.since.strftime("%Y-%m-%d %H:%M:%S")
        return f"pid {self.pid}, since {since}, watching {self.source}"


class InstanceLock:
    """The data folder's monitor lock. Use as a context manager around a session.

    `acquire()` raises `MonitorRunningError` naming the holder when another
    process has it; `release()` (or leaving the `with`) lets it go.
    """

    def __init__(self, folder: Path, source: str, now: datetime | None = None) -> None:
        self.folder = folder
        self.path = folder / LOCK_FILE
        self.source = source
        self.now = now
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and write who holds it, or raise `MonitorRunningError`."""
        fd = self._open()
        if not _try_lock(fd):
            holder = _read_holder(fd)
            os.close(fd)
            who = holder.describe() if holder is not None else "its details unreadable"
            raise MonitorRunningError(
                f"another posture monitor is running on {self.folder} ({who}): stop it "
                "first, or set POSTURE_HOME to use another data folder"
            )
        self._fd = fd
        holder = Holder(os.getpid(), self.now or local_now(), self.source)
        _write_holder(fd, holder)

    def release(self) -> None:
        """Let the lock go; releasing twice is harmless."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # nobody holds it: no details left behind
            os.close(fd)  # closing releases the lock

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _open(self) -> int:
        try:
            private_folder(self.folder)  # 0700, like every folder posture makes
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            return os.open(self.path, flags, 0o600)
        except OSError as error:
            raise MonitorRunningError(
                f"cannot take the monitor lock {self.path} ({error.strerror or error}): give "
                "your user write access to the data folder, or set POSTURE_HOME to another one"
            ) from None
        except PathError as error:
            raise MonitorRunningError(
                f"cannot take the monitor lock {self.path}: {error}, "
                "or set POSTURE_HOME to another one"
            ) from None


def holder_of(folder: Path) -> Holder | None:
    """Who holds the monitor lock of `folder`, or None when nobody does."""
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        if _try_lock(fd):
            return None  # free: whatever the file says is from a monitor that ended
        return _read_holder(fd)
    finally:
        os.close(fd)  # also releases a lock taken just to look


def _read_holder(fd: int) -> Holder | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode("utf-8")
        data = json.loads(text.split("\n", 1)[0])
        return Holder(int(data["pid"]), datetime.fromisoformat(data["since"]), str(data["source"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # taken a moment ago and not written yet, or damaged


def _write_holder(fd: int, holder: Holder) -> None:
    line = json.dumps(
        {"pid": holder.pid, "since": holder.since.isoformat(), "source": holder.source}
    )
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (line + "\n").encode("utf-8"))


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
