"""Start-up reference: process start to a loaded PoseLandmarker, nothing else.

`python benchmarks/bare_landmarker.py OUT.json`: the least any MediaPipe tool must do
before its first frame (the interpreter, MediaPipe's import, the model). Writes the
monotonic time at which the landmarker was ready.
"""

import json
import sys
import time
from pathlib import Path

from mediapipe.tasks.python import BaseOptions, vision

MODEL = Path(__file__).resolve().parent.parent / "posture" / "models" / "pose_landmarker_lite.task"

landmarker = vision.PoseLandmarker.create_from_options(
    vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(MODEL)),
        running_mode=vision.RunningMode.VIDEO,
    )
)
ready_at = time.monotonic()
Path(sys.argv[1]).write_text(json.dumps({"ready_at": ready_at}))
landmarker.close()
