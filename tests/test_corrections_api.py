"""The correction endpoints of the JSON API (``faces.corrections_api``): each correction and its
answer, the history and undo, parameters, refusals and permissions."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from faces.models import Appearance, Correction, Person
from tests.correction_helpers import Two, corrector, two_people

pytestmark = pytest.mark.django_db


@pytest.fixture
def two() -> Two:
    return two_people()


@pytest.fixture
def carol(django_user_model):
    return corrector(django_user_model)


@pytest.fixture
def api(client, carol) -> Client:
    client.force_login(carol)
    return client


def post(client: Client, url: str, body: dict | None = None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def url(name: str, *args) -> str:
    return reverse(f"api:faces:{name}", args=args)


def test_naming_answers_the_correction_and_the_person(api, two):
    answer = post(api, url("person-name", two.ben.pk), {"name": "Ben"})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    correction = body["correction"]
    assert set(correction) == {
        "id",
        "action",
        "summary",
        "person_id",
        "other_person_id",
        "user",
        "via",
        "created_at",
        "undone_at",
        "undone_by",
        "undone_via",
        "can_undo",
    }
    assert correction["action"] == "name" and correction["user"] == "carol"
    assert correction["via"] == "api" and correction["can_undo"] is True
    assert correction["person_id"] == two.ben.pk and correction["undone_at"] is None
    assert body["person"]["name"] == "Ben" and body["person"]["appearance_count"] == 1
    assert Person.objects.get(pk=two.ben.pk).name == "Ben"


def test_a_form_encoded_body_works_too(api, two):
    answer = api.post(url("person-hidden", two.ben.pk), {"hidden": "true"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["person"]["hidden"] is True
    assert Person.objects.get(pk=two.ben.pk).hidden


def test_merge_moves_the_appearances_and_the_merged_person_leads_to_the_survivor(api, two):
    answer = post(api, url("person-merge", two.anna.pk), {"other": two.ben.pk})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["correction"]["other_person_id"] == two.ben.pk
    assert body["person"]["id"] == two.anna.pk and body["person"]["appearance_count"] == 3
    merged = api.get(url("person", two.ben.pk))
    assert merged.status_code == 200 and merged.json()["id"] == two.anna.pk
    listed = [item["id"] for item in api.get(url("people") + "?hidden=any").json()["results"]]
    assert two.ben.pk not in listed and two.anna.pk in listed


def test_merging_two_named_people_needs_the_name_to_keep(api, two):
    Person.objects.filter(pk=two.ben.pk).update(name="Ben")
    refused = post(api, url("person-merge", two.anna.pk), {"other": two.ben.pk})
    assert refused.status_code == 409 and "choose the name" in refused.json()["error"]
    chosen = post(api, url("person-merge", two.anna.pk), {"other": two.ben.pk, "name": "Ben"})
    assert chosen.status_code == 200 and chosen.json()["person"]["name"] == "Ben"


def test_split_to_a_new_person_and_back_by_undo(api, two):
    moved = two.anna_appearances[1]
    answer = post(api, url("person-split", two.anna.pk), {"appearances": [moved], "to": None})
    assert answer.status_code == 200, answer.content
    correction = answer.json()["correction"]
    new = Appearance.objects.get(pk=moved).person_id
    assert new not in (two.anna.pk, None) and correction["other_person_id"] == new
    assert answer.json()["person"]["appearance_count"] == 1
    undone = post(api, url("correction-undo", correction["id"]))
    assert undone.status_code == 200, undone.content
    assert undone.json()["correction"]["undone_by"] == "carol"
    assert undone.json()["correction"]["undone_via"] == "api"
    assert undone.json()["correction"]["can_undo"] is False
    assert Appearance.objects.get(pk=moved).person_id == two.anna.pk


def test_split_of_someone_elses_appearance_is_refused(api, two):
    answer = post(api, url("person-split", two.anna.pk), {"appearances": two.ben_appearances})
    assert answer.status_code == 409 and "are not Anna's" in answer.json()["error"]


def test_not_this_person_takes_the_appearance_away(api, two):
    appearance = two.anna_appearances[0]
    answer = post(api, url("appearance-not-this-person", appearance))
    assert answer.status_code == 200, answer.content
    assert answer.json()["correction"]["action"] == "reject"
    assert Appearance.objects.get(pk=appearance).person_id is None
    again = post(api, url("appearance-not-this-person", appearance))
    assert again.status_code == 409 and again.json()["error"]


def test_history_is_paged_newest_first_and_only_the_latest_can_be_undone(api, two):
    post(api, url("person-name", two.anna.pk), {"name": "Anne"})
    post(api, url("person-hidden", two.anna.pk), {"hidden": True})
    history = api.get(url("person-corrections", two.anna.pk))
    assert history.status_code == 200
    body = history.json()
    assert body["count"] == 2 and body["page"] == 1 and body["next"] is None
    assert [item["action"] for item in body["results"]] == ["hide", "name"]
    assert [item["can_undo"] for item in body["results"]] == [True, False]
    older = body["results"][1]["id"]
    refused = post(api, url("correction-undo", older))
    assert refused.status_code == 409 and "Later corrections" in refused.json()["error"]
    assert Person.objects.get(pk=two.anna.pk).name == "Anne"


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("person-name", {}, "name"),
        ("person-name", {"name": 3}, "name"),
        ("person-hidden", {"hidden": "perhaps"}, "hidden"),
        ("person-hidden", {}, "hidden"),
        ("person-merge", {"other": "ben"}, "other"),
        ("person-merge", {"other": True}, "other"),
        ("person-split", {"appearances": []}, "appearances"),
        ("person-split", {"appearances": ["x"]}, "appearances"),
        ("person-split", {"appearances": [1], "to": "new"}, "to"),
    ],
)
def test_bad_parameters_are_a_400_with_fields(api, two, name, body, field):
    answer = post(api, url(name, two.anna.pk), body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["fields"]
    assert not Correction.objects.exists()


def test_a_body_that_is_not_a_json_object_is_a_400(api, two):
    for text in ("not json", "[1, 2]"):
        answer = api.post(url("person-name", two.anna.pk), text, content_type="application/json")
        assert answer.status_code == 400 and "body" in answer.json()["fields"]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("person-name", {"name": "X"}),
        ("person-hidden", {"hidden": True}),
        ("person-merge", {"other": 1}),
        ("person-split", {"appearances": [1]}),
        ("person-corrections", None),
    ],
)
def test_an_unknown_person_is_a_404(api, two, name, body):
    missing = Person.objects.order_by("-pk").first().pk + 100
    answer = api.get(url(name, missing)) if body is None else post(api, url(name, missing), body)
    assert answer.status_code == 404 and str(missing) in answer.json()["error"]


def test_unknown_merge_partner_appearance_and_correction_are_404s(api, two):
    assert post(api, url("person-merge", two.anna.pk), {"other": 99999}).status_code == 404
    assert post(api, url("appearance-not-this-person", 99999)).status_code == 404
    assert post(api, url("correction-undo", 99999)).status_code == 404


def test_correcting_a_merged_person_is_refused_with_where_they_went(api, two):
    post(api, url("person-merge", two.anna.pk), {"other": two.ben.pk})
    answer = post(api, url("person-name", two.ben.pk), {"name": "Ben"})
    assert answer.status_code == 409 and "merged into Anna" in answer.json()["error"]


def test_a_get_on_a_correction_endpoint_is_a_405(api, two):
    answer = api.get(url("person-name", two.anna.pk))
    assert answer.status_code == 405 and answer["Allow"] == "POST, OPTIONS"


def test_a_page_of_history_asks_can_undo_in_one_query(api, two, django_assert_max_num_queries):
    """can_undo of a page agrees with undo_refusal, asked for each, without a query each: the
    undone split cannot be undone again, the merge before it can, the renames before cannot."""
    from faces import correction_history, corrections
    from faces.correction_listing import correction_item

    for number in range(20):
        corrections.rename(two.anna, f"Anna {number}")
    corrections.merge(two.anna, two.ben)
    split = corrections.split(two.anna, two.ben_appearances)
    correction_history.undo(split)
    with django_assert_max_num_queries(10):
        body = api.get(url("person-corrections", two.anna.pk)).json()
    assert body["count"] == 22
    one_by_one = [correction_item(c) for c in correction_history.history(two.anna)]
    assert body["results"] == one_by_one
    assert [item["can_undo"] for item in body["results"]][:3] == [False, True, False]
