"""The command line through its real entry points: output, exit codes and messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from posture.cli import main
from tests.conftest import REPO, SESSION_VIDEO, SLOUCHED_PHOTO, UPRIGHT_PHOTO


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `posture ARGS` in-process through `main`, as the console script does."""
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_analyze_json_gives_one_record_per_frame_with_every_metric(capsys):
    code, out, err = run(["analyze", str(UPRIGHT_PHOTO), "--json"], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 1
    record = records[0]
    assert record["t_ms"] == 0 and record["pose"] is True and record["view"] == "side"
    for key in (
        "neck_inclination_deg",
        "trunk_inclination_deg",
        "craniovertebral_deg",
        "head_height_ratio",
        "head_size_ratio",
        "shoulder_tilt_deg",
        "head_roll_deg",
        "view_confidence",
        "neck_inclination_3d_deg",
    ):
        assert key in record
    assert err == ""


def test_upright_and_hunchback_differ_in_the_documented_direction(capsys):
    _, upright_out, _ = run(["analyze", str(UPRIGHT_PHOTO), "--json"], capsys)
    _, hunch_out, _ = run(["analyze", str(SLOUCHED_PHOTO), "--json"], capsys)
    upright, hunch = json.loads(upright_out), json.loads(hunch_out)
    assert hunch["neck_inclination_deg"] > upright["neck_inclination_deg"] + 15
    assert hunch["trunk_inclination_deg"] > upright["trunk_inclination_deg"] + 15


def test_analyze_folder_prints_a_table_with_file_names(capsys):
    code, out, _ = run(["analyze", str(UPRIGHT_PHOTO.parent)], capsys)
    assert code == 0
    for photo in sorted(UPRIGHT_PHOTO.parent.glob("*.jpg")):
        assert photo.name in out
    assert "frames with a usable pose" in out


def test_analyze_video_every_nth_frame(capsys):
    code, out, err = run(["analyze", str(SESSION_VIDEO), "--json", "--every", "25"], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    frames = [r["frame"] for r in records]
    assert frames[:3] == [0, 25, 50]
    times = [r["t_ms"] for r in records]
    assert times == sorted(times) and times[1] - times[0] == pytest.approx(2500, abs=50)
    assert sum(r["pose"] for r in records) >= 0.9 * len(records)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["analyze", "no/such/file.jpg"], 2, "no such file or folder"),
        (["analyze", str(REPO / "pyproject.toml")], 2, "pyproject.toml"),
        (["analyze", str(UPRIGHT_PHOTO), "--every", "0"], 2, "--every"),
        (["analyze"], 2, "Missing argument 'PATH'"),
        (["frobnicate"], 2, "No such command"),
    ],
)
def test_bad_input_is_one_clear_line_and_non_zero_exit(args, code, message, capsys):
    got_code, out, err = run(args, capsys)
    assert got_code == code
    assert message in err
    assert "Traceback" not in err
    assert out == ""


def test_empty_folder_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(["analyze", str(tmp_path)], capsys)
    assert code == 2
    assert "posture: error:" in err and str(tmp_path) in err


def test_corrupt_image_is_a_clear_error(tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    code, _, err = run(["analyze", str(broken)], capsys)
    assert code == 2
    assert "broken.jpg" in err and len(err.strip().splitlines()) == 1


def test_console_script_runs_help_and_version():
    # The installed console script beside this interpreter (a clean-install smoke
    # test in CI), else whatever `posture` is on PATH, else the module.
    beside = Path(sys.executable).parent / "posture"
    script = str(beside) if beside.exists() else shutil.which("posture")
    command = [script] if script else [sys.executable, "-m", "posture"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    help_run = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    assert help_run.returncode == 0
    assert "analyze" in help_run.stdout and "private" in help_run.stdout
    version = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, env=env, timeout=120
    )
    assert version.returncode == 0 and "0.1.0" in version.stdout


def test_module_entry_point_reports_errors_without_traceback():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "posture", "analyze", "missing.png"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("posture: error: ")
    assert "Traceback" not in result.stderr
