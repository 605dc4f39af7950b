"""People in the admin: names and counts, naming a person, the re-cluster action and its rq job;
appearances read-only."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from faces.models import Appearance, Person
from faces.people import assign_movie
from tests.ingest_helpers import run_worker
from tests.people_helpers import Cast, person_of
from tests.test_ingest_admin import messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def film():
    cast = Cast()
    movie = cast.movie("Film", [[("nia", 0, 6)], [("oz", 0, 3)], [("nia", 0, 2)]])
    assign_movie(movie.pk)
    return movie


def test_the_people_list_shows_names_and_counts_and_staff_name_a_person(staff_client, film):
    nia = person_of(film, 0)
    page = staff_client.get(reverse("admin:faces_person_changelist")).content.decode()
    assert "(unnamed)" in page and "0:00:01" in page  # nia: 6 + 2 faces of 0.2 s
    response = staff_client.post(
        reverse("admin:faces_person_change", args=[nia]),
        {"name": "Nia Long", "note": "lead", "hidden": ""},
    )
    assert response.status_code == 302
    assert Person.objects.get(pk=nia).name == "Nia Long"
    page = staff_client.get(reverse("admin:faces_person_changelist"), {"q": "nia"})
    assert "Nia Long" in page.content.decode()


def test_appearances_are_read_only_in_the_admin(staff_client, film):
    appearance = Appearance.objects.filter(movie=film).first()
    url = reverse("admin:faces_appearance_change", args=[appearance.pk])
    page = staff_client.get(url)
    assert page.status_code == 200 and 'name="face_count"' not in page.content.decode()
    assert staff_client.post(url, {"face_count": 99}).status_code == 403
    assert staff_client.get(reverse("admin:faces_appearance_add")).status_code == 403


def test_the_recluster_action_queues_a_job_that_rebuilds_unnamed_people(
    staff_client,
    film,
    ingest_queue,
):
    Appearance.objects.update(person=None)
    kept = Person.objects.create(name="Kept")
    Appearance.objects.filter(pk=Appearance.objects.filter(movie=film).last().pk).update(
        person=kept
    )
    response = staff_client.post(
        reverse("admin:faces_person_changelist"),
        {"action": "recluster_people", "_selected_action": [kept.pk]},
        follow=True,
    )
    assert any("Queued a re-cluster" in message for message in messages_of(response))
    assert len(ingest_queue) == 1
    run_worker()
    # nia's two appearances: the named person holds one, and the other joins it.
    assert person_of(film, 0) == person_of(film, 2) == kept.pk
    assert person_of(film, 1) not in (None, kept.pk)


def test_the_command_queues_the_same_job(film, ingest_queue):
    out = io.StringIO()
    call_command("people", "cluster", "--queue", stdout=out)
    assert "queued people-all-" in out.getvalue() and len(ingest_queue) == 1


@pytest.mark.slow
def test_the_people_list_shows_each_persons_face(staff_client, hamilton_movie):
    page = staff_client.get(reverse("admin:faces_person_changelist")).content.decode()
    crops = re.findall(r'<img src="(/media/[^"]+)" alt="Face of Unnamed"', page)
    assert len(crops) == Person.objects.count() > 0
    assert staff_client.get(crops[0]).status_code == 200
