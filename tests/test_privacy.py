"""Posture's files are health data: every folder it creates is 0700, every file 0600,
whichever command runs first and whatever the umask. (Tests run as root, so these
check the modes, not that another user is refused.)"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from posture.cli import main
from posture.paths import PathError, private_folder, private_text_file, write_private
from posture.records import Sample, SessionInfo
from posture.store import HistoryStore
from posture.vocabulary import Verdict
from tests.conftest import UPRIGHT_PHOTO
from tests.fs_edges import needs_mounts, posture, run_on_full_disk


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common default umask (022), under which a plain mkdir makes 0755."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, usual_umask: None) -> Path:
    """A data directory two levels below anything that exists: posture creates it all."""
    home = tmp_path / "made" / "by-posture" / "home"
    monkeypatch.setenv("POSTURE_HOME", str(home))
    return home


def modes_below(top: Path) -> dict[str, int]:
    """Every folder and file from `top` down, with its permission bits."""
    found = {".": stat.S_IMODE(top.stat().st_mode)}
    for folder, folders, files in os.walk(top):
        for name in folders + files:
            path = Path(folder) / name
            found[str(path.relative_to(top))] = stat.S_IMODE(path.stat().st_mode)
    return found


def assert_private(top: Path) -> None:
    modes = modes_below(top)
    assert len(modes) > 1, modes
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (top / name).is_dir() else 0o600)
    }
    assert wrong == {}, modes


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    return code, capsys.readouterr().err


def test_calibrate_first_makes_the_data_folder_and_profiles_private(fresh_home, capsys):
    code, err = run(["calibrate", "--source", str(UPRIGHT_PHOTO.parent)], capsys)
    assert code == 0, err
    assert (fresh_home / "profiles" / "default.json").is_file()
    assert_private(fresh_home.parent.parent)


def test_pain_add_first_makes_the_data_folder_and_history_private(fresh_home, capsys):
    code, err = run(["pain", "add", "--level", "3"], capsys)
    assert code == 0, err
    assert (fresh_home / "history.sqlite3").is_file()
    assert_private(fresh_home.parent.parent)


def test_report_files_and_exports_are_private(fresh_home, tmp_path, capsys):
    start = datetime.now().astimezone() - timedelta(minutes=5)
    with HistoryStore() as store:
        store.begin_session(SessionInfo(start, "0", "camera", None))
        store.add_sample(Sample(start + timedelta(seconds=60), 60.0, Verdict.GOOD, 90))
        store.end_session(start + timedelta(seconds=60))
    day = start.date().isoformat()
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    chart, page = out / "day.png", out / "day.html"
    code, err = run(["report", "--date", day, "--chart", str(chart), "--html", str(page)], capsys)
    assert code == 0, err
    assert run(["data", "export", str(out / "exports" / "csv")], capsys)[0] == 0
    assert run(["data", "export", str(out / "all.json")], capsys)[0] == 0
    assert_private(out)
    assert_private(fresh_home.parent.parent)


def test_private_folder_makes_every_missing_level_0700_and_leaves_existing_ones(
    tmp_path, usual_umask
):
    tmp_path.chmod(0o755)
    nested = private_folder(tmp_path / "a" / "b" / "c")
    assert nested.is_dir()
    assert_private(tmp_path / "a")
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # not posture's to change
    (tmp_path / "file").write_text("x")
    with pytest.raises(PathError, match="is a file, not a folder"):
        private_folder(tmp_path / "file" / "below")


def test_a_replaced_file_becomes_private_and_an_exclusive_one_is_never_replaced(tmp_path):
    loose = tmp_path / "chart.png"
    loose.write_bytes(b"old")
    loose.chmod(0o644)
    write_private(loose, b"new")
    assert loose.read_bytes() == b"new" and stat.S_IMODE(loose.stat().st_mode) == 0o600
    with pytest.raises(PathError, match="already exists"), private_text_file(loose, exclusive=True):
        pass
    assert loose.read_bytes() == b"new"


@needs_mounts
@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["pain", "add", "--level", "3"], "the disk is full"),
        (["calibrate", "--source", str(UPRIGHT_PHOTO.parent)], "cannot save profile"),
    ],
)
def test_a_full_disk_is_one_clear_line_not_an_internal_error(tmp_path, args, what):
    """The data folder on a disk with no room left (a real, filled tmpfs)."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"POSTURE_HOME": str(home), "POSTURE_CONFIG": str(tmp_path / "none.toml")}
    done = run_on_full_disk(home, posture(*args), env)
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("posture: error: ") and what in last and "full" in last, last
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
