"""Undoing corrections puts back everything the correction moved (``faces.corrections``)."""

from __future__ import annotations

import pytest

from faces import corrections
from faces.keys import keys_of
from faces.models import Appearance, PendingMember
from tests.correction_helpers import two_people

pytestmark = pytest.mark.django_db


def test_undoing_a_merge_gives_the_merged_person_their_pending_members_back():
    """A member waiting for its movie's rebuilt appearances (a ``PendingMember``) moves with a
    merge, and must move back with its undo, or the rebuild would hand it to the survivor."""
    two = two_people()
    appearance = Appearance.objects.without_embeddings().get(pk=two.ben_appearances[0])
    pending = PendingMember.objects.create(person=two.ben, **keys_of([appearance])[appearance.pk])
    correction = corrections.merge(two.anna, two.ben)
    assert PendingMember.objects.get(pk=pending.pk).person_id == two.anna.pk
    corrections.undo(correction)
    assert PendingMember.objects.get(pk=pending.pk).person_id == two.ben.pk
    assert Appearance.objects.get(pk=appearance.pk).person_id == two.ben.pk
