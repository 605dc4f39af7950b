"""What is being searched, and the one way a search request becomes an answer.

The results pages (``search.views``), the JSON API (``search.api``) and ``manage.py
search_faces`` all go through here:

- a *query* is what the search starts from: a stored face (``FaceQuery``), one face of the
  user's uploaded photo (``PhotoQuery``), one face of a photo file (``ImageFileQuery``, for
  the command), an appearance (``AppearanceQuery``) or a person (``PersonQuery``: all of the
  person's appearances). It is looked up once, with everything its search and its display need.
- ``answer`` takes the filters of a query string through ``SearchFiltersForm`` to ``run``, which
  calls the search service (``search.services``) and returns an ``Answer``: the result, or why
  there is none, and, when nothing but the query face was found, the one explanation that every
  caller shows. With the embedder's calibrated same-person threshold (``faces.calibration``)
  results at or above it are "likely the same person"; a photo search where none is says
  so (``Answer.nobody_matches``) before the nearest faces.

The status of each outcome is decided here: a face or photo that does not exist (or is somebody
else's photo) raises ``QueryNotFound``, an ``Http404``; an ``Answer`` without a result is a
bad request (``Answer.status`` 400).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from django.http import Http404, QueryDict

from faces.calibration import same_person_threshold
from faces.listing import appearance_item
from faces.models import Appearance, Face, Person, unpack_vector
from faces.timeline import span_label
from search import services
from search.appearance_cards import AppearanceCard, appearance_cards
from search.forms import SearchFiltersForm
from search.models import QueryPhoto
from search.presentation import FaceCard, GroupCard, face_card, group_cards
from search.results import AppearanceHit, Group, SearchResult

# Turns a site path into the URL a client should follow (``request.build_absolute_uri``), or
# None to leave paths as they are.
Absolute = Callable[[str], str] | None


class QueryNotFound(Http404):
    """The face or photo asked about does not exist, or the photo is not the user's."""


class Query(Protocol):
    embedder: str
    query_face_id: int | None  # the stored face searched with, None for a photo

    def search(self, filters: dict) -> SearchResult: ...

    def known_faces(self) -> dict[int, Face]:
        """Face rows this query already holds (its own face), so cards do not read them again."""
        ...

    def as_json(self, absolute: Absolute = None) -> dict: ...


class FaceQuery:
    """A stored face; its row (embedding, frame and movie) is read once, by ``face_query``."""

    def __init__(self, face: Face) -> None:
        self.face = face
        self.embedder = face.embedder
        self.query_face_id = face.pk

    def search(self, filters: dict) -> SearchResult:
        return services.search_by_face(self.face, **filters)

    def known_faces(self) -> dict[int, Face]:
        return {self.face.pk: self.face}

    def card(self) -> FaceCard:
        return face_card(self.face, 1.0)

    def as_json(self, absolute: Absolute = None) -> dict:
        return {"type": "face", **self.card().as_json(absolute)}

    def save_initial(self) -> dict:
        """The query's fields of ``SaveSearchForm``."""
        return {"face": self.face.pk}

    def default_name(self) -> str:
        return f"Face {self.face.pk} in {self.face.frame.name}"


class PhotoQuery:
    """Face ``face_index`` (from 0) of a photo the user uploaded."""

    query_face_id = None

    def __init__(self, photo: QueryPhoto, face_index: int) -> None:
        self.photo = photo
        self.face_index = face_index
        self.embedder = photo.embedder

    def search(self, filters: dict) -> SearchResult:
        vector = self.photo.vector(self.face_index)
        return services.search_by_vector(vector, self.embedder, **filters)

    def known_faces(self) -> dict[int, Face]:
        return {}

    def as_json(self, absolute: Absolute = None) -> dict:
        return {
            "type": "photo",
            "photo_id": self.photo.pk,
            "face_index": self.face_index,
            "face_count": self.photo.face_count,
            "box": list(self.photo.box(self.face_index)),
            "image_url": _url(self.photo.get_image_url(), absolute),
        }

    def save_initial(self) -> dict:
        return {"photo": self.photo.pk, "photo_face_index": self.face_index}

    def default_name(self) -> str:
        name = self.photo.original_name or "photo"
        if self.photo.face_count > 1:
            return f"{name}, face {self.face_index + 1}"
        return name


class AppearanceQuery:
    """A stored appearance: searched with its mean vector, steadier than any one of its faces."""

    query_face_id = None

    def __init__(self, appearance: Appearance) -> None:
        self.appearance = appearance
        self.embedder = appearance.embedder

    def search(self, filters: dict) -> SearchResult:
        vector = unpack_vector(self.appearance.embedding)
        return services.search_by_vector(vector, self.embedder, **filters)

    def known_faces(self) -> dict[int, Face]:
        return {}

    def card(self) -> FaceCard | None:
        """The appearance's representative face, as the page shows it."""
        face = self.appearance.representative_face
        return face_card(face, 1.0) if face is not None else None

    def as_json(self, absolute: Absolute = None) -> dict:
        return {"type": "appearance", **appearance_item(self.appearance)}

    def save_initial(self) -> dict:
        return {"appearance": self.appearance.pk}

    def default_name(self) -> str:
        appearance = self.appearance
        span = span_label(appearance.start_seconds, appearance.end_seconds)
        return f"Appearance {span} in {appearance.movie.title}"


# A person's appearances searched with at most this many mean vectors (those of the most faces).
MAX_PERSON_VECTORS = 32


class PersonQuery:
    """All of a person's appearances of one embedder (the one most of them have): each result
    scores its best similarity to one of their mean vectors."""

    query_face_id = None

    def __init__(self, person: Person, embedder: str, vectors: np.ndarray, count: int) -> None:
        self.person = person
        self.embedder = embedder
        self.vectors = vectors
        self.appearance_count = count

    def search(self, filters: dict) -> SearchResult:
        return services.search_by_vectors(self.vectors, self.embedder, **filters)

    def known_faces(self) -> dict[int, Face]:
        return {}

    def save_initial(self) -> dict:
        return {"person": self.person.pk}

    def default_name(self) -> str:
        return str(self.person)

    def as_json(self, absolute: Absolute = None) -> dict:
        return {
            "type": "person",
            "person_id": self.person.pk,
            "name": self.person.name,
            "appearance_count": self.appearance_count,
            "vector_count": len(self.vectors),
        }


def person_query(person_id: int) -> PersonQuery:
    """Person ``person_id``'s query; a person merged into someone is that survivor."""
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise QueryNotFound(f"There is no person {person_id}.")
    person = person.survivor()
    rows = list(
        Appearance.objects.filter(person=person)
        .order_by("-face_count", "pk")
        .values_list("embedder", "embedding")
    )
    if not rows:
        raise QueryNotFound(f"Person {person_id} has no appearances to search with.")
    counts: dict[str, int] = {}
    for embedder, _ in rows:
        counts[embedder] = counts.get(embedder, 0) + 1
    embedder = max(sorted(counts), key=lambda name: counts[name])
    vectors = [unpack_vector(blob) for name, blob in rows if name == embedder]
    return PersonQuery(person, embedder, np.vstack(vectors[:MAX_PERSON_VECTORS]), len(vectors))


@dataclass
class ImageFileQuery:
    """Face ``face_index`` (from 0) of a photo file on this machine; nothing is stored."""

    path: Path
    embedder: str
    boxes: list[list[float]]  # every face found in the photo
    face_index: int
    vector: np.ndarray
    query_face_id = None

    def search(self, filters: dict) -> SearchResult:
        return services.search_by_vector(self.vector, self.embedder, **filters)

    def known_faces(self) -> dict[int, Face]:
        return {}

    def as_json(self, absolute: Absolute = None) -> dict:
        return {
            "type": "image",
            "path": str(self.path),
            "face_index": self.face_index,
            "face_count": len(self.boxes),
            "box": list(self.boxes[self.face_index]),
        }


def face_query(face_id: int) -> FaceQuery:
    face = Face.objects.select_related("frame__movie").filter(pk=face_id).first()
    if face is None:
        raise QueryNotFound(f"There is no face {face_id}.")
    return FaceQuery(face)


def appearance_query(appearance_id: int) -> AppearanceQuery:
    appearance = (
        Appearance.objects.select_related("movie", "shot", "representative_face__frame__movie")
        .filter(pk=appearance_id)
        .first()
    )
    if appearance is None:
        raise QueryNotFound(f"There is no appearance {appearance_id}.")
    return AppearanceQuery(appearance)


def own_photo(user, photo_id: int) -> QueryPhoto:
    """The user's own uploaded photo; everybody else's photos do not exist for them."""
    photo = QueryPhoto.objects.filter(pk=photo_id, owner=user).first()
    if photo is None:
        raise QueryNotFound(f"There is no photo {photo_id}.")
    return photo


def photo_query(user, photo_id: int, face_index: int) -> PhotoQuery:
    photo = own_photo(user, photo_id)
    if not 0 <= face_index < photo.face_count:
        raise QueryNotFound(f"This photo has no face {face_index + 1}.")
    return PhotoQuery(photo, face_index)


@dataclass
class Answer:
    """One search request's outcome, for a page, the API or the command to show."""

    query: Query
    form: SearchFiltersForm | None = None  # None when the filters did not come from a form
    filters: dict | None = None
    result: SearchResult | None = None
    error: str | None = None  # why the search could not run (invalid filters: see ``form``)
    empty_reason: str | None = None  # why nothing but the query face was found
    # The embedder's calibrated same-person threshold (None: not calibrated, no marks).
    same_person_threshold: float | None = None
    # A photo search where no result passes the threshold: said before the nearest faces.
    nobody_matches: str | None = None

    @property
    def status(self) -> int:
        return 200 if self.result is not None else 400

    def field_errors(self) -> dict[str, list[str]] | None:
        """Filter name → its messages, when the filters were invalid."""
        if self.form is None or self.form.is_valid():
            return None
        return {name: [str(m) for m in messages] for name, messages in self.form.errors.items()}

    def cards(
        self, entries: Iterable[Group] | Iterable[AppearanceHit]
    ) -> list[GroupCard] | list[AppearanceCard]:
        """What is shown of these results (one page of them, or all): appearances or
        near-duplicate groups, as the search grouped them."""
        assert self.result is not None
        if self.result.group == "appearance":
            return appearance_cards(
                list(entries),
                known=self.query.known_faces(),
                threshold=self.same_person_threshold,
            )
        return group_cards(list(entries), known=self.query.known_faces())

    def summary_json(self, absolute: Absolute = None) -> dict:
        """The search's own part of a JSON answer; the groups go beside it."""
        assert self.result is not None
        return {
            "query": self.query.as_json(absolute),
            "embedder": self.result.embedder,
            "filters": self.filters,
            "hit_count": len(self.result.hits),
            "empty_reason": self.empty_reason,
            "same_person_threshold": self.same_person_threshold,
            "nobody_matches": self.nobody_matches,
        }


def answer(query: Query, params: QueryDict | dict) -> Answer:
    """Search with the filters of a query string (``k``, ``movie``, ``min_score``,
    ``group``)."""
    form = SearchFiltersForm(params)
    if not form.is_valid():
        return Answer(query, form=form, error="Invalid filters.")
    return run(query, form.filters(), form=form)


def run(query: Query, filters: dict, *, form: SearchFiltersForm | None = None) -> Answer:
    """Search with filters already in the service's terms (``k``, ``movie_id``, ...)."""
    try:
        result = query.search(filters)
    except services.SearchError as error:
        return Answer(query, form=form, filters=filters, error=str(error))
    threshold = same_person_threshold(result.embedder)
    return Answer(
        query,
        form=form,
        filters=filters,
        result=result,
        empty_reason=explain_empty(result, filters),
        same_person_threshold=threshold,
        nobody_matches=explain_nobody(query, result, threshold),
    )


def explain_nobody(query: Query, result: SearchResult, threshold: float | None) -> str | None:
    """For a photo: the message that no face found passes the same-person threshold."""
    if threshold is None or not isinstance(query, PhotoQuery | ImageFileQuery):
        return None
    if any(hit.score >= threshold for hit in result.hits):
        return None
    return (
        "No one in the library looks like this person: no face found passes "
        f"{result.embedder}'s same-person threshold ({threshold:.3f}). The nearest faces follow."
    )


def explain_empty(result: SearchResult, filters: dict) -> str | None:
    """Why no face but the query face was found; None when others were."""
    if any(hit.face_id != result.query_face_id for hit in result.hits):
        return None
    others = Face.objects.filter(embedder=result.embedder)
    if result.query_face_id is not None:
        others = others.exclude(pk=result.query_face_id)
    if not others.exists():
        return (
            f"No other face has been embedded with {result.embedder} yet, so there is "
            "nothing to compare with. Ingest more movies with this embedder."
        )
    if filters.get("movie_id") or filters.get("min_score") is not None:
        return "No face matches these filters. Try all movies or a lower minimum score."
    return "No similar face was found."


def _url(path: str, absolute: Absolute) -> str:
    return absolute(path) if absolute is not None else path
