"""The one data directory, and the one way posture creates folders and files in it.

Default: the platform's user data directory (platformdirs), e.g.
`~/.local/share/posture` on Linux. `POSTURE_HOME` overrides it, which the tests
use so they never touch a real profile or history.

Posture's files are health data: every folder it creates is 0700 and every file
0600, whichever command runs first. Every writer (the history store, profiles,
report charts and pages, data exports) goes through `private_folder` and
`private_file`, and words a failure with `os_problem`, which names the real cause
(a read-only file system is not a permission problem, and a full disk is neither).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import platformdirs

from posture.errors import PostureError

ENV_HOME = "POSTURE_HOME"
FOLDER_MODE = 0o700
FILE_MODE = 0o600


class PathError(PostureError):
    """A folder or file posture needs cannot be created or written: the message says why."""


def data_dir() -> Path:
    """The data directory (not created here: writers create what they need)."""
    override = os.environ.get(ENV_HOME)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("posture", appauthor=False))


def profiles_dir() -> Path:
    """Where calibration profiles live: `profiles/` in the data directory."""
    return data_dir() / "profiles"


# -- why a path cannot be written --------------------------------------------------------------


def _existing_ancestor(path: Path) -> Path:
    """`path` or its nearest parent that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


def read_only_file_system(path: Path) -> bool:
    """Whether `path` (or the nearest existing folder above it) is on a read-only mount."""
    statvfs = getattr(os, "statvfs", None)
    if statvfs is None:  # Windows: no way to ask, say "permissions"
        return False
    try:
        return bool(statvfs(_existing_ancestor(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def os_problem(error: OSError, path: Path) -> str:
    """What went wrong with `path`, in words that name the real cause and the way out."""
    code = error.errno
    if code == errno.EROFS or (code in (errno.EACCES, errno.EPERM) and read_only_file_system(path)):
        return f"{path} is on a read-only file system: use a folder on a writable disk"
    if code in (errno.EACCES, errno.EPERM):
        if path.is_file():
            return (
                f"permission denied for {path}: give your user read and write access "
                f"(chmod 600 {path})"
            )
        folder = path if path.is_dir() else path.parent
        return f"permission denied for {path}: give your user access (chmod u+rwx {folder})"
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"the disk holding {path} is full: free some space and try again"
    if code == errno.ENOTDIR:
        chain = [*reversed(path.parents), path]
        blocker = next((p for p in chain if p.exists() and not p.is_dir()), None)
        where = f"{blocker} is a file, not a folder" if blocker else "a part of it is not a folder"
        return f"cannot use {path}: {where}"
    if code == errno.EISDIR:
        return f"{path} is a folder, not a file: give a file name"
    if code == errno.ENOENT:
        return f"cannot create {path}: folder {path.parent} does not exist"
    return f"cannot write {path}: {error.strerror or error}"


def writable_problem(path: Path) -> str | None:
    """Why `path` (a file, or the folder it would be created in) cannot be written, or None.

    Run as root, permissions never stop a write; a read-only mount always does.
    """
    target = path if path.exists() else path.parent
    if read_only_file_system(target):
        return os_problem(OSError(errno.EROFS, "Read-only file system"), path)
    if target.exists() and not os.access(target, os.W_OK):
        return os_problem(OSError(errno.EACCES, "Permission denied"), path)
    return None


# -- creating ----------------------------------------------------------------------------------


def private_folder(path: Path) -> Path:
    """`path` as a folder, creating it and every missing parent 0700 (readable by the
    user only). An existing folder is left as it is. Raises `PathError`."""
    missing: list[Path] = []
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            break
        if candidate.exists() or candidate.is_symlink():
            raise PathError(os_problem(OSError(errno.ENOTDIR, "Not a directory"), path))
        missing.append(candidate)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise PathError(
                    os_problem(OSError(errno.ENOTDIR, "Not a directory"), path)
                ) from None
            continue  # another process was quicker
        except OSError as error:
            raise PathError(os_problem(error, folder)) from error
        folder.chmod(FOLDER_MODE)  # whatever the umask
    return path


def _open_private(path: Path, exclusive: bool) -> int:
    flags = os.O_CREAT | os.O_WRONLY | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        descriptor = os.open(path, flags, FILE_MODE)
    except FileExistsError:
        raise PathError(f"{path} already exists: choose a new name, or move it away") from None
    except OSError as error:
        raise PathError(os_problem(error, path)) from error
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, FILE_MODE)  # a replaced file keeps its old mode otherwise
    return descriptor


@contextlib.contextmanager
def _failing_cleanly(path: Path) -> Iterator[None]:
    """A write that fails (a full disk) leaves no half-written file and says why."""
    try:
        yield
    except BaseException as error:
        with contextlib.suppress(OSError):
            path.unlink()
        if isinstance(error, OSError):
            raise PathError(os_problem(error, path)) from error
        raise


@contextlib.contextmanager
def private_text_file(path: Path, *, exclusive: bool = False) -> Iterator[TextIO]:
    """A UTF-8 text file open for writing, readable by the user only (0600, even if it
    existed). `exclusive`: an existing file is a `PathError`, never replaced. The
    folder must exist (see `private_folder`)."""
    descriptor = _open_private(path, exclusive)
    with _failing_cleanly(path), open(descriptor, "w", encoding="utf-8", newline="") as out:
        yield out


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Writes a file readable by the user only (0600): posture's files are health data.

    An existing file is replaced, unless `exclusive`. Raises `PathError`.
    """
    descriptor = _open_private(path, exclusive)
    with _failing_cleanly(path), open(descriptor, "wb") as out:
        out.write(data)


def touch_private(path: Path) -> None:
    """Creates an empty file readable by the user only, unless it exists already."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    except FileExistsError:
        return  # there already, or another process was quicker
    except OSError as error:
        raise PathError(os_problem(error, path)) from error
