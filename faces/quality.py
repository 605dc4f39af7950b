"""How good a look at a face is: sharpness, how frontal it is, and the score that picks an
appearance's representative face.

The representative face is the one most worth showing for an appearance: large, sharp and
frontal. Its score multiplies the three:

    box area (pixels²) x sharpness x max(0.05, frontality)

- sharpness: variance of the Laplacian of the face's grey crop scaled to 64 x 64 (scaled, so
  that a large face is not "sharper" only for having more pixels; the area term rewards size);
  computed at ingest from the decoded frame and stored on the face (``Face.sharpness``).
- frontality: 1 when the nose lies midway between the eyes (MTCNN's landmarks), falling to 0
  as it reaches either eye, as in a profile. The floor keeps a sharp profile above a blurred one
  when a person is never seen from the front.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

SHARPNESS_SIZE = 64
FRONTALITY_FLOOR = 0.05


def sharpness(image_bgr: np.ndarray, box: Sequence[float]) -> float:
    """Variance of the Laplacian of the face inside ``box`` (frame pixels), at 64 x 64 grey."""
    height, width = image_bgr.shape[:2]
    x1, y1, x2, y2 = box
    left, top = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
    right, bottom = int(min(width, np.ceil(x2))), int(min(height, np.ceil(y2)))
    if right - left < 2 or bottom - top < 2:
        return 0.0
    crop = image_bgr[top:bottom, left:right]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    scaled = cv2.resize(grey, (SHARPNESS_SIZE, SHARPNESS_SIZE), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(scaled, cv2.CV_64F).var())


def frontality(landmarks: Sequence[Sequence[float]]) -> float:
    """1 for a face seen from the front, towards 0 for a profile; 0.5 without landmarks."""
    if len(landmarks) < 3:
        return 0.5
    (left_x, _), (right_x, _), (nose_x, _) = landmarks[0], landmarks[1], landmarks[2]
    half_gap = abs(right_x - left_x) / 2
    if half_gap <= 0:
        return 0.0
    offset = abs(nose_x - (left_x + right_x) / 2) / half_gap
    return float(max(0.0, 1.0 - offset))


def representative_score(
    box: Sequence[float], landmarks: Sequence[Sequence[float]], face_sharpness: float | None
) -> float:
    """Area x sharpness x frontality (floored): the face of an appearance most worth showing."""
    x1, y1, x2, y2 = box
    area = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return area * float(face_sharpness or 0.0) * max(FRONTALITY_FLOOR, frontality(landmarks))
