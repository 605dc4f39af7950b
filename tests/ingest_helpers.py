"""Small test videos for the ingest tests: OpenCV gradients made on the spot, and clips made
with Debian's ffmpeg once per session (the ``clips`` fixture)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.shared_data import HAMILTON_CLIP

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(
    FFMPEG is None, reason="Debian's ffmpeg is not installed (scripts/test installs it)"
)


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-y", "-loglevel", "error", *args], check=True)


def faceless_clip(path: Path, frames: int = 12, size: tuple[int, int] = (160, 120)) -> Path:
    """A small mp4v video of moving colour gradients: no face anywhere."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12.0, (width, height))
    assert writer.isOpened()
    ramp = np.linspace(0, 255, width, dtype=np.float32)
    for i in range(frames):
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[:, :, 0] = ((ramp + 20 * i) % 256).astype(np.uint8)
        frame[:, :, 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
        frame[:, :, 2] = 128
        writer.write(frame)
    writer.release()
    return path


class Clips:
    """Small H.264 videos made with Debian's ffmpeg, each encoded once per test session.

    Every call hands out a fresh copy in the caller's folder: tests move, lock and delete
    their files, and ingest records a movie's path.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def miranda(self, folder: Path, suffix: str = ".mp4") -> Path:
        """20 frames of Lin-Manuel Miranda's close-up (Hamilton frames 90-109), H.264 in
        ``.mp4`` or, remuxed, any container ffmpeg writes by suffix (``.mkv``)."""
        return self._copy(f"miranda{suffix}", folder)

    def truncated(self, folder: Path) -> Path:
        """An H.264 test pattern with its index first (faststart), cut in half: it opens, it
        announces 60 frames, and decoding stops part way."""
        return self._copy("truncated.mp4", folder)

    def audio_only(self, folder: Path) -> Path:
        """One second of a sine tone, AAC in mp4: no video stream."""
        return self._copy("audio_only.mp4", folder)

    def _copy(self, name: str, folder: Path) -> Path:
        return Path(shutil.copy(self._master(name), folder / name))

    def _master(self, name: str) -> Path:
        master = self._folder / name
        if master.exists():
            return master
        if name == "miranda.mp4":
            ffmpeg(
                "-i", str(HAMILTON_CLIP), "-vf", r"select=between(n\,90\,109),setpts=N/30/TB",
                "-frames:v", "20", "-an", "-r", "30", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", str(master),
            )  # fmt: skip
        elif name.startswith("miranda."):
            ffmpeg("-i", str(self._master("miranda.mp4")), "-c", "copy", str(master))
        elif name == "truncated.mp4":
            whole = self._folder / "pattern.mp4"
            ffmpeg(
                "-f", "lavfi", "-i", "testsrc=size=320x240:rate=24:duration=2.5",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-movflags", "+faststart", str(whole),
            )  # fmt: skip
            data = whole.read_bytes()
            master.write_bytes(data[: len(data) // 2])
        elif name == "audio_only.mp4":
            ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(master))
        else:
            raise ValueError(f"no recipe for a test clip named {name!r}")
        return master


def media_files(media_root: Path | str, movie_id: int) -> set[str]:
    """Image files ingest left for a movie, relative to its media folder."""
    base = Path(media_root) / "movies" / str(movie_id)
    return {str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()}


def run_worker() -> None:
    """What ``manage.py rqworker ingest --burst`` does, in this process (sees the test data)."""
    import django_rq

    django_rq.get_worker("ingest", worker_class="rq.worker.SimpleWorker").work(burst=True)


def stored_shots(movie) -> list[tuple]:
    """A movie's shots by natural key: (index, first frame, last frame)."""
    from movies.models import Shot

    rows = Shot.objects.filter(movie=movie).order_by("index")
    return list(rows.values_list("index", "first_frame", "last_frame"))


def stored_appearances(movie) -> list[tuple]:
    """A movie's appearances by natural key, with their vectors and member faces, sorted: what
    two ingests of the same clip must agree on."""
    from faces.models import Appearance, Face

    found = []
    for appearance in Appearance.objects.filter(movie=movie).select_related("shot"):
        members = Face.objects.filter(appearance=appearance).order_by("frame_index", "face_index")
        found.append(
            (
                appearance.shot.index,
                appearance.first_frame_index,
                appearance.first_face_index,
                appearance.last_frame_index,
                appearance.face_count,
                bytes(appearance.embedding),
                tuple(members.values_list("frame_index", "face_index")),
            )
        )
    return sorted(found)
