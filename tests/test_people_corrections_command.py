"""``manage.py people name|merge|hidden|undo|history``: the corrections of ``faces.corrections``
from a shell, recorded as by the command, refusals as CommandErrors."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from faces import corrections
from faces.models import Appearance, Correction, Person
from tests.correction_helpers import Two, two_people

pytestmark = pytest.mark.django_db


@pytest.fixture
def two() -> Two:
    return two_people()


def people(*args: str) -> str:
    out = StringIO()
    call_command("people", *args, stdout=out)
    return out.getvalue()


def test_name_is_recorded_as_by_the_command(two):
    out = people("name", str(two.ben.pk), "Ben")
    correction = Correction.objects.get()
    assert out == f"correction {correction.pk}: {correction.summary}\n"
    assert correction.via == "command" and correction.user is None
    assert Person.objects.get(pk=two.ben.pk).name == "Ben"


def test_merge_with_a_name_and_history_as_json(two):
    Person.objects.filter(pk=two.ben.pk).update(name="Ben")
    with pytest.raises(CommandError, match="choose the name to keep"):
        people("merge", str(two.anna.pk), str(two.ben.pk))
    people("merge", str(two.anna.pk), str(two.ben.pk), "--name", "Anna B")
    assert Appearance.objects.filter(person=two.anna).count() == 3
    assert Person.objects.get(pk=two.anna.pk).name == "Anna B"
    # The merged person's history is the survivor's.
    items = json.loads(people("history", str(two.ben.pk), "--json"))
    assert [(item["action"], item["via"], item["user"]) for item in items] == [
        ("merge", "command", None)
    ]
    assert items[0]["other_person_id"] == two.ben.pk and items[0]["can_undo"] is True


def test_hidden_then_undo_and_the_history_says_so(two):
    people("hidden", str(two.anna.pk), "true")
    assert Person.objects.get(pk=two.anna.pk).hidden
    correction = Correction.objects.get()
    assert people("undo", str(correction.pk)).startswith(f"undone {correction.pk}: ")
    assert not Person.objects.get(pk=two.anna.pk).hidden
    lines = people("history", str(two.anna.pk)).splitlines()
    assert len(lines) == 1 and "(command)" in lines[0] and "undone" in lines[0]
    with pytest.raises(CommandError, match="undone already"):
        people("undo", str(correction.pk))


def test_refusals_and_unknown_ids_are_command_errors(two):
    with pytest.raises(CommandError, match="already called that"):
        people("name", str(two.anna.pk), "Anna")
    with pytest.raises(CommandError, match="There is no person 999"):
        people("name", "999", "X")
    with pytest.raises(CommandError, match="There is no correction 999"):
        people("undo", "999")
    with pytest.raises(CommandError, match="already shown"):
        people("hidden", str(two.anna.pk), "false")
    assert people("history", str(two.ben.pk)) == "no corrections\n"
    assert not Correction.objects.exists()


def test_show_of_a_merged_person_shows_the_survivor(two):
    corrections.merge(two.anna, two.ben)
    shown = json.loads(people("show", str(two.ben.pk), "--json"))
    assert shown["id"] == two.anna.pk and shown["appearance_count"] == 3
    listed = [item["id"] for item in json.loads(people("list", "--json", "--hidden", "any"))]
    assert listed == [two.anna.pk]
