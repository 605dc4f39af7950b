"""Where a search's matches fall on each movie's timeline, for the results page.

Every result of the search (all pages, not only the one shown) becomes one mark on the strip of
its movie, drawn by the movie page's own component (``faces.timeline.placed_timeline`` and
``faces/_timeline.html``). A mark links to its result: ``#result-<rank>`` on the page shown, or
the page that holds it. By appearance (the default) a mark spans the appearance; a face of a
movie without appearances, and with ``group=duplicate`` a group's leading face, is the moment
of its frame: one sampling interval from the frame's time, as an appearance's last frame counts.
The near-duplicates of a group are not marked apart: they are the same moment as their leader,
or shown beside it on the page. The result that holds the query face (or, searching with an
appearance, that appearance, or by near-duplicate a group led by one of its faces) is marked as
the query.

Three queries whatever the number of results: the appearances, the faces, the movies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from faces.models import Appearance, Face
from faces.timeline import (
    MIN_GAP_PERCENT,
    AppearanceMark,
    Timeline,
    placed_timeline,
    span_label,
)
from movies.display import hms
from movies.models import Movie
from search.results import AppearanceHit, Group, SearchResult


@dataclass
class MovieTimeline:
    """One movie's strip on the results page."""

    movie_id: int
    title: str
    url: str
    timeline: Timeline


@dataclass
class _Match:
    rank: int  # from 1, over every page of the results
    score: float
    marked: bool
    appearance_id: int | None
    face_id: int  # the face that places a mark without an appearance


def result_timelines(
    result: SearchResult,
    *,
    per_page: int,
    page_number: int,
    page_url: Callable[[int], str],
    query_appearance_id: int | None = None,
) -> list[MovieTimeline]:
    """The strips of every movie with a result, the movie of the best result first.

    ``page_url(n)`` is the results page ``n`` with the same filters (a mark on another page
    links there); ``query_appearance_id`` the appearance searched with, if any.
    """
    matches = _matches(result, query_appearance_id)
    if not matches:
        return []
    appearance_ids = [m.appearance_id for m in matches if m.appearance_id is not None]
    spans = {
        pk: (movie_id, start, end)
        for pk, movie_id, start, end in Appearance.objects.filter(
            pk__in=appearance_ids
        ).values_list("pk", "movie_id", "start_seconds", "end_seconds")
    }
    face_ids = [m.face_id for m in matches if m.appearance_id is None]
    moments = {
        pk: (movie_id, timestamp, appearance_id)
        for pk, movie_id, timestamp, appearance_id in Face.objects.filter(
            pk__in=face_ids
        ).values_list("pk", "movie_id", "frame__timestamp", "appearance_id")
    }
    movie_ids = {movie_id for movie_id, *_ in spans.values()}
    movie_ids |= {movie_id for movie_id, *_ in moments.values()}
    movies = Movie.objects.only(
        "pk", "title", "duration_seconds", "frame_count", "fps", "sample_every"
    ).in_bulk(movie_ids)

    placed: dict[int, list[tuple[float, float, AppearanceMark]]] = {}
    for match in matches:  # in rank order, so movies come in the order of their best result
        if match.appearance_id is not None:
            if match.appearance_id not in spans:
                continue  # deleted since the search, as the cards leave it out
            movie_id, start, end = spans[match.appearance_id]
        else:
            if match.face_id not in moments:
                continue
            movie_id, start, appearance_id = moments[match.face_id]
            end = start + _sampling_interval(movies.get(movie_id))
            if query_appearance_id is not None and appearance_id == query_appearance_id:
                match.marked = True  # by near-duplicate: a face of the query appearance leads
        if movie_id not in movies:
            continue
        page = (match.rank - 1) // per_page + 1
        anchor = f"#result-{match.rank}"
        mark = AppearanceMark(
            left=0.0,
            width=0.0,
            label=_label(match, start, end),
            appearance_id=match.appearance_id,
            url=anchor if page == page_number else f"{page_url(page)}{anchor}",
            marked=match.marked,
        )
        placed.setdefault(movie_id, []).append((start, end, mark))

    strips = []
    for movie_id, marks in placed.items():
        movie = movies[movie_id]
        timeline = placed_timeline(movie, marks, noun="match", min_gap=MIN_GAP_PERCENT)
        if timeline is not None:
            strips.append(MovieTimeline(movie_id, movie.title, movie.get_absolute_url(), timeline))
    return strips


def _matches(result: SearchResult, query_appearance_id: int | None) -> list[_Match]:
    query_face = result.query_face_id
    matches = []
    for rank, entry in enumerate(result.entries, start=1):
        if isinstance(entry, AppearanceHit):
            holds_query = any(hit.face_id == query_face for hit in entry.hits)
            is_query = (
                entry.appearance_id is not None and entry.appearance_id == query_appearance_id
            )
            matches.append(
                _Match(
                    rank=rank,
                    score=entry.best.score,
                    marked=holds_query or is_query,
                    appearance_id=entry.appearance_id,
                    face_id=entry.best.face_id,
                )
            )
        else:
            assert isinstance(entry, Group)
            members = [entry.leader, *entry.duplicates]
            matches.append(
                _Match(
                    rank=rank,
                    score=entry.leader.score,
                    marked=query_face is not None and any(h.face_id == query_face for h in members),
                    appearance_id=None,
                    face_id=entry.leader.face_id,
                )
            )
    return matches


def _sampling_interval(movie: Movie | None) -> float:
    """Seconds between two sampled frames (0 when the movie's rate is unknown)."""
    if movie is None or not movie.fps:
        return 0.0
    return (movie.sample_every or 1) / movie.fps


def _label(match: _Match, start: float, end: float) -> str:
    when = span_label(start, end) if match.appearance_id is not None else hms(start, 1)
    query = " (the query)" if match.marked else ""
    return f"Result {match.rank}: {when}, score {match.score:.3f}{query}"
