"""Small synthetic libraries for the search page tests (the real clip is ``hamilton_movie``).

Vectors are shaped like real faces: each "shot" of a person is a cluster of near-identical unit
vectors (neighbouring frames, within the duplicate distance of each other), shots of one person
are similar but far enough apart to form their own groups, other people are far away.
Frame images are tiny real JPEGs in default storage, so image URLs resolve.

Import the fixtures into a test module with ``from tests.search_pages_fixtures import *``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from faces.models import Face, pack_vector
from movies.models import Frame, Movie
from movies.storage import frame_image_path

EMBEDDER = "dlib-resnet"
DIMENSION = 128


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def _jpeg(width: int, height: int, shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 90, 160)).save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


@dataclass
class Library:
    """What ``make_library`` built: the movie and face ids by person, in frame order."""

    movie: Movie
    faces: dict[str, list[int]] = field(default_factory=dict)

    def first(self, person: str) -> Face:
        return Face.objects.get(pk=self.faces[person][0])


def make_library(
    *,
    title: str = "Synthetic Film",
    file_name: str = "synthetic.mp4",
    people: dict[str, tuple[int, int]] | None = None,
    embedder: str = EMBEDDER,
    seed: int = 7,
    centers: dict[str, np.ndarray] | None = None,
) -> Library:
    """A done movie whose frames each show one face.

    ``people`` maps a person to (shots, frames per shot); frames follow each other in that
    order, 10 video frames apart, at 25 fps. ``centers`` may fix a person's identity vector (to
    share people between movies).
    """
    rng = np.random.default_rng(seed)
    people = people or {"anna": (12, 2), "ben": (4, 1)}
    centers = centers if centers is not None else {}
    width, height = 160, 90
    movie = Movie.objects.create(
        title=title,
        file_name=file_name,
        fps=25.0,
        width=width,
        height=height,
        frame_count=10_000,
        sample_every=10,
        embedder=embedder,
        status=Movie.Status.DONE,
    )
    library = Library(movie=movie)
    frame_number = 0
    for person, (shots, per_shot) in people.items():
        center = centers.setdefault(person, unit(rng.normal(size=DIMENSION)))
        library.faces[person] = []
        for _shot in range(shots):
            shot = unit(center + 0.5 * unit(rng.normal(size=DIMENSION)))
            for _ in range(per_shot):
                index = frame_number * 10
                frame_number += 1
                frame = _make_frame(movie, index, width, height)
                vector = unit(shot + 0.04 * unit(rng.normal(size=DIMENSION)))
                face = Face.objects.create(
                    movie=movie,
                    frame=frame,
                    frame_index=index,
                    face_index=0,
                    x1=40.0,
                    y1=20.0,
                    x2=80.0,
                    y2=70.0,
                    probability=0.999,
                    embedder=embedder,
                    embedding=pack_vector(vector),
                )
                library.faces[person].append(face.pk)
    movie.frames_sampled = frame_number
    movie.faces_found = frame_number
    movie.save()
    return library


def _make_frame(movie: Movie, index: int, width: int, height: int) -> Frame:
    image_name = default_storage.save(
        frame_image_path(movie.pk, index), ContentFile(_jpeg(width, height, index % 255))
    )
    thumbnail_name = default_storage.save(
        frame_image_path(movie.pk, index, "thumbnail"),
        ContentFile(_jpeg(width // 2, height // 2, index % 255)),
    )
    return Frame.objects.create(
        movie=movie,
        index=index,
        timestamp=index / 25.0,
        image=image_name,
        thumbnail=thumbnail_name,
    )


@pytest.fixture
def library(db) -> Library:
    """Anna in 12 shots of 2 near-identical frames each, Ben in 4 single frames."""
    return make_library()


@pytest.fixture
def big_library(db) -> Library:
    """Anna in 30 shots of 2 frames: enough groups to fill a page of 20."""
    return make_library(people={"anna": (30, 2), "ben": (5, 1)}, seed=11)
