"""Face detection with facenet-pytorch's MTCNN networks, run once per image.

The three MTCNN networks are loaded once per process (their weights ship inside the
facenet-pytorch wheel, so this works offline) and run under ``torch.inference_mode()``.
``faces.mtcnn`` runs their stages with the image pyramid built from one integral image instead
of one full-frame interpolation per scale; detections match facenet-pytorch's ``MTCNN.detect``
to float rounding. The smallest face searched for sets the number of pyramid scales.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    import torch

# MTCNN's proposal network looks at 12 px windows; below about 20 px (facenet-pytorch's own
# default minimum) detections are unreliable and the image pyramid grows large.
MTCNN_MIN_FACE_PX = 20
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
    import torch

    wanted = str(settings.FACEFINDER_DEVICE or "auto").strip().lower()
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise ImproperlyConfigured(f"FACEFINDER_DEVICE={wanted} but no CUDA device is available")
    try:
        return torch.device(wanted)
    except RuntimeError as exc:
        raise ImproperlyConfigured(
            f"FACEFINDER_DEVICE={wanted} is not a torch device (use auto, cpu or cuda)"
        ) from exc


def parallel_images() -> int:
    """How many images the pipeline analyses side by side (settings.FACEFINDER_PARALLEL_IMAGES).

    0 means one per CPU core on the CPU and one on CUDA. On the CPU, two frames on one torch
    thread each beat one frame on two threads: MTCNN is many small tensors, which intra-op
    threading splits poorly (on 2 cores: 2.0 s against 2.6 s for 21 1080p frames).
    """
    wanted = settings.FACEFINDER_PARALLEL_IMAGES
    if wanted > 0:
        return wanted
    if device().type != "cpu":
        return 1
    return max(1, len(os.sched_getaffinity(0)))


def configure_threads() -> None:
    """Torch CPU threads: settings.FACEFINDER_TORCH_THREADS, else one per parallel image.

    With 0 and one image at a time, torch keeps its default (one thread per core).
    """
    import torch

    threads = settings.FACEFINDER_TORCH_THREADS
    if threads <= 0 and parallel_images() > 1:
        threads = 1
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


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
        import torch
        from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

        self.device = on
        # channels_last: oneDNN's (and cuDNN's) faster kernels; faces.mtcnn feeds that layout.
        layout = torch.channels_last
        self.pnet = PNet().to(on).eval().to(memory_format=layout)
        self.rnet = RNet().to(on).eval().to(memory_format=layout)
        self.onet = ONet().to(on).eval().to(memory_format=layout)


_nets: dict[str, _MTCNNNets] = {}
_nets_lock = threading.Lock()


def _mtcnn_nets() -> _MTCNNNets:
    configure_threads()
    on = device()
    key = str(on)
    with _nets_lock:
        if key not in _nets:
            _nets[key] = _MTCNNNets(on)
        return _nets[key]


def detect_faces(
    image_rgb: np.ndarray, *, min_face_px: int, min_probability: float
) -> list[Detection]:
    """The faces MTCNN finds when searching from ``min_face_px`` up, with probability
    > ``min_probability``.

    As in facenet-pytorch's ``MTCNN(min_face_size=...)`` (and the seed), the minimum sets the
    scales MTCNN searches at: it finds nothing much smaller, but the tight boxes it returns may
    be somewhat smaller than the minimum (on 1080p with 120 px, boxes of 65-110 px occur).

    ``image_rgb`` is an (h, w, 3) uint8 RGB array. Faces come left to right (then top to
    bottom), which makes face indexes stable and readable.
    """
    image = _check_image(image_rgb)
    min_face_px = max(MTCNN_MIN_FACE_PX, int(min_face_px))
    if min_face_px > min(image.shape[:2]):
        return []  # no face that large fits; MTCNN would build an empty pyramid and fail
    boxes, points = _run_mtcnn(image, min_face_px)
    detections = [
        Detection(
            box=(float(row[0]), float(row[1]), float(row[2]), float(row[3])),
            probability=float(row[4]),
            landmarks=[[float(x), float(y)] for x, y in marks],
        )
        for row, marks in zip(boxes, points, strict=True)
        if float(row[4]) > min_probability
    ]
    detections.sort(key=lambda d: (round(d.box[0]), round(d.box[1])))
    return detections


def _check_image(image_rgb: np.ndarray) -> np.ndarray:
    image = np.asarray(image_rgb)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (h, w, 3) RGB image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    return np.ascontiguousarray(image)


def _run_mtcnn(image: np.ndarray, min_face_px: int) -> tuple[np.ndarray, np.ndarray]:
    """MTCNN's three stages on one image: (n, 5) boxes with probability, (n, 5, 2) landmarks."""
    import torch

    from faces.mtcnn import detect

    nets = _mtcnn_nets()
    with torch.inference_mode():
        return detect(
            image,
            min_face_px,
            (nets.pnet, nets.rnet, nets.onet),
            MTCNN_THRESHOLDS,
            MTCNN_PYRAMID_FACTOR,
            nets.device,
        )
