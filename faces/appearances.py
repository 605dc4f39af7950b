"""Shots and appearances of a movie, built shot by shot from its stored faces.

``AppearanceBuilder`` is fed, in frame order, the cuts and the stored faces of each sampled
frame (by the ingest, batch by batch, or by ``faces.rebuild`` for a movie stored earlier). It
links faces with ``faces.tracking`` and, when a shot ends (at a cut or at the end of the video),
writes in this order: the Shot row, its Appearance rows, then each face's link to its
appearance. A shot is written only once it is over, so nothing stored ever changes later.

No transactions are assumed (SingleStoreDB has none). The ingest's checkpoint covers this work
too: a shot ending before the checkpoint's sampled frame was written before the checkpoint
moved. A resumed run (``AppearanceBuilder.resume``) deletes any later shot and its appearances
(a kill while one was written), then re-derives the open shot's tracks from the stored faces
and frames since its first frame: the same input in the same order as the run that stopped,
so the same appearances follow. Natural keys (movie, shot index) and (movie, first frame
index, first face index) make a duplicate impossible.

An ingest's builder writes under its run (``movies.runs.IngestRun``): each write checks first
that the run still holds the movie, and the ids written join the batch's, which a run that
lost its movie removes. ``faces.rebuild`` builds without a run (it refuses a busy movie).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from faces.keys import remember_members
from faces.models import Appearance, Face, pack_vector, unpack_vector
from faces.quality import representative_score
from faces.tracking import Track, TrackedFace, Tracker, linking_rules
from movies.models import Frame, Movie, Shot
from movies.shots import ShotSpan

if TYPE_CHECKING:
    from movies.runs import IngestRun

# What the builder reads of a stored face (never the thumbnail or the probability).
FACE_FIELDS = (
    "id", "frame_index", "face_index", "x1", "y1", "x2", "y2", "landmarks", "sharpness",
    "embedding",
)  # fmt: skip


@dataclass(frozen=True)
class LinkedFace(TrackedFace):
    """A stored face as linking sees it, with its representative score."""

    quality: float = 0.0


def linked_face(row: dict) -> LinkedFace:
    """A ``Face`` row's values (``FACE_FIELDS``) as linking needs them."""
    box = (row["x1"], row["y1"], row["x2"], row["y2"])
    return LinkedFace(
        face_id=row["id"],
        frame_index=row["frame_index"],
        face_index=row["face_index"],
        box=box,
        vector=unpack_vector(row["embedding"]),
        quality=representative_score(box, row["landmarks"] or [], row["sharpness"]),
    )


def stored_faces(movie_id: int, *, first: int, end: int) -> dict[int, list[LinkedFace]]:
    """The movie's stored faces of frames ``first`` <= index < ``end``, by frame index."""
    rows = (
        Face.objects.filter(movie_id=movie_id, frame_index__gte=first, frame_index__lt=end)
        .order_by("frame_index", "face_index")
        .values(*FACE_FIELDS)
    )
    faces: dict[int, list[LinkedFace]] = {}
    for row in rows:
        faces.setdefault(row["frame_index"], []).append(linked_face(row))
    return faces


class AppearanceBuilder:
    """The open shot of one movie: its first frame, its tracks so far, and the shot's number."""

    def __init__(
        self,
        movie: Movie,
        *,
        embedder: str,
        sample_every: int,
        shot_start: int = 0,
        index: int = 0,
        run: IngestRun | None = None,
    ) -> None:
        self.movie = movie
        self.run = run
        self.embedder = embedder
        self.sample_every = sample_every
        self.fps = float(movie.fps or 0.0)
        if self.fps <= 0:
            raise ValueError(f"movie {movie.pk} has no frame rate: probe the video first")
        self.shot_start = shot_start
        self.shot_index = index
        self.tracker = Tracker(linking_rules(embedder))

    @classmethod
    def resume(
        cls,
        movie: Movie,
        *,
        embedder: str,
        sample_every: int,
        checkpoint: int,
        run: IngestRun | None = None,
    ) -> AppearanceBuilder:
        """The builder of a run resuming at ``checkpoint`` (0: a fresh start).

        Shots that end at or after the frame before the checkpoint come from a batch the
        checkpoint does not cover (their cut lies past it): they are deleted with their
        appearances. The open shot then starts after the last shot kept; its tracks are
        rebuilt from the faces stored since.
        """
        last = _last_kept_shot(movie.pk, checkpoint)
        shot_start = delete_unfinished_shots(movie.pk, checkpoint, run=run)
        builder = cls(
            movie,
            embedder=embedder,
            sample_every=sample_every,
            shot_start=shot_start,
            index=last.index + 1 if last is not None else 0,
            run=run,
        )
        if shot_start < checkpoint:
            faces = stored_faces(movie.pk, first=shot_start, end=checkpoint)
            sampled = Frame.objects.filter(
                movie=movie, index__gte=shot_start, index__lt=checkpoint
            ).order_by("index")
            for frame_index in sampled.values_list("index", flat=True):
                builder.add_frame(faces.get(frame_index, []))
        return builder

    def add_frame(self, faces: list[LinkedFace]) -> None:
        """The stored faces of the next sampled frame of the open shot (maybe none)."""
        self.tracker.add_frame(faces)

    def cut(self, at: int) -> None:
        """A new shot starts at frame ``at``: the open shot ends at ``at - 1`` and is written."""
        if at <= self.shot_start:
            return
        self._write(ShotSpan(self.shot_index, self.shot_start, at - 1))
        self.shot_start = at
        self.shot_index += 1

    def finish(self, frame_count: int) -> None:
        """The video ends after ``frame_count`` frames: the last shot is written."""
        if frame_count > self.shot_start:
            self._write(ShotSpan(self.shot_index, self.shot_start, frame_count - 1))
            self.shot_start = frame_count
            self.shot_index += 1

    def _write(self, span: ShotSpan) -> None:
        start, end = span.seconds(self.fps)
        if self.run is not None:
            self.run.check()
        shot = Shot.objects.create(
            movie=self.movie,
            index=span.index,
            first_frame=span.first_frame,
            last_frame=span.last_frame,
            start_seconds=start,
            end_seconds=end,
        )
        if self.run is not None:
            self.run.batch.shots.append(shot.pk)
        tracks = self.tracker.close_all()
        write_appearances(shot, self.embedder, self.sample_every, tracks, run=self.run)


def write_appearances(
    shot: Shot,
    embedder: str,
    sample_every: int,
    tracks: list[Track],
    *,
    run: IngestRun | None = None,
) -> None:
    """Appearance rows for the tracks of ``shot``, then each face's link to its appearance
    (each write only while ``run``, if given, holds the movie)."""
    if not tracks:
        return
    fps = float(shot.movie.fps)
    rows = [appearance_row(shot, embedder, sample_every, fps, track) for track in tracks]
    if run is not None:
        run.check()
    Appearance.objects.bulk_create(rows)
    # Ids are read back by natural key: not every backend returns them from bulk_create.
    ids = dict(
        (((first_frame, first_face), pk))
        for pk, first_frame, first_face in Appearance.objects.filter(
            movie_id=shot.movie_id, shot=shot
        ).values_list("pk", "first_frame_index", "first_face_index")
    )
    if run is not None:
        run.batch.appearances.extend(ids.values())
    for track in tracks:
        first = track.faces[0]
        if run is not None:
            run.check()
        Face.objects.filter(
            movie_id=shot.movie_id, pk__in=[face.face_id for face in track.faces]
        ).update(appearance_id=ids[(first.frame_index, first.face_index)])


def appearance_row(
    shot: Shot, embedder: str, sample_every: int, fps: float, track: Track
) -> Appearance:
    faces = track.faces
    first, last = faces[0], faces[-1]
    best = max(faces, key=lambda face: (getattr(face, "quality", 0.0), -face.frame_index))
    mean = np.mean([face.vector.astype(np.float64) for face in faces], axis=0)
    mean /= np.linalg.norm(mean) or 1.0
    return Appearance(
        movie_id=shot.movie_id,
        embedder=embedder,
        shot=shot,
        first_frame_index=first.frame_index,
        first_face_index=first.face_index,
        last_frame_index=last.frame_index,
        start_seconds=first.frame_index / fps,
        end_seconds=min(shot.end_seconds, (last.frame_index + sample_every) / fps),
        face_count=len(faces),
        representative_face_id=best.face_id,
        embedding=pack_vector(mean),
    )


def _last_kept_shot(movie_id: int, checkpoint: int) -> Shot | None:
    """The last shot a checkpoint at ``checkpoint`` covers: shots that end at or after the
    frame before it come from a batch the checkpoint does not cover (their cut lies past it)."""
    kept = Shot.objects.filter(movie_id=movie_id, last_frame__lt=checkpoint - 1)
    return kept.order_by("-index").first()


def delete_unfinished_shots(movie_id: int, checkpoint: int, *, run: IngestRun | None = None) -> int:
    """Delete the shots (and their appearances) a checkpoint at ``checkpoint`` does not cover;
    returns the first frame of the open shot, where the kept ones end."""
    last = _last_kept_shot(movie_id, checkpoint)
    shot_start = last.last_frame + 1 if last is not None else 0
    if run is not None:
        run.check()
    delete_from(movie_id, shot_start)
    return shot_start


def delete_from(movie_id: int, first_frame: int) -> None:
    """Delete the movie's shots and appearances from frame ``first_frame`` on, unlinking their
    faces (faces first: a kill half way leaves no face pointing at a missing appearance).
    Who each one belonged to is remembered first (``faces.keys``), for their successors."""
    remember_members(
        Appearance.objects.filter(movie_id=movie_id, first_frame_index__gte=first_frame)
    )
    Face.objects.filter(movie_id=movie_id, frame_index__gte=first_frame).exclude(
        appearance=None
    ).update(appearance=None)
    Appearance.objects.filter(movie_id=movie_id, first_frame_index__gte=first_frame).delete()
    Shot.objects.filter(movie_id=movie_id, last_frame__gte=first_frame).delete()


def feed(builder: AppearanceBuilder, frames: Iterable[tuple[int, tuple[int, ...]]]) -> None:
    """Feed the builder stored sampled frames: (frame index, cuts since the sampled frame
    before), reading the faces of each from the database, in order."""
    frames = list(frames)
    if not frames:
        return
    faces = stored_faces(builder.movie.pk, first=frames[0][0], end=frames[-1][0] + 1)
    for frame_index, cuts in frames:
        for cut in cuts:
            builder.cut(cut)
        builder.add_frame(faces.get(frame_index, []))
