"""The one vector-search interface; each database gets an implementation of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from search.results import Hit

# Candidates kept past k before exact re-scoring, so that float32 rounding in a scan (numpy or
# SQL) cannot push a true top-k face out.
SCAN_MARGIN = 32


@dataclass(frozen=True)
class Neighbours:
    """The nearest faces, best first, with the stored unit vector of each.

    Row ``i`` of ``vectors`` belongs to ``hits[i]``. The vectors come with the hits because
    the search groups near-duplicates by them: the backend already holds them (in memory, or
    in the rows SQL returned), so nobody has to fetch them a second time.
    """

    hits: list[Hit]
    vectors: np.ndarray  # float32, shape (len(hits), dimensions)

    @classmethod
    def none(cls) -> Neighbours:
        return cls(hits=[], vectors=np.empty((0, 0), dtype=np.float32))

    def by_face_id(self) -> dict[int, np.ndarray]:
        """Face id → its vector."""
        return {hit.face_id: row for hit, row in zip(self.hits, self.vectors, strict=True)}


class VectorBackend(Protocol):
    def nearest(
        self,
        vector: np.ndarray,
        embedder: str,
        k: int,
        *,
        movie_id: int | None = None,
        min_score: float | None = None,
        exact: bool = False,
    ) -> Neighbours:
        """The k faces of ``embedder`` with the highest dot product with ``vector``.

        Scores are exact even when an approximate index chose the candidates; ``exact=True``
        asks for a full scan.
        """
        ...


def rank_exactly(
    query: np.ndarray,
    face_ids: np.ndarray,
    vectors: np.ndarray,
    k: int,
    min_score: float | None = None,
) -> Neighbours:
    """The best ``k`` candidates by float64 dot product with ``query``, ties by face id.

    Every backend ranks its candidates here, so scores and order are the same on all of them.
    """
    if not len(face_ids):
        return Neighbours.none()
    scores = np.asarray(vectors, dtype=np.float64) @ np.asarray(query, dtype=np.float64)
    order = np.lexsort((face_ids, -scores))[:k]
    if min_score is not None:
        order = order[scores[order] >= min_score]
    hits = [Hit(face_id=int(face_ids[i]), score=float(scores[i])) for i in order]
    return Neighbours(hits=hits, vectors=np.asarray(vectors, dtype=np.float32)[order])
