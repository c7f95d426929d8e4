"""Build pose_landmarker_full.task and pose_landmarker_heavy.task for `run.py --models`.

Google publishes the full and heavy PoseLandmarker bundles only on its own storage, which
this project's machines cannot reach. The same networks ship in the npm package
`@mediapipe/pose` (Apache-2.0) as bare .tflite files, without the metadata the Tasks API
reads (input normalisation). A .task file is a zip of a pose detector and a landmark
network, so this builds one per network: the bundled lite task's detector, and the
network with the lite landmark network's metadata copied in (the three share their input
and outputs). Check: the lite network from npm, rebuilt this way, gives exactly the
bundled task's landmarks on the sample photos.

    npm pack @mediapipe/pose && tar xzf mediapipe-pose-*.tgz      # -> package/*.tflite
    python -m venv /tmp/tfs && /tmp/tfs/bin/pip install tflite-support
    /tmp/tfs/bin/python benchmarks/build_models.py package/ /tmp/models
    python benchmarks/run.py --models /tmp/models/pose_landmarker_full.task \\
        /tmp/models/pose_landmarker_heavy.task

(tflite-support pins an old protobuf, hence its own virtualenv.) The results are for
measuring only: they are not part of the package.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

LITE_TASK = (
    Path(__file__).resolve().parent.parent / "posture" / "models" / ("pose_landmarker_lite.task")
)


def main() -> None:
    from tflite_support import metadata

    package, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work_dir, zipfile.ZipFile(LITE_TASK) as lite:
        work = Path(work_dir)
        lite.extractall(work / "lite")
        detector = work / "lite" / "pose_detector.tflite"
        reference = work / "lite" / "pose_landmarks_detector.tflite"
        buffer = metadata.MetadataDisplayer.with_model_file(str(reference)).get_metadata_buffer()
        for name in ("full", "heavy"):
            network = work / f"{name}.tflite"
            shutil.copy(package / f"pose_landmark_{name}.tflite", network)
            populator = metadata.MetadataPopulator.with_model_file(str(network))
            populator.load_metadata_buffer(buffer)
            populator.populate()
            task = out / f"pose_landmarker_{name}.task"
            with zipfile.ZipFile(task, "w", zipfile.ZIP_STORED) as bundle:
                bundle.write(detector, "pose_detector.tflite")
                bundle.write(network, "pose_landmarks_detector.tflite")
            print(task)


if __name__ == "__main__":
    main()
