"""A movie's stored frames and faces: one batch written (images, then rows), and deleted again
past a checkpoint, all at once, or after the movie itself was deleted."""

from __future__ import annotations

from django.db import transaction

from faces.models import Face, pack_vector
from faces.pipeline import DetectedFace
from movies.models import Frame, Movie
from movies.storage import (
    delete_frame_images,
    delete_upload,
    face_thumbnail_path,
    write_frame_images,
)
from movies.video import SampledFrame


def store_batch(
    movie: Movie, embedder: str, batch: list[SampledFrame], results: list[list[DetectedFace]]
) -> int:
    """Files, then Frame rows, then Face rows for one batch; returns the number of faces."""
    frames = []
    for sampled, faces in zip(batch, results, strict=True):
        frames.append(_frame_row(movie.pk, sampled, faces))
    Frame.objects.bulk_create(frames)
    # Ids are read back rather than taken from bulk_create: not every backend returns them.
    frame_ids = dict(
        Frame.objects.filter(movie=movie, index__in=[f.index for f in batch]).values_list(
            "index", "pk"
        )
    )
    rows = [
        _face_row(movie, frame_ids[sampled.index], sampled.index, face_index, face, embedder)
        for sampled, faces in zip(batch, results, strict=True)
        for face_index, face in enumerate(faces)
    ]
    Face.objects.bulk_create(rows)
    return len(rows)


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
    frame_index: int,
    face_index: int,
    face: DetectedFace,
    embedder: str,
) -> Face:
    x1, y1, x2, y2 = (float(v) for v in face.detection.box)
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
    )


def discard_after_checkpoint(movie: Movie) -> None:
    """Remove rows and image files at or past the checkpoint (a batch cut short)."""
    checkpoint = movie.next_frame_index
    Face.objects.filter(movie=movie, frame_index__gte=checkpoint).delete()
    Frame.objects.filter(movie=movie, index__gte=checkpoint).delete()
    delete_frame_images(movie.pk, from_index=checkpoint)


def clear_ingest(movie: Movie) -> None:
    """Forget everything ingest stored for the movie: rows, files, checkpoint and counters."""
    forget_deleted_movie(movie.pk)
    values = {
        "next_frame_index": 0,
        "frames_sampled": 0,
        "faces_found": 0,
        "progress": 0.0,
        "ingest_settings": {},
    }
    Movie.objects.filter(pk=movie.pk).update(**values)
    for name, value in values.items():
        setattr(movie, name, value)


def forget_deleted_movie(movie_id: int) -> None:
    """Delete the rows and files an ingest wrote for a movie (the uploaded video stays).

    Also for a movie deleted under a running ingest: SingleStoreDB enforces no foreign keys, so
    such rows could otherwise stay."""
    Face.objects.filter(movie_id=movie_id).delete()
    Frame.objects.filter(movie_id=movie_id).delete()
    delete_movie_files(movie_id)


def delete_movie_files(movie_id: int, *, upload_name: str = "") -> None:
    """Remove the movie's frame, thumbnail and face images (and the uploaded video named)."""
    delete_frame_images(movie_id)
    if upload_name:
        delete_upload(upload_name)


def on_movie_deleted(movie: Movie) -> None:
    """After a movie row is gone (admin, bulk delete, ORM): its files go too, after commit."""
    movie_id, upload_name = movie.pk, movie.upload.name if movie.upload else ""
    transaction.on_commit(lambda: delete_movie_files(movie_id, upload_name=upload_name))
