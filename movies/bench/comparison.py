"""``bench_ingest --plain-loop``: the product's ``manage.py ingest`` against the plain loop a user
would write (``movies.bench.plain_loop``), each in its own process timed from start to
exit, on the same clip and settings, with the clip's decode floor beside them and the faces of
both matched box by box.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PLAIN_LOOP = Path(__file__).with_name("plain_loop.py")
# Two boxes of one face from the two MTCNN implementations overlap far more than this.
MATCH_IOU = 0.5


@dataclass(frozen=True)
class Arm:
    """One timed process: wall and CPU seconds from start to exit, what it found."""

    wall: float
    cpu: float
    frames_sampled: int
    faces: int
    detail: dict[str, Any]


def timed_run(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a child process; its result, wall seconds from start to exit, and CPU seconds (user
    and system, its threads and its own children included). CPU time tells a little of what
    the wall time cannot on a machine shared with other work."""

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    cpu_before, started = cpu(), time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603
    return result, time.perf_counter() - started, cpu() - cpu_before


def run_product_ingest(
    manage: list[str],
    env: dict[str, str],
    video: Path,
    *,
    every: int,
    min_face: float,
    embedder: str,
) -> Arm:
    """``manage.py ingest VIDEO`` as an operator runs it (no progress output), on the database
    of ``env``; the counts are read back from that database."""
    command = [
        *manage, "ingest", str(video), "--every", str(every), "--min-face", f"{min_face:g}",
        "--embedder", embedder, "--no-progress",
    ]  # fmt: skip
    result, wall, cpu = timed_run(command, env)
    if result.returncode != 0:
        raise RuntimeError(f"ingest failed: {(result.stderr or result.stdout).strip()[-500:]}")
    database = env["DATABASE_URL"].removeprefix("sqlite:///")
    with closing(_read_only(database)) as db:
        frames, faces = db.execute(
            "SELECT frames_sampled, faces_found FROM movies_movie WHERE source_path = ?",
            (str(video.resolve()),),
        ).fetchone()
    return Arm(wall, cpu, frames, faces, {"output": result.stdout.strip().splitlines()[-1:]})


def run_plain_loop(video: Path, faces_file: Path, *, every: int, min_face_px: int) -> Arm:
    """The plain loop in its own process, its faces saved to ``faces_file``."""
    command = [
        sys.executable, str(PLAIN_LOOP), str(video), "--every", str(every),
        "--min-face", str(min_face_px), "--faces", str(faces_file),
    ]  # fmt: skip
    result, wall, cpu = timed_run(command)
    if result.returncode != 0:
        raise RuntimeError(f"plain loop failed: {result.stderr.strip()[-500:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return Arm(wall, cpu, report["frames_sampled"], report["faces"], report)


def decode_floor(video: Path) -> dict[str, float]:
    """Seconds and frames/s of decoding every frame and converting none: PyAV with its codec
    threads on (the product's decoder), and OpenCV's ``grab`` (the plain loop's)."""
    import av
    import cv2

    floors: dict[str, float] = {}
    started = time.perf_counter()
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = sum(1 for _ in container.decode(stream))
    floors["frames"] = frames
    floors["pyav_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    capture = cv2.VideoCapture(str(video))
    grabbed = 0
    while capture.grab():
        grabbed += 1
    capture.release()
    floors["opencv_seconds"] = time.perf_counter() - started
    floors["opencv_frames"] = grabbed
    return floors


@dataclass(frozen=True)
class FaceMatch:
    product: int
    plain: int
    matched: int
    median_iou: float
    cosines: np.ndarray  # of matched faces' vectors (meaningful for the same alignment only)


def match_faces(database: str, video: Path, faces_file: Path) -> FaceMatch:
    """Each plain-loop face paired with the product's face of the same frame whose box overlaps
    it most (IoU > ``MATCH_IOU``, each product face used once)."""
    plain = np.load(faces_file)
    with closing(_read_only(database)) as db:
        rows = db.execute(
            "SELECT f.frame_index, f.x1, f.y1, f.x2, f.y2, f.embedding FROM faces_face f "
            "JOIN movies_movie m ON m.id = f.movie_id WHERE m.source_path = ?",
            (str(video.resolve()),),
        ).fetchall()
    ours: dict[int, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for index, x1, y1, x2, y2, blob in rows:
        ours[index].append((np.array([x1, y1, x2, y2]), np.frombuffer(blob, dtype=np.float32)))
    used: set[tuple[int, int]] = set()
    ious, cosines = [], []
    for index, box, descriptor in zip(
        plain["frame_index"], plain["boxes"], plain["descriptors"], strict=True
    ):
        candidates = [
            (iou(box, theirs[0]), k)
            for k, theirs in enumerate(ours.get(int(index), []))
            if (int(index), k) not in used
        ]
        best, k = max(candidates, default=(0.0, -1))
        if best > MATCH_IOU:
            used.add((int(index), k))
            ious.append(best)
            vector = ours[int(index)][k][1]
            cosines.append(float(vector @ descriptor / np.linalg.norm(descriptor)))
    return FaceMatch(
        product=len(rows),
        plain=len(plain["frame_index"]),
        matched=len(ious),
        median_iou=float(np.median(ious)) if ious else 0.0,
        cosines=np.asarray(cosines),
    )


def iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    overlap = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return float(overlap / union) if union > 0 else 0.0


def _read_only(path: str) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
