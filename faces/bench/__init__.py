"""Benchmarks of the face pipeline (``manage.py bench_faces``): speed, agreement, retrieval.

Never tests: figures are measured here and reported with the command that printed them. The
shared machine is noisy, so competing paths are timed in the same run, interleaved, and
every time is reported as the median with the range of the repeats.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings


def shared_data() -> Path:
    """The shared test data folder beside the checkout (clips, photos, lfw_dev)."""
    return Path(settings.BASE_DIR).parent / "shared" / "data"


def load_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def video_frames(path: Path, every: int) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB frame) of every ``every``-th frame of a video."""
    capture = cv2.VideoCapture(str(path))
    try:
        index = 0
        while capture.grab():
            if index % every == 0:
                ok, frame = capture.retrieve()
                if ok:
                    yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


def interleaved(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Seconds of each run, ``repeat`` times, alternating between runs (so that a noisy
    neighbour slows all of them alike) after one untimed warm-up each."""
    for run in runs.values():
        run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def spread(values: list[float], *, per: int = 1, unit: str = "s", digits: int = 4) -> str:
    """'median (min-max)' of ``values`` divided by ``per``."""
    scaled = np.asarray(values, dtype=np.float64) / per
    low, mid, high = np.min(scaled), np.median(scaled), np.max(scaled)
    return f"{mid:.{digits}f} {unit} ({low:.{digits}f}-{high:.{digits}f})"


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
