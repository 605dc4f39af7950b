"""The search service: nearest faces for a stored face or a vector, as appearances (the
default) or grouped into near-duplicates.

The one search code path: the results pages, the JSON API and ``manage.py search_faces`` reach
``search_by_face`` / ``search_by_vector`` through ``search.queries``. Similarity is the dot
product of unit vectors (cosine), computed by the database's backend
(``search.backends.get_backend``), only among faces of the query's embedder: vectors of
different embedders live in different spaces and are never mixed.

By appearance (``group="appearance"``), ``k`` counts appearances: the faces found are gathered
by the appearance they belong to, best face first, and more faces are asked for until ``k``
appearances are filled or no face is left. A face of a movie without appearances (ingested
before they existed and not rebuilt) is a result of its own.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings

from faces.models import Face, unpack_vector
from search.backends import get_backend
from search.backends.base import Neighbours
from search.models import Grouping
from search.results import AppearanceHit, Group, Hit, SearchResult

DEFAULT_K = 20
GROUPINGS = tuple(Grouping.values)
DEFAULT_GROUP = Grouping.APPEARANCE.value
# Faces asked for per wanted appearance at first (an appearance holds several), growing by
# FACES_GROWTH until k appearances are filled; never more than MAX_FACES_PER_SEARCH faces.
FACES_PER_APPEARANCE = 8
FACES_GROWTH = 4
MAX_FACES_PER_SEARCH = 20_000


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
    group: str | None = None,
) -> SearchResult:
    """The faces most like a stored face, the face itself first (``group`` None: by
    ``DEFAULT_GROUP``).

    ``face`` is the stored face with its embedding loaded (a caller that already read the row
    passes it, so it is not read again) or its id. ``k`` counts the query face, as the seed's
    top 20 did. The query face leads even when the filters (another movie, a minimum score)
    would exclude it. When the embedder holds no other face the result holds the query face
    alone (``result.hits == [query]``). By appearance, the query face's appearance leads.
    """
    group = group or DEFAULT_GROUP
    check_filters(k, min_score, group)
    if not isinstance(face, Face):
        face = _load_query_face(face)
    vector = unpack_vector(face.embedding)
    query_hit = Hit(face_id=face.pk, score=float(np.dot(vector.astype(np.float64), vector)))
    if group == "appearance":
        return _by_appearance(
            vector, face.embedder, k, movie_id, min_score, exact, query_hit=query_hit
        )
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
    group: str | None = None,
) -> SearchResult:
    """The ``k`` stored faces (or appearances) of ``embedder`` most like ``vector`` (a face in
    a photo, an appearance's mean vector)."""
    group = group or DEFAULT_GROUP
    check_filters(k, min_score, group)
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    if group == "appearance":
        return _by_appearance(vector, embedder, k, movie_id, min_score, exact, query_hit=None)
    found = _nearest(vector, embedder, k, movie_id, min_score, exact)
    return _result(embedder, found.hits, found.by_face_id(), query_face_id=None)


def search_by_vectors(
    vectors: np.ndarray,
    embedder: str,
    *,
    k: int = DEFAULT_K,
    movie_id: int | None = None,
    min_score: float | None = None,
    exact: bool = False,
    group: str | None = None,
) -> SearchResult:
    """The ``k`` appearances (or faces) most like any of ``vectors`` (a person's appearances'
    mean vectors): each face scores its best similarity to one of them."""
    group = group or DEFAULT_GROUP
    check_filters(k, min_score, group)
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    wanted = k * (FACES_PER_APPEARANCE if group == "appearance" else 1)
    best: dict[int, Hit] = {}
    by_face: dict[int, np.ndarray] = {}
    for vector in vectors:
        found = _nearest(vector, embedder, wanted, movie_id, min_score, exact)
        by_face.update(found.by_face_id())
        for hit in found.hits:
            if hit.face_id not in best or hit.score > best[hit.face_id].score:
                best[hit.face_id] = hit
    hits = sorted(best.values(), key=lambda hit: (-hit.score, hit.face_id))
    if group != "appearance":
        return _result(embedder, hits[:k], by_face, query_face_id=None)
    appearances = group_by_appearance(hits)[:k]
    kept = [hit for appearance in appearances for hit in appearance.hits]
    return SearchResult(
        embedder=embedder,
        hits=kept,
        groups=[],
        query_face_id=None,
        group="appearance",
        appearances=appearances,
    )


def _load_query_face(face_id: int) -> Face:
    face = Face.objects.only("id", "embedder", "embedding").filter(pk=face_id).first()
    if face is None:
        raise FaceNotFound(face_id)
    return face


def check_filters(k: int, min_score: float | None, group: str | None = None) -> None:
    """Raise ``InvalidQuery`` for a number of results or a minimum score out of range, or an
    unknown grouping."""
    if group is not None and group not in GROUPINGS:
        raise InvalidQuery(f"Results are grouped by {' or '.join(GROUPINGS)}, not {group!r}.")
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


def _by_appearance(
    vector: np.ndarray,
    embedder: str,
    k: int,
    movie_id: int | None,
    min_score: float | None,
    exact: bool,
    *,
    query_hit: Hit | None,
) -> SearchResult:
    """The ``k`` appearances with the faces most like ``vector`` (``query_hit``'s first)."""
    wanted = k * FACES_PER_APPEARANCE
    while True:
        found = _nearest(vector, embedder, wanted, movie_id, min_score, exact)
        hits = found.hits
        if query_hit is not None:
            hits = [query_hit, *(hit for hit in hits if hit.face_id != query_hit.face_id)]
        appearances = group_by_appearance(hits)
        exhausted = len(found.hits) < wanted or wanted >= MAX_FACES_PER_SEARCH
        if len(appearances) >= k or exhausted:
            break
        wanted = min(wanted * FACES_GROWTH, MAX_FACES_PER_SEARCH)
    appearances = appearances[:k]
    kept = [hit for appearance in appearances for hit in appearance.hits]
    kept.sort(key=lambda hit: (hit is not query_hit, -hit.score, hit.face_id))
    return SearchResult(
        embedder=embedder,
        hits=kept,
        groups=[],
        query_face_id=query_hit.face_id if query_hit else None,
        group="appearance",
        appearances=appearances,
    )


def group_by_appearance(hits: list[Hit]) -> list[AppearanceHit]:
    """Ranked hits gathered by appearance, in the order of each appearance's best (first) hit.
    A face without an appearance is an entry of its own."""
    links = dict(
        Face.objects.filter(pk__in=[hit.face_id for hit in hits]).values_list("pk", "appearance_id")
    )
    entries: dict[tuple[str, int], AppearanceHit] = {}
    for hit in hits:
        appearance_id = links.get(hit.face_id)
        key = ("appearance", appearance_id) if appearance_id else ("face", hit.face_id)
        if key not in entries:
            entries[key] = AppearanceHit(appearance_id=appearance_id, best=hit)
        entries[key].hits.append(hit)
    return list(entries.values())
