"""Real file-system edges for tests: a read-only mount and a full disk.

Permissions cannot be tested as root (root writes every file), but a read-only mount
stops root too, and a tiny tmpfs really fills up. Both are made in a private mount
namespace (`unshare --mount`, with `--map-root-user` when not root), so nothing
leaks out of the command and nothing needs cleaning up. Where namespaces are not
allowed (some containers, macOS), `needs_mounts` skips with the reason.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.conftest import REPO


def _unshare() -> list[str]:
    command = ["unshare", "--mount"]
    if os.geteuid() != 0:
        command.append("--map-root-user")
    return command


@functools.cache
def mounts_unavailable() -> str | None:
    """Why a private mount namespace cannot be made here, or None when it can."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare or mount not installed (util-linux)"
    probe = subprocess.run(
        [*_unshare(), "sh", "-c", "mount -t tmpfs -o size=64k none /mnt || exit 3"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"mount namespaces not allowed here: {probe.stderr.strip()[-200:]}"
    return None


needs_mounts = pytest.mark.skipif(
    sys.platform != "linux" or mounts_unavailable() is not None,
    reason=str(mounts_unavailable()) if sys.platform == "linux" else "Linux mounts only",
)


def _run(setup: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = f'{setup} && exec "$@"'
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "COLUMNS": "200",
        **env,
    }
    return subprocess.run(
        [*_unshare(), "sh", "-c", script, "sh", *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def run_read_only(
    folder: Path, argv: Sequence[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`argv` with `folder` (and all below it) mounted read-only."""
    where = shlex.quote(str(folder))
    setup = f"mount --bind {where} {where} && mount -o remount,bind,ro {where}"
    return _run(setup, argv, env)


def run_on_full_disk(
    folder: Path, argv: Sequence[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`argv` with a small tmpfs on `folder`, filled up first: writes there fail with
    ENOSPC, as on a full disk."""
    where = shlex.quote(str(folder))
    filler = shlex.quote(str(folder / ".filler"))
    setup = (
        f"mount -t tmpfs -o size=256k,mode=0700 none {where} && "
        f"{{ dd if=/dev/zero of={filler} bs=4k 2>/dev/null || true; }}"
    )
    return _run(setup, argv, env)


def posture(*args: str) -> list[str]:
    """The real command line, as a user runs it."""
    return [sys.executable, "-m", "posture", *args]
