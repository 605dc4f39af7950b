"""``manage.py bench_people --restore N``: the time to put a rebuilt movie of N appearances
back with their people (``faces.keys.restore_movie``), on the configured (scratch) database.

The movie has N appearances of three faces each, two side by side in every shot, each in a
person; ``remember_members`` runs as a rebuild's deletion would, the appearances and faces are
deleted and written again sampled one frame later with boxes moved a little (a re-ingest with
other settings), and the restore is timed and checked: every new appearance should be back with
its old appearance's person. With ``shift_frames`` every moment of the rebuilt movie is that
many frames later as well (a re-encode that padded the start), which ``restore_movie`` finds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from faces.keys import remember_members, restore_movie
from faces.models import Appearance, Face, Person
from movies.models import Frame, Movie, Shot

BATCH = 2000
FACES = 3
EVERY = 5
SHOT_FRAMES = 100
WIDTH, HEIGHT = 1280, 720
MAX_SHIFT_FRAMES = SHOT_FRAMES - EVERY * FACES - 1


@dataclass
class RestoreBench:
    appearances: int
    remember_seconds: float
    restore_seconds: float
    restored: int
    right: int
    shift_seconds: float = 0.0


def _sampled(shot: Shot, offset: int) -> range:
    """The frames of a shot's appearances that hold a face, ``offset`` frames into it."""
    start = shot.first_frame + offset
    return range(start, start + EVERY * FACES, EVERY)


def _build(movie: Movie, shots: list[Shot], people: list[int], offset: int, jitter: float):
    """Frames, faces and appearances: two per shot, the left one of person 2k, the right 2k+1."""
    frame_rows, face_rows, appearance_rows = [], [], []
    for shot in shots:
        for index in _sampled(shot, offset):
            frame_rows.append(
                Frame(
                    movie=movie,
                    index=index,
                    timestamp=index / 25.0,
                    width=WIDTH,
                    height=HEIGHT,
                    image=f"bench/{index}.jpg",
                )
            )
    Frame.objects.bulk_create(frame_rows, batch_size=BATCH)
    frames = dict(Frame.objects.filter(movie=movie).values_list("index", "pk"))
    for shot in shots:
        for side in (0, 1):
            x = 200 + 600 * side + jitter
            appearance_rows.append(
                Appearance(
                    movie=movie,
                    embedder="dlib-resnet",
                    shot=shot,
                    first_frame_index=shot.first_frame + offset,
                    first_face_index=side,
                    last_frame_index=shot.first_frame + offset + EVERY * (FACES - 1),
                    start_seconds=(shot.first_frame + offset) / 25.0,
                    end_seconds=(shot.first_frame + offset + EVERY * FACES) / 25.0,
                    face_count=FACES,
                    embedding=np.zeros(128, dtype="<f4").tobytes(),
                    person_id=people[2 * shot.index + side] if offset == 0 else None,
                )
            )
            for index in _sampled(shot, offset):
                face_rows.append((shot.index, side, index, x))
    Appearance.objects.bulk_create(appearance_rows, batch_size=BATCH)
    ids = {
        (shot, side): pk
        for shot, side, pk in Appearance.objects.filter(movie=movie).values_list(
            "shot__index", "first_face_index", "pk"
        )
    }
    Face.objects.bulk_create(
        [
            Face(
                movie=movie,
                frame_id=frames[index],
                frame_index=index,
                face_index=side,
                x1=x,
                y1=200,
                x2=x + 160,
                y2=400,
                probability=1.0,
                embedder="dlib-resnet",
                embedding=b"",
                appearance_id=ids[(shot, side)],
            )
            for shot, side, index, x in face_rows
        ],
        batch_size=BATCH,
    )


def run(appearances: int, shift_frames: int = 0) -> RestoreBench:
    if not 0 <= shift_frames <= MAX_SHIFT_FRAMES:
        raise ValueError(f"the shift keeps appearances in their shots: 0 to {MAX_SHIFT_FRAMES}")
    shot_count = max(1, appearances // 2)
    movie = Movie.objects.create(title="restore bench", fps=25.0, status=Movie.Status.DONE)
    shots = Shot.objects.bulk_create(
        [
            Shot(
                movie=movie,
                index=k,
                first_frame=SHOT_FRAMES * k,
                last_frame=SHOT_FRAMES * k + SHOT_FRAMES - 1,
                start_seconds=SHOT_FRAMES * k / 25.0,
                end_seconds=SHOT_FRAMES * (k + 1) / 25.0,
            )
            for k in range(shot_count)
        ],
        batch_size=BATCH,
    )
    people = [p.pk for p in Person.objects.bulk_create([Person() for _ in range(2 * shot_count)])]
    _build(movie, shots, people, offset=0, jitter=0.0)
    started = time.monotonic()
    remember_members(Appearance.objects.filter(movie=movie))
    remembered = time.monotonic() - started
    Face.objects.filter(movie=movie).delete()
    Appearance.objects.filter(movie=movie).delete()
    Frame.objects.filter(movie=movie).delete()
    _build(movie, shots, people, offset=1 + shift_frames, jitter=12.0)
    started = time.monotonic()
    report = restore_movie(movie.pk)
    restored = time.monotonic() - started
    placed = Appearance.objects.filter(movie=movie).values_list(
        "shot__index", "first_face_index", "person_id"
    )
    right = sum(person == people[2 * shot + side] for shot, side, person in placed)
    return RestoreBench(
        2 * shot_count, remembered, restored, report.restored, right, shift_frames / 25.0
    )
