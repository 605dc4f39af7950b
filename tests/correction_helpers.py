"""Two people of one movie for the corrections tests (API, command, saved searches): Anna in
shots 0 and 1, Ben in shot 2 (built through ``tests.people_helpers.Cast``, no clustering), and
users allowed and not allowed to correct them."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Permission

from faces.models import Appearance, Person
from movies.models import Movie
from tests.people_helpers import Cast


@dataclass
class Two:
    movie: Movie
    anna: Person
    ben: Person
    anna_appearances: list[int]
    ben_appearances: list[int]


def two_people() -> Two:
    movie = Cast().movie("Two", [[("anna", 0, 3)], [("anna", 0, 3)], [("ben", 0, 3)]])
    appearances = list(Appearance.objects.filter(movie=movie).order_by("shot__index"))
    anna, ben = Person.objects.create(name="Anna"), Person.objects.create()
    Appearance.objects.filter(pk__in=[a.pk for a in appearances[:2]]).update(person=anna)
    Appearance.objects.filter(pk=appearances[2].pk).update(person=ben)
    return Two(movie, anna, ben, [a.pk for a in appearances[:2]], [appearances[2].pk])


def corrector(django_user_model, username: str = "carol"):
    """A user with the permission faces.change_person."""
    user = django_user_model.objects.create_user(username=username, password="x-long-pass-42")
    user.user_permissions.add(Permission.objects.get(codename="change_person"))
    return user
