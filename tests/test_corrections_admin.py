"""Corrections in the admin: the read-only history with its undo action (refusals reported
row by row), a person's corrections on their page, and naming there recorded as a correction."""

from __future__ import annotations

import pytest
from django.urls import reverse

from faces import correction_history, corrections
from faces.models import Correction, Person
from faces.people import assign_movie
from tests.people_helpers import Cast, person_of
from tests.test_ingest_admin import messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def nia():
    cast = Cast()
    movie = cast.movie("Film", [[("nia", 0, 6)], [("oz", 0, 3)]])
    assign_movie(movie.pk)
    return Person.objects.get(pk=person_of(movie, 0))


def test_the_history_is_read_only_and_undoes_the_selection(staff_client, staff_user, nia):
    named = corrections.rename(nia, "Nia", by=staff_user)
    hidden = corrections.set_hidden(nia, True, by=staff_user, via="api")
    url = reverse("admin:faces_correction_changelist")
    page = staff_client.get(url).content.decode()
    assert "Nia hidden" in page and f"Person {nia.pk} named" in page and ">api<" in page
    assert staff_client.get(reverse("admin:faces_correction_add")).status_code == 403
    # Both selected: the newest goes first, so both are undone.
    response = staff_client.post(
        url,
        {"action": "undo_corrections", "_selected_action": [named.pk, hidden.pk]},
        follow=True,
    )
    assert "Undid 2 correction(s)." in messages_of(response)
    nia.refresh_from_db()
    assert (nia.name, nia.hidden) == ("", False)
    again = staff_client.post(
        url, {"action": "undo_corrections", "_selected_action": [named.pk]}, follow=True
    )
    assert messages_of(again) == [f"Not undone: {named.summary}: It was undone already."]
    undone = Correction.objects.get(pk=named.pk)
    assert (undone.undone_by, undone.undone_via) == (staff_user, "admin")


def test_naming_in_the_admin_is_a_correction_listed_on_the_person(staff_client, nia):
    change = reverse("admin:faces_person_change", args=[nia.pk])
    response = staff_client.post(change, {"name": "Nia Long", "note": "lead", "hidden": "on"})
    assert response.status_code == 302
    nia.refresh_from_db()
    assert (nia.name, nia.note, nia.hidden, nia.corrected) == ("Nia Long", "lead", True, True)
    rows = list(correction_history.history(nia).values_list("action", "via"))
    assert sorted(rows) == [("hide", "admin"), ("name", "admin")]
    page = staff_client.get(change).content.decode()
    assert "named “Nia Long”" in page and "Nia Long hidden" in page


def test_a_merged_persons_admin_page_leads_to_whom_they_were_merged_into(staff_client, nia):
    oz = Person.objects.exclude(pk=nia.pk).get()
    corrections.merge(nia, oz)
    response = staff_client.get(reverse("admin:faces_person_change", args=[oz.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:faces_person_change", args=[nia.pk])
    assert messages_of(response) == [f"{oz} was merged into {nia}."]
    missing = staff_client.get(reverse("admin:faces_person_change", args=[999_999]), follow=True)
    assert "Perhaps it was deleted?" in messages_of(missing)[0]
