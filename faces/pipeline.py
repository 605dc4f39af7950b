"""Images in, embedded faces out: the one code path used by ingest (a batch of frames) and by
photo search (one image).

MTCNN runs once per image; then every face of every image goes through the embedder in one
batched pass (the seed embedded one face at a time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings

from faces.detection import Detection, detect_faces, device, resolve_min_face
from faces.embedders import get_embedder

__all__ = ["DetectedFace", "analyse_images", "device"]


@dataclass(frozen=True)
class DetectedFace:
    detection: Detection
    vector: np.ndarray  # unit float32, the embedder's dimension


def analyse_images(
    images_rgb: list[np.ndarray],
    *,
    embedder: str,
    min_face: float,
    min_probability: float | None = None,
) -> list[list[DetectedFace]]:
    """The faces of each image (one list per image, same order), embedded by ``embedder``.

    ``min_face`` is pixels (>= 1) or a fraction of each image's height (< 1). The embedder is
    loaded before any detection, so a missing model fails fast (UnknownEmbedder /
    EmbedderUnavailable) without wasted work.
    """
    model = get_embedder(embedder)
    if min_probability is None:
        min_probability = settings.FACEFINDER_MIN_PROBABILITY
    detections = [
        detect_faces(
            image,
            min_face_px=resolve_min_face(min_face, image.shape[0]),
            min_probability=min_probability,
        )
        for image in images_rgb
    ]
    vectors = model.embed_many(
        (image, faces) for image, faces in zip(images_rgb, detections, strict=True) if faces
    )
    results: list[list[DetectedFace]] = []
    row = 0
    for faces in detections:
        results.append(
            [DetectedFace(detection=face, vector=vectors[row + i]) for i, face in enumerate(faces)]
        )
        row += len(faces)
    return results
