"""Images in, embedded faces out: the one code path used by ingest (a batch of frames) and by
photo search (one image).

MTCNN runs once per image; then every face of every image goes through the embedder in one
batched pass (the seed embedded one face at a time). On the CPU several images are analysed side
by side, one torch thread each (``faces.detection.parallel_images``); the faces of a batch are
then split into as many contiguous chunks for the embedder, so results keep their order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from django.conf import settings

from faces.detection import (
    Detection,
    configure_threads,
    detect_faces,
    parallel_images,
    resolve_min_face,
)
from faces.embedders import get_embedder
from movies.timing import NullTimer, StageTimer

__all__ = ["DetectedFace", "analyse_images", "largest_faces"]

Item = TypeVar("Item")
Result = TypeVar("Result")


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
    timer: StageTimer | None = None,
    select: Callable[[list[Detection]], list[Detection]] | None = None,
) -> list[list[DetectedFace]]:
    """The faces of each image (one list per image, same order), embedded by ``embedder``.

    ``min_face`` is pixels (>= 1) or a fraction of each image's height (< 1). The embedder is
    loaded before any detection, so a missing model fails fast (UnknownEmbedder /
    EmbedderUnavailable) without wasted work. ``timer`` gets the wall time of the "detect"
    and the "embed" stages (all images of a stage side by side). ``select``, when given, picks
    which of an image's detections are embedded (``largest_faces`` of a crowded photo, say).
    """
    timer = timer or NullTimer()
    model = get_embedder(embedder)
    configure_threads()
    if min_probability is None:
        min_probability = settings.FACEFINDER_MIN_PROBABILITY
    workers = parallel_images()

    def detect(image: np.ndarray) -> list[Detection]:
        return detect_faces(
            image,
            min_face_px=resolve_min_face(min_face, image.shape[0]),
            min_probability=min_probability,
        )

    with timer.stage("detect"):
        detections = _map(detect, images_rgb, workers)
    if select is not None:
        detections = [select(faces) for faces in detections]
    with_faces = [
        (image, faces) for image, faces in zip(images_rgb, detections, strict=True) if faces
    ]
    with timer.stage("embed"):
        if getattr(model, "thread_safe", False):
            chunks = [chunk for chunk in _split(with_faces, workers) if chunk]
            parts = _map(model.embed_many, chunks, workers)
            vectors = np.vstack(parts) if parts else np.empty((0, model.dimension), np.float32)
        else:
            vectors = model.embed_many(with_faces)
    results: list[list[DetectedFace]] = []
    row = 0
    for faces in detections:
        results.append(
            [DetectedFace(detection=face, vector=vectors[row + i]) for i, face in enumerate(faces)]
        )
        row += len(faces)
    return results


def largest_faces(detections: list[Detection], limit: int) -> list[Detection]:
    """The ``limit`` largest faces (by box area), in their original order."""
    if len(detections) <= limit:
        return detections
    by_area = sorted(
        range(len(detections)), key=lambda i: -detections[i].width * detections[i].height
    )
    keep = set(by_area[:limit])
    return [face for i, face in enumerate(detections) if i in keep]


def _map(function: Callable[[Item], Result], items: Sequence[Item], workers: int) -> list[Result]:
    """``function`` over ``items`` in order, on up to ``workers`` threads."""
    if workers <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    return list(_executor(workers).map(function, items))


def _split(items: list[Item], parts: int) -> list[list[Item]]:
    """``items`` in ``parts`` contiguous runs of near-equal length."""
    size, extra = divmod(len(items), parts)
    runs, start = [], 0
    for part in range(parts):
        end = start + size + (1 if part < extra else 0)
        runs.append(items[start:end])
        start = end
    return runs


_executors: dict[int, ThreadPoolExecutor] = {}
_executors_lock = threading.Lock()


def _executor(workers: int) -> ThreadPoolExecutor:
    """One long-lived pool per size; torch releases the GIL inside its kernels."""
    with _executors_lock:
        if workers not in _executors:
            _executors[workers] = ThreadPoolExecutor(workers, thread_name_prefix="faces")
        return _executors[workers]
