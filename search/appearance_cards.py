"""What the results pages, the JSON API and ``search_faces`` show of an appearance found.

A result by appearance is the appearance's item (``faces.listing.appearance_item``) plus
``score`` (its best face's similarity), ``best_hit`` (that face in the one hit shape,
``FaceCard.as_json``) and ``face_ids`` (all its faces, in frame order). A face of a movie
without appearances is a result of its own: ``id`` and ``shot_index`` null, its frame as first
and last frame, ``end_seconds`` null, ``face_ids`` only itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse

from faces.listing import appearance_item, face_ids_of
from faces.models import Appearance, Face, Person
from movies.display import hms
from search.presentation import FaceCard, face_card, load_faces
from search.results import AppearanceHit


@dataclass
class AppearanceCard:
    item: dict  # the appearance's fields, as the appearance API lists them
    best: FaceCard
    face_ids: list[int]
    # Whether the score passes the embedder's same-person threshold (None: not calibrated).
    likely_same_person: bool | None = None
    person: Person | None = None

    @property
    def person_name(self) -> str | None:
        return self.person.display_name if self.person is not None else None

    @property
    def appearance_id(self) -> int | None:
        return self.item["id"]

    @property
    def span_display(self) -> str:
        start, end = self.item["start_seconds"], self.item["end_seconds"]
        if end is None:
            return hms(start, 1)
        return f"{hms(start, 1)} to {hms(end, 1)}"

    @property
    def search_url(self) -> str | None:
        if self.appearance_id is None:
            return None
        return reverse("search:appearance", args=[self.appearance_id])

    def as_json(self, absolute: Callable[[str], str] | None = None) -> dict:
        return {
            **self.item,
            "score": round(self.best.score, 6),
            "best_hit": self.best.as_json(absolute),
            "face_ids": self.face_ids,
            "person_name": self.person.name if self.person is not None else None,
            "likely_same_person": self.likely_same_person,
        }


def lone_face_item(face: Face) -> dict:
    """The item of a face that belongs to no appearance."""
    return {
        "id": None,
        "movie_id": face.movie_id,
        "embedder": face.embedder,
        "shot_index": None,
        "start_seconds": round(face.frame.timestamp, 3),
        "end_seconds": None,
        "first_frame_index": face.frame_index,
        "last_frame_index": face.frame_index,
        "face_count": 1,
        "representative_face_id": face.pk,
        "person_id": None,
    }


def appearance_cards(
    entries: list[AppearanceHit],
    known: dict[int, Face] | None = None,
    threshold: float | None = None,
) -> list[AppearanceCard]:
    """Cards for these results (a page of them) in four queries; faces or appearances deleted
    since the search are left out. ``threshold``: the same-person threshold, or None."""
    faces = load_faces([entry.best.face_id for entry in entries], known)
    ids = [entry.appearance_id for entry in entries if entry.appearance_id is not None]
    appearances = {
        appearance.pk: appearance
        for appearance in Appearance.objects.without_embeddings()
        .select_related("shot")
        .filter(pk__in=ids)
    }
    members = face_ids_of(list(appearances))
    person_ids = {a.person_id for a in appearances.values() if a.person_id is not None}
    people = {person.pk: person for person in Person.objects.filter(pk__in=person_ids)}
    cards = []
    for entry in entries:
        face = faces.get(entry.best.face_id)
        if face is None:
            continue
        best = face_card(face, entry.best.score)
        likely = None if threshold is None else bool(entry.best.score >= threshold)
        if entry.appearance_id is None:
            cards.append(AppearanceCard(lone_face_item(face), best, [face.pk], likely))
        elif entry.appearance_id in appearances:
            appearance = appearances[entry.appearance_id]
            cards.append(
                AppearanceCard(
                    appearance_item(appearance),
                    best,
                    members[appearance.pk],
                    likely,
                    people.get(appearance.person_id),
                )
            )
    return cards
