"""Rows for the search-engine tests: movies, frames and faces with vectors chosen by the test."""

from __future__ import annotations

import numpy as np

from faces.models import Face, pack_vector
from movies.models import Frame, Movie


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def make_movie(title: str = "Film") -> Movie:
    return Movie.objects.create(
        title=title, file_name=f"{title.lower()}.mp4", fps=25.0, status=Movie.Status.DONE
    )


def add_faces(movie: Movie, vectors, *, embedder: str = "dlib-resnet", first_frame: int = 0):
    """One face per frame, frames numbered from ``first_frame``; returns the faces' ids in order."""
    frames = [
        Frame(
            movie=movie,
            index=first_frame + offset,
            timestamp=(first_frame + offset) / 25.0,
            width=64,
            height=36,
            image=f"movies/{movie.pk}/frames/{first_frame + offset:08d}.jpg",
        )
        for offset in range(len(vectors))
    ]
    Frame.objects.bulk_create(frames)
    frames = Frame.objects.filter(movie=movie, index__gte=first_frame).order_by("index")
    faces = [
        Face(
            movie=movie,
            frame=frame,
            frame_index=frame.index,
            face_index=0,
            x1=1,
            y1=1,
            x2=20,
            y2=20,
            probability=0.999,
            embedder=embedder,
            embedding=pack_vector(vector),
        )
        for frame, vector in zip(frames, vectors, strict=False)
    ]
    Face.objects.bulk_create(faces)
    return list(
        Face.objects.filter(movie=movie, frame_index__gte=first_frame)
        .order_by("frame_index")
        .values_list("id", flat=True)
    )


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
