"""A movie's stored frames and faces: one batch written (images, then rows), and deleted again,
past the checkpoint or all of them (with the movie's shots and appearances)."""

from __future__ import annotations

from faces.models import Appearance, Face, pack_vector
from faces.pipeline import DetectedFace
from faces.quality import sharpness
from movies.models import Frame, Movie, Shot
from movies.storage import (
    delete_frame_images,
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
        _face_row(movie, frame_ids[sampled.index], sampled, face_index, face, embedder)
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


def delete_past_checkpoint(movie: Movie) -> None:
    """Delete the frame and face rows and images at or past the movie's checkpoint: a batch
    that a killed or failed run left half stored."""
    _delete_frames(movie.pk, from_index=movie.next_frame_index)


def delete_ingest_output(movie: Movie) -> None:
    """Delete everything ingest stored for a movie: shots, appearances, frame and face rows,
    images, and its checkpoint, counters and recorded settings (the video itself stays).

    Also for a movie whose row was deleted under a running ingest: SingleStoreDB enforces no
    foreign keys, so its frames and faces would otherwise stay behind.
    """
    Face.objects.filter(movie_id=movie.pk).update(appearance=None)
    Appearance.objects.filter(movie_id=movie.pk).delete()
    Shot.objects.filter(movie_id=movie.pk).delete()
    _delete_frames(movie.pk, from_index=0)
    Movie.objects.filter(pk=movie.pk).reset_ingest()


def _delete_frames(movie_id: int, *, from_index: int) -> None:
    Face.objects.filter(movie_id=movie_id, frame_index__gte=from_index).delete()
    Frame.objects.filter(movie_id=movie_id, index__gte=from_index).delete()
    delete_frame_images(movie_id, from_index=from_index)
