"""The one vector-search interface; each database gets an implementation of it."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from search.results import Hit

# Candidates kept past k before exact re-scoring, so that float32 rounding in a scan (numpy or
# SQL) cannot push a true top-k face out.
SCAN_MARGIN = 32


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
    ) -> list[Hit]:
        """The k faces of ``embedder`` with the highest dot product with ``vector``.

        Scores are exact even when an approximate index chose the candidates; ``exact=True``
        asks for a full scan.
        """
        ...

    def vectors(self, face_ids: list[int]) -> dict[int, np.ndarray]:
        """The stored unit vectors of these faces (for duplicate grouping)."""
        ...


def rank_exactly(
    query: np.ndarray,
    face_ids: np.ndarray,
    vectors: np.ndarray,
    k: int,
    min_score: float | None = None,
) -> list[Hit]:
    """The best ``k`` candidates by float64 dot product with ``query``, ties by face id.

    Every backend ranks its candidates here, so scores and order are the same on all of them.
    """
    if not len(face_ids):
        return []
    scores = np.asarray(vectors, dtype=np.float64) @ np.asarray(query, dtype=np.float64)
    order = np.lexsort((face_ids, -scores))[:k]
    hits = [Hit(face_id=int(face_ids[i]), score=float(scores[i])) for i in order]
    if min_score is not None:
        hits = [hit for hit in hits if hit.score >= min_score]
    return hits
