"""The correction forms of the person and appearance pages: each works for someone with
``faces.change_person`` and changes what the page shows; a reader sees no form, gets 403 and
changes nothing; a refusal is shown as the page's message; the history lists and undoes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from faces import correction_history, corrections
from faces.models import Appearance, Correction, Person
from faces.people import assign_movie
from tests.people_helpers import Cast, person_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(django_user_model, password):
    user = django_user_model.objects.create_user(username="carol", password=password)
    user.user_permissions.add(Permission.objects.get(codename="change_person"))
    return user


@pytest.fixture
def editor_client(editor):
    """A client of its own: ``user_client`` and ``client`` are one and the same."""
    client = Client()
    client.force_login(editor)
    return client


@pytest.fixture
def cast():
    """Alpha: Mia in shots 0 and 3, a lead in shot 1, an extra in shot 2; Mia named."""
    cast = Cast()
    movie = cast.movie(
        "Alpha",
        [[("mia", 0, 10)], [("lead", 0, 20)], [("extra", 0, 4)], [("mia", 0, 8)]],
    )
    assign_movie(movie.pk)
    mia = Person.objects.get(pk=person_of(movie, 0))
    corrections.rename(mia, "Mia Wallace")
    return {
        "movie": movie,
        "mia": Person.objects.get(pk=mia.pk),
        "lead": Person.objects.get(pk=person_of(movie, 1)),
        "extra": Person.objects.get(pk=person_of(movie, 2)),
    }


def page(client, person: Person) -> str:
    response = client.get(reverse("faces:person", args=[person.pk]), follow=True)
    assert response.status_code == 200
    return response.content.decode()


def shown_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_an_editor_sees_the_forms_a_reader_does_not(editor_client, user_client, cast):
    mine = page(editor_client, cast["mia"])
    assert 'id="rename-form"' in mine and 'id="merge-form"' in mine
    assert 'id="split-form"' in mine and "Not this person" in mine
    theirs = page(user_client, cast["mia"])
    assert 'id="rename-form"' not in theirs and 'id="hide-form"' not in theirs
    assert 'id="merge-form"' not in theirs and "Not this person" not in theirs
    assert "History" in theirs  # everyone reads it


def test_rename_names_and_unnames(editor_client, cast):
    lead = cast["lead"]
    response = editor_client.post(
        reverse("faces:rename", args=[lead.pk]), {"name": " Vincent Vega "}, follow=True
    )
    assert response.redirect_chain[-1][0] == lead.get_absolute_url()
    assert any("named “Vincent Vega”" in m for m in shown_messages(response))
    assert "<h1>Vincent Vega" in response.content.decode()
    lead.refresh_from_db()
    assert lead.name == "Vincent Vega" and lead.corrected
    editor_client.post(reverse("faces:rename", args=[lead.pk]), {"name": ""})
    assert Person.objects.get(pk=lead.pk).name == ""


def test_hide_and_show_again(editor_client, cast):
    extra = cast["extra"]
    editor_client.post(reverse("faces:hide", args=[extra.pk]), {"hidden": "on"})
    assert Person.objects.get(pk=extra.pk).hidden
    assert '<span class="badge">hidden</span>' in page(editor_client, extra)
    editor_client.post(reverse("faces:hide", args=[extra.pk]), {})
    assert not Person.objects.get(pk=extra.pk).hidden


def test_merge_moves_the_appearances_and_the_old_page_redirects(editor_client, cast):
    mia, extra = cast["mia"], cast["extra"]
    response = editor_client.post(
        reverse("faces:merge", args=[mia.pk]), {"other": extra.pk}, follow=True
    )
    assert any("merged into" in m for m in shown_messages(response))
    assert "3 appearances" in response.content.decode()
    assert Appearance.objects.filter(person=mia).count() == 3
    old = editor_client.get(reverse("faces:person", args=[extra.pk]), follow=True)
    assert old.redirect_chain == [(mia.get_absolute_url(), 302)]
    assert any("was merged into Mia Wallace" in m for m in shown_messages(old))


def test_merging_two_named_people_asks_for_the_name(editor_client, cast):
    mia, lead = cast["mia"], cast["lead"]
    corrections.rename(lead, "Vincent")
    response = editor_client.post(
        reverse("faces:merge", args=[mia.pk]), {"other": lead.pk}, follow=True
    )
    assert any("choose the name to keep" in m for m in shown_messages(response))
    assert Person.objects.get(pk=lead.pk).merged_into_id is None
    editor_client.post(reverse("faces:merge", args=[mia.pk]), {"other": lead.pk, "name": "Mia"})
    assert Person.objects.get(pk=mia.pk).name == "Mia"
    assert Person.objects.get(pk=lead.pk).merged_into_id == mia.pk


def test_merge_with_an_unknown_person_is_refused(editor_client, cast):
    response = editor_client.post(
        reverse("faces:merge", args=[cast["mia"].pk]), {"other": 99999}, follow=True
    )
    assert shown_messages(response) == ["There is no person 99999."]


def test_split_to_a_new_person_and_to_someone(editor_client, cast):
    mia, lead = cast["mia"], cast["lead"]
    last = Appearance.objects.filter(person=mia).order_by("start_seconds").last()
    response = editor_client.post(
        reverse("faces:split", args=[mia.pk]), {"appearances": [last.pk]}, follow=True
    )
    assert any("moved to a new person" in m for m in shown_messages(response))
    new = Appearance.objects.get(pk=last.pk).person
    assert new not in (mia, None) and new.corrected
    assert f'data-appearance-id="{last.pk}"' not in response.content.decode()
    assert f'data-appearance-id="{last.pk}"' in page(editor_client, new)
    editor_client.post(
        reverse("faces:split", args=[new.pk]), {"appearances": [last.pk], "to": lead.pk}
    )
    assert Appearance.objects.get(pk=last.pk).person_id == lead.pk


def test_split_of_nothing_or_of_strangers_is_refused(editor_client, cast):
    mia, lead = cast["mia"], cast["lead"]
    response = editor_client.post(reverse("faces:split", args=[mia.pk]), {}, follow=True)
    assert shown_messages(response) == ["Choose the appearances to move."]
    theirs = Appearance.objects.filter(person=lead).first()
    response = editor_client.post(
        reverse("faces:split", args=[mia.pk]), {"appearances": [theirs.pk]}, follow=True
    )
    assert "not filled in right" in shown_messages(response)[0]
    assert Appearance.objects.get(pk=theirs.pk).person_id == lead.pk


def test_not_this_person_from_the_person_page(editor_client, cast):
    mia = cast["mia"]
    first = Appearance.objects.filter(person=mia).order_by("start_seconds").first()
    response = editor_client.post(reverse("faces:not_this_person", args=[first.pk]), follow=True)
    assert response.redirect_chain[-1][0] == mia.get_absolute_url()
    assert any(f"Appearance {first.pk} is not Mia Wallace" in m for m in shown_messages(response))
    assert f'data-appearance-id="{first.pk}"' not in response.content.decode()
    assert Appearance.objects.get(pk=first.pk).person_id is None
    assert mia.rejections.filter(appearance=first).exists()


def test_the_appearance_page_rejects_and_moves(editor_client, user_client, cast):
    mia, lead = cast["mia"], cast["lead"]
    one, two = Appearance.objects.filter(person=mia).order_by("start_seconds")
    url = reverse("faces:appearance", args=[one.pk])
    shown = editor_client.get(url).content.decode()
    assert "Move to person" in shown and "Not this person" in shown
    assert "Move to person" not in user_client.get(url).content.decode()
    response = editor_client.post(
        reverse("faces:move_appearance", args=[one.pk]), {"to": lead.pk, "next": url}, follow=True
    )
    assert response.redirect_chain[-1][0] == url
    assert Appearance.objects.get(pk=one.pk).person_id == lead.pk
    two_url = reverse("faces:appearance", args=[two.pk])
    response = editor_client.post(
        reverse("faces:not_this_person", args=[two.pk]), {"next": two_url}, follow=True
    )
    assert response.redirect_chain[-1][0] == two_url
    assert "no one" in response.content.decode()
    # No one to take it from now.
    again = editor_client.post(reverse("faces:not_this_person", args=[two.pk]), follow=True)
    assert "belongs to no one" in shown_messages(again)[0]


def test_next_never_leads_off_the_site(editor_client, cast):
    lead = cast["lead"]
    response = editor_client.post(
        reverse("faces:rename", args=[lead.pk]), {"name": "X", "next": "https://evil.example/"}
    )
    assert response.url == lead.get_absolute_url()


@pytest.mark.parametrize(
    "name, args, data",
    [
        ("rename", "lead", {"name": "Nope"}),
        ("hide", "lead", {"hidden": "on"}),
        ("merge", "mia", {"other": "lead"}),
        ("split", "lead", {"appearances": "lead-appearance"}),
        ("not_this_person", "lead-appearance", {}),
        ("move_appearance", "lead-appearance", {}),
    ],
)
def test_a_reader_gets_403_and_nothing_changes(user_client, client, cast, name, args, data):
    appearance = Appearance.objects.filter(person=cast["lead"]).first()
    values = {"lead": cast["lead"].pk, "mia": cast["mia"].pk, "lead-appearance": appearance.pk}
    data = {k: values.get(v, v) for k, v in data.items()}
    url = reverse(f"faces:{name}", args=[values[args]])
    before = Correction.objects.count()
    assert user_client.post(url, data).status_code == 403
    assert user_client.get(url).status_code == 405
    client.logout()
    for answer in (client.post(url, data), client.get(url)):
        assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")
    assert Correction.objects.count() == before
    assert Appearance.objects.get(pk=appearance.pk).person_id == cast["lead"].pk
    lead = Person.objects.get(pk=cast["lead"].pk)
    assert (lead.name, lead.hidden, lead.merged_into_id) == ("", False, None)


def test_forms_need_the_csrf_token(editor, cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    url = reverse("faces:rename", args=[cast["lead"].pk])
    assert client.post(url, {"name": "Forged"}).status_code == 403
    assert Person.objects.get(pk=cast["lead"].pk).name == ""


def test_history_lists_and_undoes_the_latest(editor_client, user_client, editor, cast):
    lead = cast["lead"]
    editor_client.post(reverse("faces:rename", args=[lead.pk]), {"name": "Vincent"})
    editor_client.post(reverse("faces:hide", args=[lead.pk]), {"hidden": "on"})
    named, hidden = correction_history.history(lead).order_by("pk")
    shown = page(editor_client, lead)
    assert f"Person {lead.pk} named “Vincent”" in shown and "Vincent hidden" in shown
    assert "by carol (web)" in shown
    # Only the latest can be undone.
    assert reverse("faces:undo", args=[lead.pk, hidden.pk]) in shown
    assert reverse("faces:undo", args=[lead.pk, named.pk]) not in shown
    assert "faces/undo" not in page(user_client, lead) and "Undo" not in page(user_client, lead)
    response = editor_client.post(reverse("faces:undo", args=[lead.pk, named.pk]), follow=True)
    assert "undo them before this one" in shown_messages(response)[0]
    response = editor_client.post(reverse("faces:undo", args=[lead.pk, hidden.pk]), follow=True)
    assert shown_messages(response) == ["Undone: Vincent hidden."]
    assert not Person.objects.get(pk=lead.pk).hidden
    assert "undone by carol (web) at" in response.content.decode()
    assert reverse("faces:undo", args=[lead.pk, named.pk]) in response.content.decode()


def test_undoing_a_merge_from_the_survivors_page(editor_client, cast):
    mia, extra = cast["mia"], cast["extra"]
    editor_client.post(reverse("faces:merge", args=[mia.pk]), {"other": extra.pk})
    merge = correction_history.history(mia).get(action=Correction.Action.MERGE)
    editor_client.post(reverse("faces:undo", args=[mia.pk, merge.pk]))
    assert Person.objects.get(pk=extra.pk).merged_into_id is None
    assert Appearance.objects.filter(person=extra).count() == 1
    assert page(editor_client, extra).count('class="person-appearance"') == 1


def test_a_corrected_person_without_appearances_says_so(editor_client, cast):
    extra = cast["extra"]
    (only,) = Appearance.objects.filter(person=extra)
    editor_client.post(reverse("faces:not_this_person", args=[only.pk]))
    shown = page(editor_client, extra)
    assert "has no appearances left" in shown and f"Appearance {only.pk} is not" in shown


def test_ids_are_looked_up_only_for_those_who_may_correct(editor_client, user_client, client):
    for url in (
        reverse("faces:rename", args=[9999]),
        reverse("faces:not_this_person", args=[9999]),
    ):
        assert user_client.post(url, {"name": "x"}).status_code == 403
        assert editor_client.post(url, {"name": "x"}).status_code == 404
        assert editor_client.get(url).status_code == 405


def test_a_merged_person_leaves_the_grid(editor_client, cast):
    mia, lead = cast["mia"], cast["lead"]
    corrections.rename(lead, "Vincent")
    corrections.merge(mia, lead, name="Mia")
    grid = editor_client.get(reverse("faces:people")).content.decode()
    assert f'data-person-id="{mia.pk}"' in grid
    assert f'data-person-id="{lead.pk}"' not in grid
