"""Movies with shots and appearances built through the factories, for the timeline, appearance
and player tests: no ingest, so that the pages are tested apart from how appearances are made.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from faces.models import Appearance, Face
from movies.models import Movie, Shot
from movies.storage import face_thumbnail_path
from tests.factories import (
    image_bytes,
    make_appearance,
    make_face,
    make_frame,
    make_movie,
    make_shot,
    unit,
)
from tests.shared_data import shots as hamilton_shots

FPS = 25.0
EVERY = 5


@dataclass
class Film:
    """What ``make_film`` built: the movie and its appearances by name."""

    movie: Movie
    appearances: dict[str, Appearance] = field(default_factory=dict)


def make_film(title: str = "Gala", **movie_fields) -> Film:
    """A 20-second movie at 25 fps, every 5th frame sampled, in three shots (0-4 s, 4-12 s,
    12-20 s), with four appearances:

    * ``anna``: shot 0, frames 0-50 (0:00:00-0:00:02.2), alone;
    * ``ben``: shot 1, frames 100-200, and ``cara``: shot 1, frames 150-250, on screen together
      from frame 150 (two faces per frame there: cara's is face 1);
    * ``dan``: shot 2, frames 300-480.
    """
    fields = {"fps": FPS, "sample_every": EVERY, "duration_seconds": 20.0, "frame_count": 500}
    movie = make_movie(title, width=160, height=90, **{**fields, **movie_fields})
    shots = [
        make_shot(movie, 0, 0, 99),
        make_shot(movie, 1, 100, 299),
        make_shot(movie, 2, 300, 499),
    ]
    people = {
        "anna": (shots[0], range(0, 51, EVERY)),
        "ben": (shots[1], range(100, 201, EVERY)),
        "cara": (shots[1], range(150, 251, EVERY)),
        "dan": (shots[2], range(300, 481, EVERY)),
    }
    frames = {}
    faces: dict[str, list[Face]] = defaultdict(list)
    rng = np.random.default_rng(3)
    for person, (_shot, indexes) in people.items():
        identity = unit(rng.normal(size=128))
        for index in indexes:
            frame = frames.get(index) or frames.setdefault(index, make_frame(movie, index))
            face_index = Face.objects.filter(frame=frame).count()
            x1 = 10 + 70 * face_index
            vector = unit(identity + 0.05 * rng.normal(size=128))
            crop = default_storage.save(
                face_thumbnail_path(movie.pk, index, face_index), ContentFile(image_bytes(16, 16))
            )
            box = (x1, 20, x1 + 40, 70)
            face = make_face(frame, vector, face_index=face_index, box=box, thumbnail=crop)
            faces[person].append(face)
    film = Film(movie=movie)
    for person, (shot, _indexes) in people.items():
        film.appearances[person] = make_appearance(shot, faces[person])
    movie.frames_sampled = len(frames)
    movie.faces_found = sum(len(found) for found in faces.values())
    movie.save()
    return film


def add_hamilton_appearances(movie: Movie) -> list[Appearance]:
    """Shots of the Hamilton clip as ``shots.csv`` has them, and in each shot the faces on the
    left and on the right half of the frame as two appearances (a stand-in for real linking).

    They replace the shots and appearances the real ingest gave ``hamilton_movie``."""
    Appearance.objects.filter(movie=movie).delete()
    Shot.objects.filter(movie=movie).delete()
    appearances = []
    for index, truth in enumerate(hamilton_shots()):
        shot = make_shot(movie, index, truth.first_frame, truth.last_frame)
        in_shot = Face.objects.filter(
            movie=movie, frame_index__gte=truth.first_frame, frame_index__lte=truth.last_frame
        ).order_by("frame_index", "face_index")
        # The largest face of each frame on each side.
        sides: dict[bool, dict[int, Face]] = defaultdict(dict)
        for face in in_shot:
            side = sides[(face.x1 + face.x2) / 2 < movie.width / 2]
            if face.frame_index not in side or _area(face) > _area(side[face.frame_index]):
                side[face.frame_index] = face
        for side in sides.values():
            side_faces = list(side.values())
            largest = max(side_faces, key=_area)
            appearances.append(make_appearance(shot, side_faces, representative=largest))
    return appearances


def _area(face: Face) -> float:
    return (face.x2 - face.x1) * (face.y2 - face.y1)
