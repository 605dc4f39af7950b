"""The one vector-search interface; each database gets an implementation of it."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from search.results import Hit


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
