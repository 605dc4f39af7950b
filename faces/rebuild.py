"""Shots and appearances for a movie whose frames and faces are already stored: the cuts come
from the video (one decode pass, nothing converted at full size), the faces from the table.

The one code path of ``manage.py appearances rebuild``, the admin action and its rq job
(``movies.jobs``). It deletes the movie's shots and appearances first and writes them again
shot by shot, so running it twice, or again after a failure, ends with the same rows; on a
movie ingested with appearances it reproduces what the ingest stored.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import cv2
import numpy as np
from django.core.files.storage import default_storage

from faces.appearances import AppearanceBuilder, delete_from, feed
from faces.models import Appearance, Face
from faces.people import assign_movie
from faces.quality import sharpness
from movies.models import Frame, Movie, Shot
from movies.video import VideoError, find_cuts, probe_video

logger = logging.getLogger(__name__)

# Sampled frames whose faces are read and linked per database round trip.
FRAMES_PER_CHUNK = 500


class RebuildError(Exception):
    """The movie's appearances cannot be rebuilt now; the message is one line for a person."""


@dataclass
class RebuildReport:
    movie_id: int
    title: str
    shots: int
    appearances: int
    faces_scored: int  # faces stored without a sharpness, scored from their stored frame
    seconds: float

    @property
    def message(self) -> str:
        return (
            f"{self.title}: {self.shots} shots, {self.appearances} appearances "
            f"({self.seconds:.1f} s)"
        )


def check_rebuildable(movie: Movie) -> None:
    """Raise RebuildError unless the movie is fully ingested and idle."""
    if movie.ingest_active:
        raise RebuildError(f"“{movie}” is being ingested; rebuild its appearances once it is done")
    if movie.status != Movie.Status.DONE:
        raise RebuildError(
            f"“{movie}” is not fully ingested ({movie.get_status_display().lower()}); "
            "ingest it first: the ingest builds its appearances"
        )


def rebuild_appearances(movie_id: int) -> RebuildReport:
    """Find the movie's cuts again and rebuild its shots and appearances from its faces."""
    started = time.monotonic()
    movie = Movie.objects.get(pk=movie_id)
    check_rebuildable(movie)
    try:
        info = probe_video(movie.path)
        cuts, frame_count = find_cuts(movie.path, info)
    except (VideoError, NotImplementedError) as error:
        reason = str(error) or "the upload is in remote storage"
        raise RebuildError(
            f"“{movie}”: shots are found in the video itself, and its file cannot be read "
            f"({reason}); add the video again to rebuild them"
        ) from error
    scored = score_unscored_faces(movie)
    sample_every = int((movie.ingest_settings or {}).get("sample_every") or movie.sample_every)
    embedder = movie.embedder or _stored_embedder(movie)
    delete_from(movie.pk, 0)
    builder = AppearanceBuilder(movie, embedder=embedder, sample_every=sample_every)
    frames = list(
        Frame.objects.filter(movie=movie).order_by("index").values_list("index", flat=True)
    )
    for chunk in _with_cuts(frames, cuts, FRAMES_PER_CHUNK):
        feed(builder, chunk)
    for cut in (cut for cut in cuts if not frames or cut > frames[-1]):
        builder.cut(cut)
    builder.finish(frame_count)
    assign_movie(movie.pk)
    settings = {**(movie.ingest_settings or {}), "appearances": True}
    Movie.objects.filter(pk=movie.pk).update(ingest_settings=settings)
    report = RebuildReport(
        movie_id=movie.pk,
        title=movie.title,
        shots=Shot.objects.filter(movie=movie).count(),
        appearances=Appearance.objects.filter(movie=movie).count(),
        faces_scored=scored,
        seconds=time.monotonic() - started,
    )
    logger.info("appearances rebuilt: %s", report.message)
    return report


def _with_cuts(frames: list[int], cuts: list[int], size: int):
    """Chunks of (sampled frame index, cuts since the sampled frame before)."""
    pending = iter(sorted(cuts))
    cut = next(pending, None)
    chunk: list[tuple[int, tuple[int, ...]]] = []
    for index in frames:
        before = []
        while cut is not None and cut <= index:
            before.append(cut)
            cut = next(pending, None)
        chunk.append((index, tuple(before)))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _stored_embedder(movie: Movie) -> str:
    embedder = Face.objects.filter(movie=movie).values_list("embedder", flat=True).first()
    return embedder or ""


def score_unscored_faces(movie: Movie) -> int:
    """Give faces stored before sharpness was recorded one, from their stored frame image (a
    JPEG, so close to but not exactly what the ingest would have measured)."""
    unscored = Face.objects.filter(movie=movie, sharpness=None).select_related("frame")
    count = 0
    by_frame: dict[int, list[Face]] = {}
    for face in unscored.only("id", "x1", "y1", "x2", "y2", "frame__image"):
        by_frame.setdefault(face.frame_id, []).append(face)
    for faces in by_frame.values():
        with default_storage.open(faces[0].frame.image.name, "rb") as handle:
            image = cv2.imdecode(np.frombuffer(handle.read(), np.uint8), cv2.IMREAD_COLOR)
        for face in faces:
            value = sharpness(image, face.box) if image is not None else 0.0
            Face.objects.filter(pk=face.pk).update(sharpness=value)
            count += 1
    return count
