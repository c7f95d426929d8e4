"""`posture evaluate` on labelled videos: the live experience, by a fixed protocol.

A photo is judged once; a user lives with a continuous session, calibrated once,
tracked from frame to frame and smoothed over time. This protocol measures that.

Labels: `NAME.labels.json` beside the clip `NAME.mp4` (or another video
extension), `{"source": ..., "segments": [{"start": s, "end": s, "label":
"good"|"bad", "kind": ..., "confidence": ...}]}`. Times are seconds from the
start of the clip; the gaps between segments are transitions: not scored.

The protocol (fixed so that numbers stay comparable across versions):

- **Calibrated**: calibrate on the clip's first `good` segment, exactly as
  `posture calibrate --source CLIP --start S --end E` would (the same gates; a
  refusal is reported, and the evaluation goes on with the baseline kept as
  `--force` would keep it). Then analyse the whole clip from its first frame
  with that profile, as the monitor does: the tracking estimator on every
  frame (or every Nth, settling at changes as `posture analyze --every N`),
  the scorer, the smoother.
- **Uncalibrated**: the same analysis without a profile, judged as `posture
  monitor` judges someone who never calibrated: the population at first, then a
  provisional baseline learned from the session itself (`posture.provisional`).
  A clip is shorter than that learning, so it is replayed end to end as one
  long session (the tracking goes on across the seam) until the learning is
  over, and the pass after that is scored; the session time the learning took
  is reported. A clip that has not finished it after `MAX_PASSES` is scored on
  its last pass, and says so.
- Every frame inside a segment is scored with its raw verdict; the smoothed
  verdict is scored from `SETTLE_S` seconds into each segment (it is built to
  wait that long before it believes a change). Bad = any bad verdict, as for
  images; no-person is not bad.
- A segment is **right** when the smoothed verdict settles on its label inside
  it and stays there to its end; its **delay** is the time from the segment's
  start to that moment.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calibration.gates import CalibrationSample
from calibration.profile import Profile
from calibration.protocol import calibrate
from posture.analysis import (
    SETTLE_REPEATS,
    FrameAnalysis,
    analyze_frames,
    calibration_frames,
    estimator_for,
)
from posture.errors import CalibrationError, EvaluationError
from posture.evaluate import Stats
from posture.provisional import LearningScorer, LearningSettings, learning_scorer
from posture.scoring import Scorer, VerdictSmoother
from posture.sources import VIDEO_EXTENSIONS, Frame, SourceBase, VideoFileSource

LABELS_SUFFIX = ".labels.json"
LABELS = ("good", "bad")
# The smoothed verdict is scored from this many seconds into each segment.
SETTLE_S = 2.0
VIDEO_MODES = ("calibrated", "uncalibrated")
# Replays of a clip, at most, for the uncalibrated mode to finish learning.
MAX_PASSES = 30
VIDEO_PROTOCOL = (
    "calibrated on each clip's first good segment; uncalibrated: the monitor's own "
    f"provisional baseline; smoothed verdicts scored from {SETTLE_S:g} s into each segment"
)


@dataclass(frozen=True)
class Segment:
    """A labelled stretch of a clip, in seconds from its start."""

    start_s: float
    end_s: float
    label: str
    kind: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)):
            raise ValueError("segment times must be finite")
        if not 0 <= self.start_s < self.end_s:
            raise ValueError(
                f"a segment must start before it ends, got {self.start_s}-{self.end_s}"
            )
        if self.label not in LABELS:
            raise ValueError(f"label must be good or bad, got {self.label!r}")

    @property
    def bad(self) -> bool:
        """What the scorer must say here, in the images' terms: any bad posture."""
        return self.label == "bad"

    def contains(self, t_s: float) -> bool:
        """Half-open, so a frame on the line between two segments counts once."""
        return self.start_s <= t_s < self.end_s


@dataclass(frozen=True)
class LabelledClip:
    """A video and its labelled segments, in time order, not overlapping."""

    name: str
    video: Path
    segments: tuple[Segment, ...]

    @property
    def calibration_segment(self) -> Segment:
        """The first good segment: a user calibrates once, at the start of a
        session. `read_clip` refuses a clip without one."""
        return next(s for s in self.segments if not s.bad)

    def segment_at(self, t_s: float) -> Segment | None:
        """None in the transitions between segments, which are not scored."""
        return next((s for s in self.segments if s.contains(t_s)), None)


def _clip_error(path: Path, problem: str) -> EvaluationError:
    return EvaluationError(f"labels file {str(path)!r} {problem}")


def read_clip(path: Path) -> LabelledClip:
    """Parse `NAME.labels.json` and find its video; every problem is an EvaluationError."""
    if not path.is_file():
        raise EvaluationError(f"no labels file at {str(path)!r}")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _clip_error(path, f"is not readable JSON ({error})") from None
    entries = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise _clip_error(path, 'has no "segments" list: see docs/accuracy.md for the format')
    segments = []
    for number, entry in enumerate(entries, start=1):
        try:
            label = str(entry["label"]).strip().lower()
            segments.append(
                Segment(
                    float(entry["start"]), float(entry["end"]), label, str(entry.get("kind", ""))
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise _clip_error(
                path,
                f"segment {number} is invalid ({error}): it needs start < end in seconds "
                "and a label, good or bad",
            ) from None
    segments.sort(key=lambda s: s.start_s)
    for before, after in itertools.pairwise(segments):
        if after.start_s < before.end_s:
            raise _clip_error(
                path,
                f"has overlapping segments ({before.start_s:g}-{before.end_s:g} s and "
                f"{after.start_s:g}-{after.end_s:g} s)",
            )
    if all(s.bad for s in segments):
        raise _clip_error(path, "has no good segment to calibrate on")
    name = path.name[: -len(LABELS_SUFFIX)] if path.name.endswith(LABELS_SUFFIX) else path.stem
    videos = [path.with_name(name + ext) for ext in VIDEO_EXTENSIONS]
    video = next((v for v in videos if v.is_file()), None)
    if video is None:
        raise _clip_error(path, f"has no video beside it (looked for {name}.mp4 and the like)")
    return LabelledClip(name, video, tuple(segments))


def find_clips(path: Path) -> list[LabelledClip]:
    """A `.labels.json` file, or every one in a folder (not its subfolders), by name."""
    if path.is_dir():
        files = sorted(path.glob("*" + LABELS_SUFFIX))
        if not files:
            raise EvaluationError(f"no *{LABELS_SUFFIX} files in folder {str(path)!r}")
        return [read_clip(f) for f in files]
    return [read_clip(path)]


def expected_frames(clips: Sequence[LabelledClip], every: int = 1) -> int | None:
    """About how many frames `evaluate_clips` analyses (for a progress bar): each clip
    once calibrated, and as many passes as learning a baseline usually takes, plus one."""
    total = 0
    for clip in clips:
        with VideoFileSource(clip.video, stride=every) as source:
            if not (source.frame_count and source.fps):
                return None
            duration_s = source.frame_count * every / source.fps
        passes = min(MAX_PASSES, math.ceil(LearningSettings().learn_s / duration_s) + 1)
        total += source.frame_count * (1 + passes)
    return total


def is_video_labels(path: Path) -> bool:
    """Whether `path` names labelled videos (a .labels.json, or a folder holding some)."""
    if path.is_dir():
        return any(path.glob("*" + LABELS_SUFFIX))
    return path.name.endswith(LABELS_SUFFIX)


# -- running the protocol ------------------------------------------------------------------


@dataclass(frozen=True)
class JudgedFrame:
    """One frame's raw and smoothed verdicts (the frame itself is gone)."""

    t_ms: int
    pose: bool
    raw_bad: bool
    smoothed_bad: bool
    raw: str
    smoothed: str


def calibrate_on_segment(clip: LabelledClip) -> tuple[Profile, str | None]:
    """The calibrated profile, and the refusal message when the gates refused it."""
    segment = clip.calibration_segment
    with VideoFileSource(
        clip.video, start_ms=round(segment.start_s * 1000), end_ms=round(segment.end_s * 1000)
    ) as source:
        samples = [
            CalibrationSample(r.metrics, r.person_count, r.brightness)
            for r in calibration_frames(source)
        ]
    description = f"{clip.name} {segment.start_s:g}-{segment.end_s:g} s"
    try:
        return calibrate(samples, name="evaluation", source=description), None
    except CalibrationError as error:
        refusal = str(error)
    try:
        profile = calibrate(samples, name="evaluation", source=description, force=True)
    except CalibrationError as error:
        raise EvaluationError(
            f"cannot calibrate on {clip.name}'s first good segment even with --force: {error}"
        ) from None
    return profile, refusal


class _Shifted(SourceBase):
    """A clip's frames `offset_ms` later: one pass of a replayed session."""

    kind = "video"
    is_stream = True

    def __init__(self, source: VideoFileSource, offset_ms: int) -> None:
        self.source, self.offset_ms = source, offset_ms
        self.description = source.description
        self.frame_count = source.frame_count
        self.last_t_ms = 0

    def __iter__(self) -> Iterator[Frame]:
        for frame in self.source:
            self.last_t_ms = frame.t_ms
            yield Frame(frame.image, frame.t_ms + self.offset_ms, frame.index, frame.name)


def analysed_passes(
    clip: LabelledClip, every: int = 1, advance: Callable[[], None] = lambda: None
) -> Generator[list[FrameAnalysis], None, None]:
    """The clip through the tracking estimator, as `posture analyze` measures it, pass
    after pass as one continuous session (each pass starts one frame after the last
    one ended); stop iterating to stop."""
    with VideoFileSource(clip.video, stride=every) as source:
        with estimator_for(source) as estimator:
            settle = SETTLE_REPEATS if every > 1 else 0
            offset_ms = 0
            while True:
                shifted = _Shifted(source, offset_ms)
                rows = []
                for row in analyze_frames(shifted, estimator, settle=settle):
                    rows.append(row)
                    advance()
                yield rows
                step_ms = round(1000 * every / source.fps) if source.fps else 33
                offset_ms += shifted.last_t_ms + step_ms


def judge_frames(
    rows: Sequence[FrameAnalysis],
    scorer: Scorer | LearningScorer,
    smoother: VerdictSmoother | None = None,
    offset_ms: int = 0,
) -> list[JudgedFrame]:
    """Raw and smoothed verdicts, as the monitor forms them; times less `offset_ms`."""
    smoother = smoother or VerdictSmoother()
    judged = []
    for row in rows:
        raw = scorer.assess(row.metrics, row.person_present, t_ms=row.t_ms)
        smoothed = smoother.update(raw, row.t_ms)
        judged.append(
            JudgedFrame(
                row.t_ms - offset_ms,
                row.metrics is not None,
                raw.verdict.is_bad,
                smoothed.verdict.is_bad,
                raw.verdict.value,
                smoothed.verdict.value,
            )
        )
    return judged


def learn_then_judge(
    clip: LabelledClip, every: int = 1, advance: Callable[[], None] = lambda: None
) -> tuple[list[JudgedFrame], float | None, int]:
    """The uncalibrated mode: replay until the learning is over, judge the pass after.

    Returns that pass's verdicts, the session seconds the learning took (None: not
    finished), and the passes played.
    """
    learner = learning_scorer()
    smoother = VerdictSmoother()
    passes = analysed_passes(clip, every, advance)
    judged: list[JudgedFrame] = []
    for number, rows in enumerate(passes, start=1):
        learned_before = learner.learned_at_ms is not None
        if learned_before:
            # The scored pass starts as a clip does, not with the verdict the last
            # pass ended on (a jump at the seam no real session has).
            smoother.reset()
        offset_ms = rows[0].t_ms if rows else 0
        judged = judge_frames(rows, learner, smoother, offset_ms)
        if learned_before or number >= MAX_PASSES:
            passes.close()
            learned = learner.learned_at_ms
            return judged, None if learned is None else learned / 1000, number
    raise AssertionError("unreachable: analysed_passes never ends")


@dataclass(frozen=True)
class SegmentResult:
    """How one labelled segment went."""

    segment: Segment
    frames: int
    raw_right: int
    settle_s: float | None  # None: the smoothed verdict never settled on the label

    @property
    def right(self) -> bool:
        """Settled on the label and stayed to the segment's end: what a user sees."""
        return self.settle_s is not None

    def as_dict(self) -> dict[str, Any]:
        """For the JSON report; the delay to a hundredth of a second, finer than
        any frame interval."""
        return {
            "start": self.segment.start_s,
            "end": self.segment.end_s,
            "label": self.segment.label,
            "kind": self.segment.kind,
            "frames": self.frames,
            "raw_right": self.raw_right,
            "right": self.right,
            "settle_s": None if self.settle_s is None else round(self.settle_s, 2),
        }


@dataclass
class ClipResult:
    """One clip in one mode: per-frame counts, raw and smoothed, and per segment."""

    clip: str
    raw: Stats = field(default_factory=Stats)
    smoothed: Stats = field(default_factory=Stats)
    segments: list[SegmentResult] = field(default_factory=list)
    refusal: str | None = None
    # Uncalibrated mode: session seconds until the provisional baseline was learned
    # (None: not within MAX_PASSES), and how many passes were played.
    learned_s: float | None = None
    passes: int = 1

    @property
    def segments_right(self) -> int:
        """The headline count: segments whose smoothed verdict a user would agree with."""
        return sum(s.right for s in self.segments)

    @property
    def worst_settle_s(self) -> float | None:
        """The longest wait for a right verdict; None when a segment never got one,
        since no delay would then be honest."""
        delays = [s.settle_s for s in self.segments]
        if any(d is None for d in delays):
            return None
        return max((d for d in delays if d is not None), default=0.0)

    def as_dict(self) -> dict[str, Any]:
        """For the JSON report, with the calibration's refusal and the learning's
        time, which explain a weak clip."""
        return {
            "raw": self.raw.as_dict(),
            "smoothed": self.smoothed.as_dict(),
            "segments_right": self.segments_right,
            "segments": [s.as_dict() for s in self.segments],
            "worst_settle_s": None
            if self.worst_settle_s is None
            else round(self.worst_settle_s, 2),
            "calibration_refused": self.refusal,
            "learned_after_s": None if self.learned_s is None else round(self.learned_s, 1),
            "passes": self.passes,
        }


def score_clip(
    clip: LabelledClip, frames: Sequence[JudgedFrame], refusal: str | None = None
) -> ClipResult:
    """Apply the protocol's counting rules to one clip's judged frames."""
    result = ClipResult(clip.name, refusal=refusal)
    for segment in clip.segments:
        inside = [f for f in frames if segment.contains(f.t_ms / 1000)]
        raw_right = 0
        for frame in inside:
            result.raw.add(segment.bad, frame.raw_bad, frame.pose)
            raw_right += frame.raw_bad == segment.bad
            if frame.t_ms / 1000 >= segment.start_s + SETTLE_S:
                result.smoothed.add(segment.bad, frame.smoothed_bad, frame.pose)
        settle_s: float | None = None
        for frame in reversed(inside):
            if frame.smoothed_bad != segment.bad:
                break
            settle_s = frame.t_ms / 1000 - segment.start_s
        result.segments.append(SegmentResult(segment, len(inside), raw_right, settle_s))
    return result


@dataclass
class VideoEvaluation:
    """Results per mode and clip."""

    clips: dict[str, dict[str, ClipResult]] = field(default_factory=dict)
    frames: dict[str, dict[str, list[JudgedFrame]]] = field(default_factory=dict)

    def as_dict(self, details: bool = False) -> dict[str, Any]:
        """The JSON report; `details` adds every judged frame, to see where a clip
        went wrong."""
        out: dict[str, Any] = {
            "protocol": VIDEO_PROTOCOL,
            "modes": {
                mode: {name: result.as_dict() for name, result in clips.items()}
                for mode, clips in self.clips.items()
            },
        }
        if details:
            out["frames"] = {
                mode: {
                    name: [{"t_ms": f.t_ms, "raw": f.raw, "smoothed": f.smoothed} for f in frames]
                    for name, frames in clips.items()
                }
                for mode, clips in self.frames.items()
            }
        return out


def evaluate_clips(
    clips: Sequence[LabelledClip],
    every: int = 1,
    advance: Callable[[], None] = lambda: None,
    modes: Sequence[str] = VIDEO_MODES,
) -> VideoEvaluation:
    """The protocol over every clip, in each of `modes`."""
    unknown = set(modes) - set(VIDEO_MODES)
    if unknown:
        raise ValueError(f"unknown modes {sorted(unknown)}: choose from {VIDEO_MODES}")
    result = VideoEvaluation(clips={m: {} for m in modes}, frames={m: {} for m in modes})
    for clip in clips:
        if "calibrated" in modes:
            profile, refusal = calibrate_on_segment(clip)
            analysed = analysed_passes(clip, every, advance)
            judged = judge_frames(next(analysed), Scorer(profile))
            analysed.close()
            result.frames["calibrated"][clip.name] = judged
            result.clips["calibrated"][clip.name] = score_clip(clip, judged, refusal)
        if "uncalibrated" in modes:
            judged, learned_s, passes = learn_then_judge(clip, every, advance)
            scored = score_clip(clip, judged)
            scored.learned_s, scored.passes = learned_s, passes
            result.frames["uncalibrated"][clip.name] = judged
            result.clips["uncalibrated"][clip.name] = scored
    return result
