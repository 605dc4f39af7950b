"""A movie's stored frames and faces: one batch written (images, then rows), and deleted again,
past the checkpoint or all of them, with the shots and appearances built on them.

Every write of a batch goes through the run's ownership check (``movies.runs``) and records
the ids it wrote, so that a run that lost its movie can take its batch back. Deletes go in
bounded chunks: on SQLite each statement holds the write lock while it runs, and a worker's
batch write waits behind it only as long as one chunk takes.
"""

from __future__ import annotations

from django.db import IntegrityError
from django.db.models import QuerySet

from faces.appearances import delete_unfinished_shots
from faces.keys import remember_members
from faces.models import Appearance, Face, pack_vector
from faces.pipeline import DetectedFace
from faces.quality import sharpness
from movies.models import Frame, Movie, Shot
from movies.runs import IngestRun, RunLost
from movies.storage import (
    delete_frame_images,
    face_thumbnail_path,
    write_frame_images,
)
from movies.video import SampledFrame

# Rows per DELETE (or UPDATE) statement of the deletes below.
DELETE_CHUNK = 1000


def store_batch(
    run: IngestRun,
    movie: Movie,
    embedder: str,
    batch: list[SampledFrame],
    results: list[list[DetectedFace]],
) -> int:
    """Files, then Frame rows, then Face rows for one batch, each write only while ``run``
    holds the movie (RunLost otherwise); returns the number of faces."""
    frames = []
    for sampled, faces in zip(batch, results, strict=True):
        frames.append(_frame_row(movie.pk, sampled, faces))
    indexes = [f.index for f in batch]
    run.check()
    _guarded_create(run, Frame, frames)
    # Ids are read back rather than taken from bulk_create: not every backend returns them.
    frame_ids = dict(
        Frame.objects.filter(movie=movie, index__in=indexes).values_list("index", "pk")
    )
    run.batch.frames.extend(frame_ids.values())
    rows = [
        _face_row(movie, frame_ids[sampled.index], sampled, face_index, face, embedder)
        for sampled, faces in zip(batch, results, strict=True)
        for face_index, face in enumerate(faces)
    ]
    run.check()
    _guarded_create(run, Face, rows)
    run.batch.faces.extend(
        Face.objects.filter(movie=movie, frame_index__in=indexes).values_list("pk", flat=True)
    )
    return len(rows)


def _guarded_create(run: IngestRun, model: type, rows: list) -> None:
    """bulk_create; a clash with rows of another run means this run lost the movie."""
    try:
        model.objects.bulk_create(rows)
    except IntegrityError:
        if not run.owned():
            raise RunLost(f"movie {run.movie_id} is no longer held by this ingest run") from None
        raise


def _frame_row(movie_id: int, sampled: SampledFrame, faces: list[DetectedFace]) -> Frame:
    """The Frame row of a sampled frame, once its images are stored."""
    image_name, thumbnail_name = write_frame_images(
        movie_id, sampled.index, sampled.image_bgr, [face.detection.box for face in faces]
    )
    height, width = sampled.image_bgr.shape[:2]
    return Frame(
        movie_id=movie_id,
        index=sampled.index,
        timestamp=sampled.timestamp,
        width=width,
        height=height,
        image=image_name,
        thumbnail=thumbnail_name,
    )


def _face_row(
    movie: Movie,
    frame_id: int,
    sampled: SampledFrame,
    face_index: int,
    face: DetectedFace,
    embedder: str,
) -> Face:
    x1, y1, x2, y2 = (float(v) for v in face.detection.box)
    frame_index = sampled.index
    return Face(
        movie=movie,
        frame_id=frame_id,
        frame_index=frame_index,
        face_index=face_index,
        x1=x1,
        y1=y1,
        x2=x2,
        y2=y2,
        probability=float(face.detection.probability),
        landmarks=[[float(x), float(y)] for x, y in face.detection.landmarks],
        embedder=embedder,
        embedding=pack_vector(face.vector),
        thumbnail=face_thumbnail_path(movie.pk, frame_index, face_index),
        sharpness=sharpness(sampled.image_bgr, (x1, y1, x2, y2)),
    )


def delete_past_checkpoint(movie: Movie, run: IngestRun | None = None) -> None:
    """Delete the frame and face rows and images at or past the movie's checkpoint, and the
    shots (with their appearances) that a batch at or past it wrote: what a killed or failed
    run left half stored."""
    delete_unfinished_shots(movie.pk, movie.next_frame_index, run=run)
    _delete_frames(movie.pk, from_index=movie.next_frame_index, run=run)


def delete_ingest_output(movie: Movie, run: IngestRun | None = None) -> None:
    """Delete everything ingest stored for a movie: shots, appearances, frame and face rows
    (and the saved searches on those faces), images, and its checkpoint, counters and recorded
    settings (the video itself stays).

    With ``run``, only while that run holds the movie; without, for a movie whose row was
    deleted under a running ingest (SingleStoreDB enforces no foreign keys, so its frames and
    faces would otherwise stay behind).
    """
    if run is not None:
        run.check()
    remember_members(Appearance.objects.filter(movie_id=movie.pk))
    linked = Face.objects.filter(movie_id=movie.pk).exclude(appearance=None)
    _in_chunks(linked, run, lambda rows: rows.update(appearance=None))
    _delete_in_chunks(Appearance.objects.filter(movie_id=movie.pk), run)
    _delete_in_chunks(Shot.objects.filter(movie_id=movie.pk), run)
    _delete_frames(movie.pk, from_index=0, run=run)
    if run is not None:
        run.check()
        run.rows.reset_ingest()
    else:
        Movie.objects.filter(pk=movie.pk).reset_ingest()


def _delete_frames(movie_id: int, *, from_index: int, run: IngestRun | None = None) -> None:
    faces = Face.objects.filter(movie_id=movie_id, frame_index__gte=from_index)
    _delete_in_chunks(faces, run)
    _delete_in_chunks(Frame.objects.filter(movie_id=movie_id, index__gte=from_index), run)
    if run is not None:
        run.check()
    delete_frame_images(movie_id, from_index=from_index)


def _delete_in_chunks(rows: QuerySet, run: IngestRun | None) -> None:
    _in_chunks(rows, run, lambda chunk: chunk.delete())


def _in_chunks(rows: QuerySet, run: IngestRun | None, change) -> None:
    """Apply ``change`` to ``rows`` DELETE_CHUNK at a time (each chunk one short statement),
    until none is left; with ``run``, each chunk only while it holds the movie."""
    model = rows.model
    while True:
        ids = list(rows.order_by("pk").values_list("pk", flat=True)[:DELETE_CHUNK])
        if not ids:
            return
        if run is not None:
            run.check()
        change(model.objects.filter(pk__in=ids))
