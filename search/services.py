"""The search service: nearest faces for a stored face or a vector, grouped into near-duplicates.

The one search code path: the results pages, the JSON API and ``manage.py search_faces`` reach
``search_by_face`` / ``search_by_vector`` through ``search.queries``. Similarity is the dot
product of unit vectors (cosine), computed by the database's backend
(``search.backends.get_backend``), only among faces of the query's embedder: vectors of
different embedders live in different spaces and are never mixed.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings

from faces.models import Face, unpack_vector
from search.backends import get_backend
from search.backends.base import Neighbours
from search.results import Group, Hit, SearchResult

DEFAULT_K = 20


class SearchError(Exception):
    """A search that cannot run; the message is meant for the user."""


class FaceNotFound(SearchError, LookupError):
    def __init__(self, face_id: object) -> None:
        super().__init__(f"There is no face {face_id}.")
        self.face_id = face_id


class InvalidQuery(SearchError, ValueError):
    """Out-of-range k or minimum score, or a vector that does not fit the embedder."""


def duplicate_distance(embedder: str) -> float:
    """Largest Euclidean distance at which two results count as the same face seen again.

    Per embedder (``FACEFINDER_DUPLICATE_DISTANCE``); how the defaults were chosen and measured:
    docs/duplicate-distance.md.
    """
    distances = settings.FACEFINDER_DUPLICATE_DISTANCE
    if embedder not in distances:
        raise InvalidQuery(
            f"No duplicate distance is configured for embedder {embedder!r}; "
            "add it to FACEFINDER_DUPLICATE_DISTANCE."
        )
    return float(distances[embedder])


def group_duplicates(
    hits: list[Hit], vectors: dict[int, np.ndarray], max_distance: float
) -> list[Group]:
    """Group near-duplicates among ranked hits, the way the seed's results page did.

    Walking the hits by falling score, a hit closer than ``max_distance`` (Euclidean) to any hit
    ranked above it joins the group of the first (best-ranked) such hit — that is, the group of
    that hit's leader, even when that hit is itself a duplicate (chains stay in one group). A hit
    near none of the hits above it leads a new group.
    """
    if not hits:
        return []
    matrix = np.stack([np.asarray(vectors[hit.face_id], dtype=np.float64) for hit in hits])
    squared_norms = np.einsum("ij,ij->i", matrix, matrix)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2.0 * (matrix @ matrix.T)
    close = np.sqrt(np.maximum(squared, 0.0)) < max_distance
    groups: list[Group] = []
    group_of: list[int] = []  # hit position -> position of its group in ``groups``
    for position, hit in enumerate(hits):
        above = np.flatnonzero(close[position, :position])
        if len(above):
            group_index = group_of[above[0]]
            groups[group_index].duplicates.append(hit)
        else:
            group_index = len(groups)
            groups.append(Group(leader=hit))
        group_of.append(group_index)
    return groups


def search_by_face(
    face: Face | int,
    *,
    k: int = DEFAULT_K,
    movie_id: int | None = None,
    min_score: float | None = None,
    exact: bool = False,
) -> SearchResult:
    """The faces most like a stored face, the face itself first.

    ``face`` is the stored face with its embedding loaded (a caller that already read the row
    passes it, so it is not read again) or its id. ``k`` counts the query face, as the seed's
    top 20 did. The query face leads even when the filters (another movie, a minimum score)
    would exclude it. When the embedder holds no other face the result holds the query face
    alone (``result.hits == [query]``).
    """
    check_filters(k, min_score)
    if not isinstance(face, Face):
        face = _load_query_face(face)
    vector = unpack_vector(face.embedding)
    query_hit = Hit(face_id=face.pk, score=float(np.dot(vector.astype(np.float64), vector)))
    found = _nearest(vector, face.embedder, k, movie_id, min_score, exact)
    others = [hit for hit in found.hits if hit.face_id != face.pk][: k - 1]
    vectors = {**found.by_face_id(), face.pk: vector}
    return _result(face.embedder, [query_hit, *others], vectors, query_face_id=face.pk)


def search_by_vector(
    vector: np.ndarray,
    embedder: str,
    *,
    k: int = DEFAULT_K,
    movie_id: int | None = None,
    min_score: float | None = None,
    exact: bool = False,
) -> SearchResult:
    """The ``k`` stored faces of ``embedder`` most like ``vector`` (e.g. a face in a photo)."""
    check_filters(k, min_score)
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    found = _nearest(vector, embedder, k, movie_id, min_score, exact)
    return _result(embedder, found.hits, found.by_face_id(), query_face_id=None)


def _load_query_face(face_id: int) -> Face:
    face = Face.objects.only("id", "embedder", "embedding").filter(pk=face_id).first()
    if face is None:
        raise FaceNotFound(face_id)
    return face


def check_filters(k: int, min_score: float | None) -> None:
    """Raise ``InvalidQuery`` for a number of results or a minimum score out of range."""
    max_k = settings.FACEFINDER_SEARCH_MAX_K
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= max_k:
        raise InvalidQuery(f"The number of results must be between 1 and {max_k}.")
    if min_score is not None and not -1.0 <= min_score <= 1.0:
        raise InvalidQuery("The minimum score must be between -1 and 1.")


def _nearest(
    vector: np.ndarray,
    embedder: str,
    k: int,
    movie_id: int | None,
    min_score: float | None,
    exact: bool,
) -> Neighbours:
    try:
        return get_backend().nearest(
            vector, embedder, k, movie_id=movie_id, min_score=min_score, exact=exact
        )
    except ValueError as error:  # the vector does not fit the embedder's stored vectors
        raise InvalidQuery(str(error)) from error


def _result(
    embedder: str, hits: list[Hit], vectors: dict[int, np.ndarray], *, query_face_id: int | None
) -> SearchResult:
    groups = group_duplicates(hits, vectors, duplicate_distance(embedder))
    return SearchResult(embedder=embedder, hits=hits, groups=groups, query_face_id=query_face_id)
