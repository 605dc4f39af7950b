"""Test data built through the ORM: movies, frames, shots, faces, appearances, synthetic
libraries and query photos, and the JPEGs and unit vectors they hold.

Plain functions, called from tests and from the fixtures in ``conftest.py`` (which need database
access). Frames come two ways: with tiny JPEGs stored in default storage, for pages that show
them, or with image names only, for search code that never opens a file.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS
from PIL import Image

from faces.models import Appearance, Face, pack_vector, unpack_vector
from movies.models import Frame, Movie, Shot
from movies.storage import frame_image_path
from search.models import QueryPhoto

# Synthetic faces use dlib's embedder: 128-d and needs no downloaded weights.
EMBEDDER = "dlib-resnet"
DIMENSION = 128
BOX = (40.0, 20.0, 80.0, 70.0)

# --- vectors ----------------------------------------------------------------------------------


def unit(vector: Iterable[float] | np.ndarray) -> np.ndarray:
    """``vector`` scaled to length 1, as float32 (what embedders return)."""
    vector = np.asarray(vector, dtype=np.float64)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def random_unit(rng: np.random.Generator, dimension: int = DIMENSION) -> np.ndarray:
    return unit(rng.normal(size=dimension))


def clustered_vectors(
    people: int, faces_per_person: int, dim: int, *, spread: float = 0.35, seed: int = 0
) -> np.ndarray:
    """Unit vectors in ``people`` clusters: like faces, not uniform noise."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((people, dim))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    noise = rng.standard_normal((people, faces_per_person, dim)) * spread / np.sqrt(dim)
    vectors = (centers[:, None, :] + noise).reshape(-1, dim)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


# --- images -----------------------------------------------------------------------------------


def image_bytes(
    width: int = 8, height: int = 8, colour=(90, 120, 160), image_format: str = "JPEG"
) -> bytes:
    """A plain-coloured image file (JPEG unless told otherwise)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format=image_format)
    return buffer.getvalue()


def faceless_photo(width: int = 400, height: int = 300, image_format: str = "JPEG") -> bytes:
    """A grey left-to-right gradient: a photo in which no detector finds a face."""
    gradient = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
    buffer = io.BytesIO()
    Image.fromarray(np.stack([gradient] * 3, axis=-1)).save(buffer, format=image_format)
    return buffer.getvalue()


# --- rows -------------------------------------------------------------------------------------


def make_movie(title: str = "Film", *, using: str = DEFAULT_DB_ALIAS, **fields) -> Movie:
    """A finished movie at 25 fps named after its title (``Gala`` -> ``gala.mp4``)."""
    defaults = {"file_name": f"{title.lower()}.mp4", "fps": 25.0, "status": Movie.Status.DONE}
    return Movie.objects.using(using).create(title=title, **{**defaults, **fields})


def make_frame(
    movie: Movie,
    index: int,
    *,
    stored: bool = True,
    size: tuple[int, int] = (160, 90),
    fps: float = 25.0,
    using: str = DEFAULT_DB_ALIAS,
) -> Frame:
    """Frame ``index`` of ``movie``, ``size`` pixels.

    ``stored``: a JPEG and a half-size thumbnail are saved in default storage under the names
    ingest gives them; otherwise the frame only names its image.
    """
    width, height = size
    image = frame_image_path(movie.pk, index)
    thumbnail = ""
    if stored:
        colour = (index % 255, 90, 160)
        image = default_storage.save(image, ContentFile(image_bytes(width, height, colour)))
        thumbnail = default_storage.save(
            frame_image_path(movie.pk, index, "thumbnail"),
            ContentFile(image_bytes(width // 2, height // 2, colour)),
        )
    return Frame.objects.using(using).create(
        movie=movie,
        index=index,
        timestamp=index / fps,
        width=width,
        height=height,
        image=image,
        thumbnail=thumbnail,
    )


def face_row(
    frame: Frame,
    vector: np.ndarray,
    *,
    face_index: int = 0,
    embedder: str = EMBEDDER,
    box: Sequence[float] = BOX,
    probability: float = 0.999,
    **fields,
) -> Face:
    """An unsaved face on ``frame`` holding ``vector`` (see ``make_face``, ``add_faces``)."""
    x1, y1, x2, y2 = box
    return Face(
        movie_id=frame.movie_id,
        frame=frame,
        frame_index=frame.index,
        face_index=face_index,
        x1=x1,
        y1=y1,
        x2=x2,
        y2=y2,
        probability=probability,
        embedder=embedder,
        embedding=pack_vector(vector),
        **fields,
    )


def make_face(frame: Frame, vector: np.ndarray, *, using: str = DEFAULT_DB_ALIAS, **fields) -> Face:
    face = face_row(frame, vector, **fields)
    face.save(using=using)
    return face


def add_faces(
    movie: Movie, vectors, *, embedder: str = EMBEDDER, first_frame: int = 0
) -> list[int]:
    """One face per frame, frames numbered from ``first_frame`` and not stored, written in bulk;
    returns the faces' ids in order."""
    Frame.objects.bulk_create(
        Frame(
            movie=movie,
            index=first_frame + offset,
            timestamp=(first_frame + offset) / 25.0,
            width=64,
            height=36,
            image=frame_image_path(movie.pk, first_frame + offset),
        )
        for offset in range(len(vectors))
    )
    frames = Frame.objects.filter(movie=movie, index__gte=first_frame).order_by("index")
    Face.objects.bulk_create(
        face_row(frame, vector, embedder=embedder, box=(1, 1, 20, 20))
        for frame, vector in zip(frames, vectors, strict=False)
    )
    return list(
        Face.objects.filter(movie=movie, frame_index__gte=first_frame)
        .order_by("frame_index")
        .values_list("id", flat=True)
    )


def make_shot(movie: Movie, index: int, first_frame: int, last_frame: int) -> Shot:
    """Shot ``index`` of ``movie``: frames ``first_frame`` to ``last_frame``, both included."""
    fps = movie.fps or 25.0
    return Shot.objects.create(
        movie=movie,
        index=index,
        first_frame=first_frame,
        last_frame=last_frame,
        start_seconds=first_frame / fps,
        end_seconds=(last_frame + 1) / fps,
    )


def make_appearance(
    shot: Shot, faces: Sequence[Face], *, representative: Face | None = None, **fields
) -> Appearance:
    """An appearance of ``faces`` (stored, of one movie, in frame order) in ``shot``, linked to
    them: span, count and mean vector from the faces; ``end_seconds`` one sampling interval past
    the last face, clipped to the shot."""
    faces = sorted(faces, key=lambda face: (face.frame_index, face.face_index))
    movie = shot.movie
    fps = movie.fps or 25.0
    first, last = faces[0], faces[-1]
    mean = unit(np.mean([unpack_vector(face.embedding) for face in faces], axis=0))
    values = {
        "movie": movie,
        "embedder": first.embedder,
        "shot": shot,
        "first_frame_index": first.frame_index,
        "first_face_index": first.face_index,
        "last_frame_index": last.frame_index,
        "start_seconds": first.frame_index / fps,
        "end_seconds": min(shot.end_seconds, (last.frame_index + movie.sample_every) / fps),
        "face_count": len(faces),
        "representative_face": representative or first,
        "embedding": pack_vector(mean),
    }
    appearance = Appearance.objects.create(**{**values, **fields})
    Face.objects.filter(pk__in=[face.pk for face in faces]).update(appearance=appearance)
    return appearance


# --- synthetic libraries ----------------------------------------------------------------------


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
    """A done movie whose stored frames each show one face, with vectors shaped like real faces.

    ``people`` maps a person to (shots, frames per shot). Each shot of a person is a cluster of
    near-identical unit vectors (neighbouring frames, within the duplicate distance of each
    other); shots of one person are similar but far enough apart to form their own groups;
    other people are far away. Frames follow each other in that order, 10 video frames apart.
    ``centers`` may fix a person's identity vector (to share people between movies).
    """
    rng = np.random.default_rng(seed)
    people = people or {"anna": (12, 2), "ben": (4, 1)}
    centers = centers if centers is not None else {}
    size = (160, 90)
    movie = make_movie(
        title,
        file_name=file_name,
        width=size[0],
        height=size[1],
        frame_count=10_000,
        sample_every=10,
        embedder=embedder,
    )
    library = Library(movie=movie)
    frame_number = 0
    for person, (shots, per_shot) in people.items():
        center = centers.setdefault(person, random_unit(rng))
        library.faces[person] = []
        for _shot in range(shots):
            shot = unit(center + 0.5 * random_unit(rng))
            for _ in range(per_shot):
                frame = make_frame(movie, frame_number * 10, size=size)
                frame_number += 1
                vector = unit(shot + 0.04 * random_unit(rng))
                face = make_face(frame, vector, embedder=embedder)
                library.faces[person].append(face.pk)
    movie.frames_sampled = frame_number
    movie.faces_found = frame_number
    movie.save()
    return library


# --- query photos -----------------------------------------------------------------------------


def make_query_photo(owner, face: Face, **fields) -> QueryPhoto:
    """A stored photo of ``owner`` whose one face has ``face``'s vector (no network needed)."""
    size = (64, 64)
    defaults = {
        "original_name": "photo.jpg",
        "width": size[0],
        "height": size[1],
        "embedder": face.embedder,
        "faces": [{"box": [4, 4, 40, 50], "probability": 0.999}],
        "embeddings": bytes(face.embedding),
    }
    photo = QueryPhoto(owner=owner, **{**defaults, **fields})
    photo.image.save("photo.jpg", ContentFile(image_bytes(*size)), save=False)
    photo.save()
    return photo
