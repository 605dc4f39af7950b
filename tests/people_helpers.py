"""Movies whose appearances hold chosen identities, built through the factories (no ingest), for
the people tests: each appearance's faces are its identity's vector plus a little noise."""

from __future__ import annotations

import numpy as np

from faces.models import Appearance
from movies.models import Movie, Shot
from tests.factories import make_appearance, make_face, make_frame, make_movie, make_shot, unit

EVERY = 5


class Cast:
    """Identities (unit vectors) by name, and a builder of movies of shots of appearances."""

    def __init__(self, seed: int = 11, dimension: int = 128) -> None:
        self.rng = np.random.default_rng(seed)
        self.dimension = dimension
        self.identities: dict[str, np.ndarray] = {}

    def identity(self, name: str) -> np.ndarray:
        if name not in self.identities:
            self.identities[name] = unit(self.rng.normal(size=self.dimension))
        return self.identities[name]

    def blend(self, a: str, b: str, weight: float) -> np.ndarray:
        """A vector between two identities (``weight`` of ``b``)."""
        return unit((1 - weight) * self.identity(a) + weight * self.identity(b))

    def vector(self, name: str | np.ndarray, noise: float = 0.02) -> np.ndarray:
        base = self.identity(name) if isinstance(name, str) else name
        return unit(base + noise * self.rng.normal(size=self.dimension) / np.sqrt(self.dimension))

    def movie(self, title: str, shots: list[list[tuple[str | np.ndarray, int, int]]]) -> Movie:
        """A movie of ``shots``, each a list of (identity, first frame, faces) appearances, one
        face every ``EVERY`` frames; shots follow each other 1000 frames apart."""
        movie = make_movie(title, sample_every=EVERY, fps=25.0, frame_count=1000 * len(shots))
        frames = {}
        for number, appearances in enumerate(shots):
            shot = make_shot(movie, number, 1000 * number, 1000 * number + 999)
            for face_index, (who, first, count) in enumerate(appearances):
                start = 1000 * number + first
                faces = []
                for index in range(start, start + EVERY * count, EVERY):
                    frame = frames.get(index) or frames.setdefault(index, make_frame(movie, index))
                    faces.append(
                        make_face(
                            frame,
                            self.vector(who),
                            face_index=face_index,
                            box=(10 + 40 * face_index, 10, 40 + 40 * face_index, 50),
                        )
                    )
                make_appearance(shot, faces)
        return movie


def person_of(movie: Movie, shot_index: int, face_index: int = 0) -> int | None:
    """The person of the appearance of ``movie``'s shot whose first face has ``face_index``."""
    shot = Shot.objects.get(movie=movie, index=shot_index)
    appearance = Appearance.objects.get(shot=shot, first_face_index=face_index)
    return appearance.person_id
