"""What is shown of a person: the one item shape of ``/api/people/``, ``manage.py people list``
and ``people show``, and the filters every list of people takes (README, "People").

A person's item: ``id, name, hidden, embedders, appearance_count, movie_count,
screen_seconds, representative_face_id``; the detail adds ``movies``, each with its
appearances as ``/api/movies/<id>/appearances/`` lists them. Screen time is the sum of the
person's appearances' spans (two of one person never overlap: clustering keeps them apart).
The representative face is that of the person's appearance with the most faces.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.db.models import Count, F, Q, QuerySet, Sum

from faces.listing import appearance_item
from faces.models import Appearance, Face, Person

# What a picture of a face needs: its box and crop, and its frame's image and size.
PICTURE_FIELDS = ("id", "frame_id", "movie_id", "x1", "y1", "x2", "y2", "thumbnail")
PICTURE_FIELDS += ("frame__index", "frame__timestamp", "frame__width", "frame__height")
PICTURE_FIELDS += ("frame__image", "frame__thumbnail", "frame__movie_id")


def faces_with_frames(face_ids: list[int | None]) -> dict[int, Face]:
    """Faces by id with what a picture of them needs, in one query."""
    rows = (
        Face.objects.filter(pk__in=[pk for pk in face_ids if pk is not None])
        .select_related("frame")
        .only(*PICTURE_FIELDS)
    )
    return {face.pk: face for face in rows}


class PeopleFilters(forms.Form):
    """``q`` (part of a name), ``named`` (true / false / empty: both), ``hidden`` (false, the
    default: hidden people left out; true: only them; any: both)."""

    q = forms.CharField(required=False, max_length=200, label="Name")
    named = forms.ChoiceField(
        required=False,
        choices=[("", "Named and unnamed"), ("true", "Named"), ("false", "Unnamed")],
        label="Show",
    )
    hidden = forms.ChoiceField(
        required=False,
        choices=[("false", "Not hidden"), ("true", "Hidden only"), ("any", "Hidden too")],
        label="Hidden",
    )

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            "q": data.get("q", "").strip(),
            "named": {"true": True, "false": False}.get(data.get("named") or ""),
            "hidden": {"true": True, "any": None}.get(data.get("hidden") or "false", False),
        }


def counted(rows: QuerySet) -> QuerySet:
    """``rows`` of people with appearance_count, movie_count and screen_seconds."""
    return rows.annotate(
        appearance_count=Count("appearances", distinct=True),
        movie_count=Count("appearances__movie", distinct=True),
        screen_seconds=Sum(F("appearances__end_seconds") - F("appearances__start_seconds")),
    )


def people(q: str = "", named: bool | None = None, hidden: bool | None = False) -> QuerySet:
    """People with their counts, most screen time first. An unnamed person left without
    appearances (its movie deleted since the last clustering, which prunes them) is no one,
    and a person merged into someone else is that someone (``Person.merged_into``)."""
    rows = counted(Person.objects.current()).exclude(name="", appearance_count=0)
    if q:
        rows = rows.filter(name__icontains=q)
    if named is True:
        rows = rows.exclude(name="")
    elif named is False:
        rows = rows.filter(name="")
    if hidden is not None:
        rows = rows.filter(hidden=hidden)
    return rows.order_by(F("screen_seconds").desc(nulls_last=True), "pk")


def with_counts(person_id: int) -> Person | None:
    return people(hidden=None).filter(pk=person_id).first()


@dataclass
class Extras:
    """What a page of people needs beyond their rows: embedders and representative faces."""

    embedders: dict[int, list[str]]
    representative: dict[int, int | None]


def extras(person_ids: list[int]) -> Extras:
    rows = (
        Appearance.objects.filter(person_id__in=person_ids)
        .order_by("person_id", "-face_count", "start_seconds", "pk")
        .values_list("person_id", "embedder", "representative_face_id")
    )
    embedders: dict[int, set[str]] = {pk: set() for pk in person_ids}
    representative: dict[int, int | None] = {}
    for person_id, embedder, face_id in rows:
        embedders[person_id].add(embedder)
        if person_id not in representative and face_id is not None:
            representative[person_id] = face_id
    return Extras(
        embedders={pk: sorted(names) for pk, names in embedders.items()},
        representative={pk: representative.get(pk) for pk in person_ids},
    )


def person_items(page: list[Person]) -> list[dict]:
    """Items of people annotated by ``people()`` (one page), in two more queries."""
    more = extras([person.pk for person in page])
    return [person_item(person, more) for person in page]


def person_item(person: Person, more: Extras) -> dict:
    return {
        "id": person.pk,
        "name": person.name,
        "hidden": person.hidden,
        "embedders": more.embedders[person.pk],
        "appearance_count": person.appearance_count,
        "movie_count": person.movie_count,
        "screen_seconds": round(person.screen_seconds or 0.0, 3),
        "representative_face_id": more.representative[person.pk],
    }


def appearances_by_movie(person: Person) -> list[tuple[int, str, list[Appearance]]]:
    """(movie id, title, the person's appearances there in time order), movies by title."""
    rows = (
        Appearance.objects.without_embeddings()
        .filter(person=person)
        .select_related("shot", "movie")
        .order_by("movie__title", "movie_id", "start_seconds", "first_frame_index")
    )
    movies: dict[int, tuple[int, str, list[Appearance]]] = {}
    for appearance in rows:
        entry = movies.setdefault(
            appearance.movie_id, (appearance.movie_id, appearance.movie.title, [])
        )
        entry[2].append(appearance)
    return list(movies.values())


def person_detail(person: Person) -> dict:
    """The item plus ``movies``: [{movie_id, title, appearances: [appearance items]}]."""
    item = person_item(person, extras([person.pk]))
    item["movies"] = [
        {
            "movie_id": movie_id,
            "title": title,
            "appearances": [appearance_item(appearance) for appearance in appearances],
        }
        for movie_id, title, appearances in appearances_by_movie(person)
    ]
    return item


def cast(movie_id: int, limit: int = 24) -> list[dict]:
    """A movie's people (not hidden) by their screen time in it: person, seconds, and the face
    of their appearance there with the most faces."""
    rows = (
        Person.objects.filter(appearances__movie_id=movie_id, hidden=False)
        .annotate(
            seconds=Sum(
                F("appearances__end_seconds") - F("appearances__start_seconds"),
                filter=Q(appearances__movie_id=movie_id),
            )
        )
        .order_by("-seconds", "pk")[:limit]
    )
    people_ = list(rows)
    faces = dict(
        Appearance.objects.filter(movie_id=movie_id, person_id__in=[p.pk for p in people_])
        .order_by("person_id", "face_count")
        .values_list("person_id", "representative_face_id")
    )
    pictures = faces_with_frames(list(faces.values()))
    return [
        {"person": p, "seconds": p.seconds or 0.0, "face": pictures.get(faces.get(p.pk) or 0)}
        for p in people_
    ]
