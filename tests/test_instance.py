"""One monitor per data folder: the lock, who holds it, and what still works beside it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from posture.instance import LOCK_FILE, InstanceLock, MonitorRunningError, holder_of
from tests.conftest import REPO, SESSION_VIDEO

NINE = datetime(2026, 11, 24, 9, 0, 5).astimezone()


def test_a_second_lock_names_the_holder_and_a_released_one_is_free(tmp_path):
    with InstanceLock(tmp_path, "camera 0", now=NINE):
        assert holder_of(tmp_path).describe() == (
            f"pid {os.getpid()}, since 2026-11-24 09:00:05, watching camera 0"
        )
        with pytest.raises(MonitorRunningError) as refused:
            InstanceLock(tmp_path, "camera 1").acquire()
        assert str(refused.value) == (
            f"another posture monitor is running on {tmp_path} (pid {os.getpid()}, since "
            "2026-11-24 09:00:05, watching camera 0): stop it first, or set POSTURE_HOME to "
            "use another data folder"
        )
    assert holder_of(tmp_path) is None
    assert (tmp_path / LOCK_FILE).read_text() == ""  # nothing stale left behind
    with InstanceLock(tmp_path, "camera 1"):
        assert holder_of(tmp_path).source == "camera 1"


def test_the_lock_folder_and_file_are_private(tmp_path):
    folder = tmp_path / "new" / "posture"
    previous = os.umask(0o022)  # the usual one: parents made by mkdir would be 0755
    try:
        with InstanceLock(folder, "camera 0"):
            assert folder.stat().st_mode & 0o777 == 0o700
            assert folder.parent.stat().st_mode & 0o777 == 0o700  # made here too
            assert (folder / LOCK_FILE).stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(previous)


def test_a_lock_that_cannot_be_created_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(MonitorRunningError, match=r"cannot take the monitor lock .*POSTURE_HOME"):
        InstanceLock(tmp_path / "file", "camera 0").acquire()


def test_a_killed_holder_leaves_no_lock_behind(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from posture.instance import InstanceLock; "
            f"InstanceLock(Path({str(tmp_path)!r}), 'camera 0').acquire(); "
            "print('held', flush=True); time.sleep(60)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    assert holder_of(tmp_path).pid == holder.pid
    holder.kill()
    holder.wait(timeout=10)
    assert holder_of(tmp_path) is None
    with InstanceLock(tmp_path, "camera 0"):
        pass


def posture(*args: str, home: Path, **options):
    env = {**os.environ, "PYTHONPATH": str(REPO), "POSTURE_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "posture", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def wait_for(condition, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_monitor_is_refused_while_reading_commands_work_beside_the_first(tmp_path):
    home = tmp_path / "home"
    replay = ["monitor", "--source", str(SESSION_VIDEO), "--record", "--quiet"]
    first = posture(*replay, home=home)
    try:
        wait_for(lambda: (h := holder_of(home)) is not None and h.pid == first.pid)
        second = posture(*replay, home=home)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 1, err
        assert err.startswith("posture: error: another posture monitor is running on ")
        assert f"(pid {first.pid}, since " in err and f"watching {SESSION_VIDEO}" in err
        assert len(err.strip().splitlines()) == 1 and out == ""
        # Reading and journaling go on beside the running monitor.
        for args in (
            ["report", "--format", "json"],
            ["pain", "add", "--level", "3", "--note", "beside a monitor"],
            ["data", "export", str(tmp_path / "export.json")],
        ):
            done = posture(*args, home=home)
            out, err = done.communicate(timeout=60)
            assert done.returncode == 0, (args, err)
        exported = json.loads((tmp_path / "export.json").read_text())
        assert [row["note"] for row in exported["tables"]["pain"]] == ["beside a monitor"]
        assert first.poll() is None  # still running
    finally:
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "Session:" in out
    assert holder_of(home) is None
