"""The command line through its real entry points: output, exit codes and messages."""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from posture.cli import main
from tests.conftest import REPO, SAMPLES, SESSION_VIDEO, SLOUCHED_PHOTO, UPRIGHT_PHOTO

FRONTAL_PHOTO = SAMPLES / "frontal" / "man-selfie.jpg"


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
        (["analyze"], 2, "missing argument 'PATH'"),
        (["frobnicate"], 2, "no such command"),
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


def test_console_script_runs_help_and_version(tmp_path):
    """The installed console script beside this interpreter, run from elsewhere without
    PYTHONPATH, so it imports the installed package (a clean-install smoke test in CI:
    a subpackage left out of the wheel fails here). Without an install, the module."""
    beside = Path(sys.executable).parent / "posture"
    if beside.exists():
        command = [str(beside)]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    else:
        command = [sys.executable, "-m", "posture"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
    help_run = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
    )
    assert help_run.returncode == 0, help_run.stderr
    assert "analyze" in help_run.stdout and "private" in help_run.stdout
    version = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
    )
    assert version.returncode == 0 and "0.1.0" in version.stdout
    # The bundled model and population profile are in the installed package too.
    analyze = subprocess.run(
        [*command, "analyze", str(UPRIGHT_PHOTO), "--uncalibrated", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert analyze.returncode == 0, analyze.stderr
    assert json.loads(analyze.stdout)["verdict"] == "good"


def test_hints_name_the_command_the_way_it_was_run(tmp_path, monkeypatch):
    """After the quick start `posture` is `.venv/bin/posture`, off PATH: a hint
    such as "run posture report" must name that path, or pasting it fails."""
    from posture.cli.common import command_name

    script = tmp_path / ".venv" / "bin" / "posture"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert command_name(str(script)) == os.path.join(".venv", "bin", "posture")
    assert command_name(".venv/bin/posture") == os.path.join(".venv", "bin", "posture")
    monkeypatch.chdir(script.parent)
    assert command_name("./posture") == os.path.join(".", "posture")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert command_name(str(script)) == str(script)
    # On PATH, or run as `python -m posture`: the plain name.
    monkeypatch.setenv("PATH", str(script.parent))
    assert command_name(str(script)) == "posture"
    assert command_name("/usr/lib/python3/site-packages/posture/__main__.py") == "posture"


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


# --- calibrate, profile, analyze --profile -------------------------------------------------


@pytest.fixture
def calibrated(capsys):
    """A 'default' profile calibrated on the bundled upright photos."""
    code, out, err = run(["calibrate", "--source", str(UPRIGHT_PHOTO.parent)], capsys)
    assert code == 0, err
    return out


def test_calibrate_saves_a_profile_in_the_data_directory(calibrated, _isolated_home, capsys):
    assert "Saved profile 'default' from 3 of 3 frames (side view)" in calibrated
    saved = json.loads((_isolated_home / "profiles" / "default.json").read_text())
    assert saved["schema_version"] == 1 and saved["view"] == "side" and saved["frame_count"] == 3
    assert "neck_inclination_deg" in saved["metrics"]
    code, out, _ = run(["calibrate", "--source", str(UPRIGHT_PHOTO), "--profile", "desk"], capsys)
    assert code == 0 and "Saved profile 'desk' from 1 of 1 frames" in out
    code, out, _ = run(["calibrate", "--source", str(UPRIGHT_PHOTO)], capsys)
    assert "Replaced profile 'default'" in out


def test_analyze_with_a_profile_flags_slouched_and_reclined_parts_only(calibrated, capsys):
    """The issue's done-criterion: the session's upright parts pass, the others do not."""
    code, out, err = run(
        ["analyze", str(SESSION_VIDEO), "--profile", "default", "--json", "--every", "5"], capsys
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    truth = json.loads((SESSION_VIDEO.parent / "session.json").read_text())
    margin = truth["crossfade_ms"] + 3000  # crossfade plus the smoother's window
    for segment in truth["segments"]:
        inside = [
            r["smoothed"]["verdict"]
            for r in records
            if segment["start_ms"] + margin <= r["t_ms"] < segment["end_ms"]
        ]
        assert inside, segment
        wanted = {
            "upright": {"good"},
            "slouched": {"slouch", "forward-head"},
            "reclined": {"reclined"},
        }
        right = sum(v in wanted[segment["label"]] for v in inside)
        assert right >= 0.9 * len(inside), (segment, inside)
    assert all(r["verdict"] and r["score"] is not None and "reasons" in r for r in records)


def test_calibrating_on_a_video_measures_it_as_analyze_does(capsys):
    """Calibrating on the session's upright opening and analysing the same
    frames puts them at the baseline: calibration and analysis (and the
    monitor) must place landmarks the same way, or the user's own upright
    posture starts half a tolerance towards a slouch."""
    code, _, err = run(
        ["calibrate", "--source", str(SESSION_VIDEO), "--start", "0.5", "--end", "9.5"], capsys
    )
    assert code == 0, err
    code, out, err = run(["analyze", str(SESSION_VIDEO), "--profile", "default", "--json"], capsys)
    assert code == 0, err
    same = [r for r in map(json.loads, out.splitlines()) if 500 <= r["t_ms"] < 9500]
    assert len(same) == 90
    assert abs(statistics.median(r["neck_excess"] for r in same)) < 0.1
    assert abs(statistics.median(r["trunk_excess"] for r in same)) < 0.1
    assert statistics.median(r["score"] for r in same) >= 97


def test_a_whole_video_that_changes_posture_is_refused_with_how_to_pick_the_upright_part(
    capsys, tmp_path
):
    import cv2

    # The session at one frame a second: upright, slouched, upright, reclined, 10 s each.
    video = tmp_path / "session-1fps.mp4"
    reader = cv2.VideoCapture(str(SESSION_VIDEO))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"mp4v"), 1, (360, 640))
    for number in itertools.count():
        ok, image = reader.read()
        if not ok:
            break
        if number % 10 == 5:
            writer.write(image)
    reader.release()
    writer.release()
    code, out, err = run(["calibrate", "--source", str(video), "--start", "0"], capsys)
    said = " ".join(err.split())
    assert code == 1 and "too much movement while calibrating" in said, err
    assert "--start" not in said  # a part was given: no advice to give one
    code, out, err = run(["calibrate", "--source", str(video)], capsys)
    said = " ".join(err.split())
    assert code == 1 and out == "" and said.startswith("posture: error: too much movement"), err
    assert said.endswith(
        "; from a video, give the part where you sit upright with --start and --end (seconds)"
    )


def test_analyze_says_when_the_profile_was_calibrated_from_the_other_side(capsys):
    code, _, err = run(["calibrate", "--source", str(FRONTAL_PHOTO), "--profile", "laptop"], capsys)
    assert code == 0, err
    code, _, err = run(["analyze", str(UPRIGHT_PHOTO.parent), "--profile", "laptop"], capsys)
    said = " ".join(err.split())  # the console wraps long lines
    assert code == 0 and "calibrated from the front" in said and "you from the side" in said
    code, _, err = run(["analyze", str(FRONTAL_PHOTO), "--profile", "laptop", "--json"], capsys)
    assert code == 0 and "calibrated from" not in err


def test_analysing_every_tenth_frame_catches_up_with_a_posture_change(capsys):
    """Tracking needs a few frames after a change; at a stride those frames are
    seconds apart unless the changed frame is settled (sitting up again at 20 s:
    the first upright verdict used to come at 24 s)."""
    code, _, err = run(["calibrate", "--source", str(SESSION_VIDEO), "--end", "9.5"], capsys)
    assert code == 0, err
    args = ["analyze", str(SESSION_VIDEO), "--profile", "default", "--json", "--every", "10"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 40
    upright_again = next(
        r["t_ms"] for r in records if r["t_ms"] >= 20000 and r["verdict"] == "good"
    )
    reclined = next(r["t_ms"] for r in records if r["t_ms"] >= 30000 and r["verdict"] == "reclined")
    assert upright_again <= 21000 and reclined <= 31000


def test_analyze_uncalibrated_says_so(capsys):
    code, out, _ = run(["analyze", str(SLOUCHED_PHOTO), "--uncalibrated"], capsys)
    assert code == 0
    assert "population default profile" in out and "posture calibrate" in out
    assert "slouch" in out or "forward-head" in out


def test_profile_list_show_delete(calibrated, capsys):
    code, out, _ = run(["profile", "list"], capsys)
    assert code == 0 and "default" in out and "side" in out
    code, out, _ = run(["profile", "show", "default", "--json"], capsys)
    assert code == 0 and json.loads(out)["name"] == "default"
    code, out, _ = run(["profile", "show"], capsys)
    assert code == 0 and "neck_inclination_deg" in out
    code, out, _ = run(["profile", "delete", "default", "--yes"], capsys)
    assert code == 0 and "Deleted profile 'default'" in out
    code, out, _ = run(["profile", "list"], capsys)
    assert "No profiles yet" in out


def _write_image(path, value):
    import cv2
    import numpy as np

    cv2.imwrite(str(path), np.full((240, 320, 3), value, np.uint8))
    return path


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["analyze", "SESSION", "--profile", "nobody"], 1, "no profile named 'nobody'"),
        (["analyze", "SESSION", "--profile", "x", "--uncalibrated"], 2, "either --profile"),
        (["calibrate", "--source", "UPRIGHT", "--profile", "../evil"], 1, "invalid profile name"),
        (["calibrate", "--source", "DARK"], 1, "too dark to calibrate"),
        (["calibrate", "--source", "GREY"], 1, "no person found in 1 frame:"),
        (["calibrate", "--source", "SESSION", "--seconds", "0"], 2, "--seconds"),
        (["profile", "show", "nobody"], 1, "no profile named 'nobody'"),
        (["profile", "delete", "nobody", "--yes"], 1, "no profile named 'nobody'"),
    ],
)
def test_calibration_and_profile_errors(args, code, message, tmp_path, capsys):
    stand_ins = {
        "SESSION": str(SESSION_VIDEO),
        "UPRIGHT": str(UPRIGHT_PHOTO),
        "DARK": str(_write_image(tmp_path / "dark.png", 5)),
        "GREY": str(_write_image(tmp_path / "grey.png", 128)),
    }
    got, _, err = run([stand_ins.get(a, a) for a in args], capsys)
    assert got == code, err
    assert message in err and "Traceback" not in err


def test_corrupt_profile_is_a_clear_error_and_can_be_deleted(_isolated_home, capsys):
    folder = _isolated_home / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.json").write_text("{not json")
    code, _, err = run(["analyze", str(UPRIGHT_PHOTO), "--profile", "broken"], capsys)
    assert code == 1 and "is corrupt" in err and "calibrate again" in err
    code, out, _ = run(["profile", "list"], capsys)
    assert code == 0 and "unreadable" in out
    code, out, _ = run(["profile", "delete", "broken", "--yes"], capsys)
    assert code == 0


@pytest.mark.skipif(sys.platform != "linux", reason="the network block is Linux-only (seccomp)")
def test_the_command_line_blocks_network_access_before_anything_else():
    """Through the real entry point: after `main`, this process cannot open an IP socket."""
    code = (
        "import socket, sys\n"
        "from posture.cli import main\n"
        "from posture.netguard import network_blocked\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "if not network_blocked():\n    print('unsupported'); sys.exit(0)\n"
        "try:\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    print('open')\n"
        "except PermissionError:\n    print('blocked')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    if result.stdout.strip() == "unsupported":
        pytest.skip("seccomp is not available here")
    assert result.stdout.strip().endswith("blocked")


def test_a_bug_is_one_line_with_exit_70_and_verbose_shows_the_traceback(monkeypatch, capsys):
    # The package's `analyze` attribute is the command; the module is in sys.modules.
    analyze_module = sys.modules["posture.cli.analyze"]

    def broken(*args, **kwargs):
        raise RuntimeError("something impossible")

    monkeypatch.setattr(analyze_module, "open_source", broken)
    code, _, err = run(["analyze", str(UPRIGHT_PHOTO)], capsys)
    assert code == 70
    assert err.strip() == (
        "posture: internal error: RuntimeError: something impossible "
        "(a bug: please report it; run with --verbose for the details)"
    )
    with pytest.raises(RuntimeError, match="something impossible"):
        main(["--verbose", "analyze", str(UPRIGHT_PHOTO)])


def test_the_analyze_table_labels_raw_and_smoothed_and_never_cuts_a_number(
    calibrated, capsys, monkeypatch
):
    """Piped (80 columns by default) and in a narrow terminal, metric columns that do
    not fit are left out and named; the ones shown keep every digit."""
    args = ["analyze", str(SESSION_VIDEO), "--profile", "default", "--every", "80"]
    _, as_json, _ = run([*args, "--json"], capsys)
    records = [json.loads(line) for line in as_json.splitlines()]
    for columns in ("80", "60"):
        monkeypatch.setenv("COLUMNS", columns)
        code, out, err = run(args, capsys)
        assert code == 0, err
        lines = out.splitlines()
        assert max(len(line) for line in lines) <= int(columns)
        header = next(line for line in lines if "t (s)" in line)
        assert "this frame" in header and "smoothed" in header and "…" not in out
        for record in records:
            verdict, smoothed = record["verdict"], record["smoothed"]["verdict"]
            row = next(
                line for line in lines if line.split()[:1] == [f"{record['t_ms'] / 1000:.1f}"]
            )
            assert row.split()[1:4] == [verdict, str(record["score"]), smoothed]
            if "neck°" in header:
                assert f"{record['neck_inclination_deg']:.1f}" in row
        words = " ".join(out.split())
        assert "Left out to fit" in words and "--json has every metric" in words
