"""The plain loop a user would write to find and describe the faces of a video, with the same
networks as the product's offline default: OpenCV grabs every frame and decodes every Nth
(``grab``/``retrieve``, the cheap way to sample), facenet-pytorch's ``MTCNN.detect`` finds the
faces, and dlib describes each one (the 5-point shape predictor in MTCNN's box, then
``face_recognition_model_v1.compute_face_descriptor``), with the model files that
``face_recognition_models`` ships. Nothing is stored: the loop only counts.

It runs without Django (``manage.py bench_ingest --plain-loop`` starts it as its own process and
times it from start to exit), so its start-up is what a user's script pays.

usage: python plain_loop.py VIDEO [--every 25] [--min-face 65] [--min-probability 0.99]
                             [--faces OUT.npz]
prints one JSON line: frames read, frames sampled, faces, seconds of the loop and of loading;
``--faces`` also saves each face's frame index, box and descriptor (for comparing faces).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path


def model_dir() -> Path:
    """face_recognition_models' data folder (its ``__init__`` needs ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the plain loop needs the face_recognition_models package")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video")
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--min-face", type=int, default=65, help="MTCNN's min_face_size, px")
    parser.add_argument("--min-probability", type=float, default=0.99)
    parser.add_argument("--faces", default="", help="save frame indexes, boxes, descriptors")
    args = parser.parse_args()

    started = time.perf_counter()
    import cv2
    import dlib
    import numpy as np
    from facenet_pytorch import MTCNN

    models = model_dir()
    mtcnn = MTCNN(keep_all=True, min_face_size=args.min_face, device="cpu")
    predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    describe = dlib.face_recognition_model_v1(
        str(models / "dlib_face_recognition_resnet_model_v1.dat")
    )
    loaded = time.perf_counter()

    video = cv2.VideoCapture(args.video)
    if not video.isOpened():
        sys.exit(f"cannot open {args.video}")
    read = sampled = 0
    found: list[tuple[int, list[float], np.ndarray]] = []
    while video.grab():
        if read % args.every == 0:
            ok, frame = video.retrieve()
            if not ok:
                break
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            boxes, probs = mtcnn.detect(rgb)
            sampled += 1
            if boxes is not None:
                boxes = np.asarray(boxes, dtype=np.float32)
                for box, probability in zip(boxes, probs, strict=True):
                    if probability <= args.min_probability:
                        continue
                    x1, y1, x2, y2 = (round(float(v)) for v in box)
                    shape = predictor(rgb, dlib.rectangle(x1, y1, x2, y2))
                    descriptor = describe.compute_face_descriptor(rgb, shape)
                    found.append((read, [float(v) for v in box], np.asarray(descriptor)))
        read += 1
    video.release()
    done = time.perf_counter()
    if args.faces:
        np.savez(
            args.faces,
            frame_index=np.asarray([f[0] for f in found], dtype=np.int64),
            boxes=np.asarray([f[1] for f in found], dtype=np.float32).reshape(-1, 4),
            descriptors=np.asarray([f[2] for f in found], dtype=np.float32).reshape(-1, 128),
        )
    print(
        json.dumps(
            {
                "frames_read": read,
                "frames_sampled": sampled,
                "faces": len(found),
                "loop_seconds": round(done - loaded, 2),
                "load_seconds": round(loaded - started, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
