"""`posture evaluate` on labelled videos: the labels format and its errors, the
counting rules on hand-made verdicts, the whole protocol on the bundled session,
and the accuracy baseline on ../shared (skipped without it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from posture.errors import EvaluationError
from posture.evaluate_video import (
    JudgedFrame,
    LabelledClip,
    Segment,
    evaluate_clips,
    find_clips,
    read_clip,
    score_clip,
)
from tests.conftest import REPO, SAMPLES, SESSION_VIDEO, SHARED
from tests.test_cli import run

SESSION_LABELS = SAMPLES / "session.labels.json"
DEV_VIDEOS = SHARED / "data" / "dev-video"
needs_dev_videos = pytest.mark.skipif(
    not DEV_VIDEOS.is_dir(),
    reason=f"labelled dev videos not found at {DEV_VIDEOS} (they live in ../shared)",
)


def labelled(tmp_path: Path, segments: object, text: str | None = None) -> Path:
    shutil.copy(SESSION_VIDEO, tmp_path / "clip.mp4")
    path = tmp_path / "clip.labels.json"
    path.write_text(text if text is not None else json.dumps({"segments": segments}))
    return path


def test_labels_are_read_in_time_order_with_their_video(tmp_path):
    path = labelled(
        tmp_path,
        [
            {"start": 5, "end": 9, "label": "bad", "kind": "slouch"},
            {"start": 0, "end": 4.5, "label": "Good"},
        ],
    )
    clip = read_clip(path)
    assert clip.name == "clip" and clip.video == tmp_path / "clip.mp4"
    assert [(s.start_s, s.label) for s in clip.segments] == [(0.0, "good"), (5.0, "bad")]
    assert clip.calibration_segment.start_s == 0.0
    assert find_clips(tmp_path) == [clip]


def test_a_byte_order_mark_is_not_an_error(tmp_path):
    text = "\ufeff" + json.dumps({"segments": [{"start": 0, "end": 1, "label": "good"}]})
    assert read_clip(labelled(tmp_path, None, text)).segments[0].label == "good"


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        (None, 'has no "segments" list'),
        ([], 'has no "segments" list'),
        ([{"start": 0, "end": 1}], "segment 1 is invalid"),
        ([{"start": 2, "end": 1, "label": "good"}], "segment 1 is invalid"),
        ([{"start": 0, "end": 1, "label": "goood"}], "label must be good or bad"),
        ([{"start": "x", "end": 1, "label": "good"}], "segment 1 is invalid"),
        (
            [{"start": 0, "end": 2, "label": "good"}, {"start": 1, "end": 3, "label": "bad"}],
            "overlapping segments (0-2 s and 1-3 s)",
        ),
        ([{"start": 0, "end": 2, "label": "bad"}], "no good segment to calibrate on"),
    ],
)
def test_bad_labels_are_one_clear_line(tmp_path, segments, message, capsys):
    path = labelled(tmp_path, segments)
    with pytest.raises(EvaluationError, match="labels file"):
        read_clip(path)
    code, _, err = run(["evaluate", str(path)], capsys)
    assert code == 1
    assert err.startswith("posture: error: labels file") and message in err
    assert len(err.strip().splitlines()) == 1


def test_missing_video_json_and_folder_are_clear_errors(tmp_path, capsys):
    lonely = tmp_path / "lonely.labels.json"
    lonely.write_text(json.dumps({"segments": [{"start": 0, "end": 1, "label": "good"}]}))
    code, _, err = run(["evaluate", str(lonely)], capsys)
    assert code == 1 and "has no video beside it" in err
    lonely.write_text("{not json")
    code, _, err = run(["evaluate", str(lonely)], capsys)
    assert code == 1 and "is not readable JSON" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EvaluationError, match=r"no \*\.labels\.json files in folder"):
        find_clips(empty)


def frames(verdicts: str, step_ms: int = 500) -> list[JudgedFrame]:
    """One frame per character every `step_ms`: raw verdict, then smoothed (g/b)."""
    out = []
    for i, pair in enumerate(verdicts.split()):
        raw, smoothed = pair
        out.append(JudgedFrame(i * step_ms, True, raw == "b", smoothed == "b", raw, smoothed))
    return out


def test_counting_rules_raw_smoothed_from_two_seconds_and_settle_delay():
    clip = LabelledClip(
        "hand",
        Path("hand.mp4"),
        (Segment(0.0, 3.0, "good"), Segment(4.0, 8.0, "bad")),
    )
    # t: 0 0.5 1 1.5 2 2.5 | 3 3.5 | 4 4.5 5 5.5 6 6.5 7 7.5
    judged = frames("gg gg bg gg gg gg  bb bb  gg bg bg bb bb bb bb bb")
    result = score_clip(clip, judged)
    # Raw: every frame inside a segment (the transition 3-4 s is not scored).
    assert (result.raw.good, result.raw.good_passed) == (6, 5)
    assert (result.raw.bad, result.raw.bad_caught) == (8, 7)
    # Smoothed: from 2 s into each segment: 2, 2.5 (good) and 6..7.5 (bad).
    assert (result.smoothed.good, result.smoothed.bad) == (2, 4)
    assert result.smoothed.balanced_accuracy == 1.0
    good, bad = result.segments
    assert good.right and good.settle_s == 0.0
    assert bad.right and bad.settle_s == pytest.approx(1.5)  # smoothed bad from 5.5 s on
    assert result.worst_settle_s == pytest.approx(1.5)
    # A segment whose last frame is wrong never settled.
    late = score_clip(clip, frames("gg gg gg gg gg gb  bb bb  bb bb bb bb bb bb bb bg"))
    assert [s.right for s in late.segments] == [False, False]
    assert late.worst_settle_s is None


def test_the_bundled_session_is_judged_right_in_both_modes(capsys):
    """The whole protocol through the command: calibrate on the upright opening,
    analyse the session; without a profile, replay it until a baseline is learned."""
    code, out, err = run(["evaluate", str(SESSION_LABELS), "--every", "4", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    for mode in ("calibrated", "uncalibrated"):
        session = result["modes"][mode]["session"]
        assert session["raw"]["balanced_accuracy"] == 1.0, mode
        assert session["smoothed"]["balanced_accuracy"] == 1.0, mode
        assert session["segments_right"] == 4, mode
        assert session["worst_settle_s"] <= 2.0, mode
    learned = result["modes"]["uncalibrated"]["session"]
    assert learned["learned_after_s"] is not None and learned["passes"] >= 2


@needs_dev_videos
def test_video_accuracy_on_the_dev_clips_does_not_drop_below_the_recorded_baseline():
    """docs/accuracy.json records the guard run (calibrated mode, every 2nd frame) of
    `posture evaluate ../shared/data/dev-video`; never worse."""
    recorded = json.loads((REPO / "docs" / "accuracy.json").read_text())["video_guard"]
    measured = evaluate_clips(
        find_clips(DEV_VIDEOS), every=recorded["every"], modes=("calibrated",)
    ).as_dict()["modes"]["calibrated"]
    for clip, figures in recorded["calibrated"].items():
        got = measured[clip]
        for verdict in ("raw", "smoothed"):
            floor = figures[verdict]
            value = got[verdict]["balanced_accuracy"]
            assert floor is None or (value is not None and value >= floor - 1e-4), (clip, verdict)
        assert got["segments_right"] >= figures["segments_right"], clip


def test_the_video_table_fits_80_columns_with_clip_names_whole_and_numbers_never_cut():
    from rich.console import Console

    from posture.cli.evaluate import _video_tables

    stats = {"n": 1579, "no_pose": 12, "recall_bad": 0.993, "specificity_good": 0.931}
    clip = {
        "raw": {**stats, "balanced_accuracy": 0.962},
        "smoothed": {**stats, "balanced_accuracy": 1.0},
        "segments": [{}] * 12,
        "segments_right": 11,
        "worst_settle_s": 12.5,
    }
    names = ("desk_evening_1", "a_much_longer_clip_name_than_fits")
    result = {"modes": {"calibrated": {name: clip for name in names}}}
    console = Console(width=80, record=True, color_system=None)
    for table in _video_tables(result):
        console.print(table)
    lines = console.export_text().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert any(line.startswith("  desk_evening_1 ") for line in lines), lines  # whole
    assert sum("1579" in line and "0.962" in line and "12.5 s" in line for line in lines) == 2
    assert sum(line.split()[-2:] == ["0.931", "1.000"] for line in lines) == 2
