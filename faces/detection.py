"""Face detection with facenet-pytorch's MTCNN, run once per image.

The three MTCNN networks are loaded once per process (their weights ship inside the
facenet-pytorch wheel, so this works offline) and run under ``torch.inference_mode()``.

Speed: MTCNN's cost is set by the image size and by the smallest face it looks for. When the
smallest wanted face is large (120 px on a 1080p frame), the image is first shrunk with area
interpolation so that the smallest face is still ``DETECTION_FACE_PX`` pixels tall, and the
minimum face size is scaled with it. MTCNN's own first step is the same area shrink to the
first pyramid scale, so the image pyramid, the candidate boxes and the final boxes stay the same
up to rounding; boxes and landmarks are scaled back to the original pixels.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from django.conf import settings

# MTCNN's proposal network looks at 12 px windows; below about 20 px (facenet-pytorch's own
# default minimum) detections are unreliable and the image pyramid grows large.
MTCNN_MIN_FACE_PX = 20
# Faces at least this tall (in the shrunk image) keep every detail the refinement networks
# see: their inputs are 24 px and 48 px crops.
DETECTION_FACE_PX = 60
MTCNN_THRESHOLDS = (0.6, 0.7, 0.7)
MTCNN_PYRAMID_FACTOR = 0.709


@dataclass(frozen=True)
class Detection:
    """One face found by MTCNN, in the pixels of the image it was found in."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    probability: float
    landmarks: list[list[float]]  # five [x, y] points: eyes, nose, mouth corners

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def device() -> torch.device:
    """The torch device for the networks: CUDA when present unless FACEFINDER_DEVICE says."""
    wanted = str(getattr(settings, "FACEFINDER_DEVICE", "auto") or "auto").strip().lower()
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"FACEFINDER_DEVICE={wanted} but no CUDA device is available")
    return torch.device(wanted)


def resolve_min_face(min_face: float, frame_height: int) -> int:
    """The smallest face kept, in pixels.

    ``min_face`` below 1 is a fraction of the frame height (0.1 on 1080p = 108 px), 1 or more is
    pixels. The result never goes below MTCNN's practical minimum of 20 px.
    """
    if min_face is None or not np.isfinite(min_face) or min_face <= 0:
        raise ValueError(f"minimum face size must be a positive number, got {min_face!r}")
    if frame_height <= 0:
        raise ValueError(f"frame height must be positive, got {frame_height!r}")
    pixels = min_face * frame_height if min_face < 1 else min_face
    return max(MTCNN_MIN_FACE_PX, round(pixels))


class _MTCNNNets:
    """P-, R- and O-net of MTCNN on one device (facenet-pytorch's pretrained weights)."""

    def __init__(self, on: torch.device) -> None:
        from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

        self.device = on
        self.pnet = PNet().to(on).eval()
        self.rnet = RNet().to(on).eval()
        self.onet = ONet().to(on).eval()


_nets: dict[str, _MTCNNNets] = {}
_nets_lock = threading.Lock()


def _mtcnn_nets() -> _MTCNNNets:
    on = device()
    key = str(on)
    with _nets_lock:
        if key not in _nets:
            _nets[key] = _MTCNNNets(on)
        return _nets[key]


def detect_faces(
    image_rgb: np.ndarray, *, min_face_px: int, min_probability: float
) -> list[Detection]:
    """Every face of at least ``min_face_px`` pixels with probability > ``min_probability``.

    ``image_rgb`` is an (h, w, 3) uint8 RGB array. Faces come left to right (then top to
    bottom), which makes face indexes stable and readable.
    """
    image = _check_image(image_rgb)
    min_face_px = max(MTCNN_MIN_FACE_PX, int(min_face_px))
    shrink = min(1.0, DETECTION_FACE_PX / min_face_px)
    work = image
    if shrink < 1.0:
        height, width = image.shape[:2]
        size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
        work = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    # The exact factors per axis, after rounding the shrunk size to whole pixels.
    scale_x = image.shape[1] / work.shape[1]
    scale_y = image.shape[0] / work.shape[0]

    boxes, points = _run_mtcnn(work, min_face_px * shrink)
    detections = []
    for row, marks in zip(boxes, points, strict=True):
        probability = float(row[4])
        if not probability > min_probability:
            continue
        box = (
            float(row[0]) * scale_x,
            float(row[1]) * scale_y,
            float(row[2]) * scale_x,
            float(row[3]) * scale_y,
        )
        landmarks = [[float(x) * scale_x, float(y) * scale_y] for x, y in marks]
        detections.append(Detection(box=box, probability=probability, landmarks=landmarks))
    detections.sort(key=lambda d: (round(d.box[0]), round(d.box[1])))
    return detections


def _check_image(image_rgb: np.ndarray) -> np.ndarray:
    image = np.asarray(image_rgb)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (h, w, 3) RGB image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    return np.ascontiguousarray(image)


def _run_mtcnn(image: np.ndarray, min_face_px: float) -> tuple[np.ndarray, np.ndarray]:
    """MTCNN's three stages on one image: (n, 5) boxes with probability, (n, 5, 2) landmarks."""
    from facenet_pytorch.models.utils.detect_face import detect_face

    nets = _mtcnn_nets()
    with torch.inference_mode():
        batch_boxes, batch_points = detect_face(
            image,
            min_face_px,
            nets.pnet,
            nets.rnet,
            nets.onet,
            list(MTCNN_THRESHOLDS),
            MTCNN_PYRAMID_FACTOR,
            nets.device,
        )
    # facenet-pytorch returns numpy object arrays (one entry per image) under numpy 2.
    boxes = np.asarray(batch_boxes[0], dtype=np.float32).reshape(-1, 5)
    points = np.asarray(batch_points[0], dtype=np.float32).reshape(-1, 5, 2)
    return boxes, points
