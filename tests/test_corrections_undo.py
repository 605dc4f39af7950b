"""Undoing corrections puts back everything the correction moved, once
(``faces.correction_history``)."""

from __future__ import annotations

import pytest

from faces import correction_history, corrections
from faces.corrections import CorrectionRefused
from faces.keys import keys_of
from faces.locks import try_claim
from faces.models import Appearance, Correction, PendingMember, Rejection
from tests.correction_helpers import two_people
from tests.factories import EMBEDDER

pytestmark = pytest.mark.django_db


def test_undoing_a_merge_gives_the_merged_person_their_pending_members_back():
    """A member waiting for its movie's rebuilt appearances (a ``PendingMember``) moves with a
    merge, and must move back with its undo, or the rebuild would hand it to the survivor."""
    two = two_people()
    appearance = Appearance.objects.without_embeddings().get(pk=two.ben_appearances[0])
    pending = PendingMember.objects.create(person=two.ben, **keys_of([appearance])[appearance.pk])
    correction = corrections.merge(two.anna, two.ben)
    assert PendingMember.objects.get(pk=pending.pk).person_id == two.anna.pk
    correction_history.undo(correction)
    assert PendingMember.objects.get(pk=pending.pk).person_id == two.ben.pk
    assert Appearance.objects.get(pk=appearance.pk).person_id == two.ben.pk


def test_of_two_undos_of_one_correction_at_once_only_the_first_counts(django_user_model):
    """Both read the correction before either undid it (two tabs): the second is refused and
    the history keeps who undid it first."""
    first, second = (django_user_model.objects.create(username=name) for name in ("fay", "gus"))
    two = two_people()
    merge = corrections.merge(two.anna, two.ben)
    stale = Correction.objects.get(pk=merge.pk)
    correction_history.undo(merge, by=first)
    with pytest.raises(CorrectionRefused, match="undone already"):
        correction_history.undo(stale, by=second, via="api")
    merge.refresh_from_db()
    assert (merge.undone_by, merge.undone_via) == (first, "web")
    assert set(two.ben.appearances.values_list("pk", flat=True)) == set(two.ben_appearances)


def test_an_undo_that_cannot_be_made_leaves_the_correction_standing(monkeypatch):
    two = two_people()
    rejection = corrections.reject(Appearance.objects.get(pk=two.ben_appearances[0]))
    monkeypatch.setattr(corrections, "LOCK_WAIT_SECONDS", 0.1)
    claim = try_claim(EMBEDDER)
    try:
        with pytest.raises(CorrectionRefused, match="being re-clustered"):
            correction_history.undo(rejection)
    finally:
        claim.release()
    rejection.refresh_from_db()
    assert (rejection.undone_at, rejection.undone_via) == (None, "")
    assert Rejection.objects.filter(pk=rejection.after["rejection"]).exists()
    correction_history.undo(rejection)
    assert Appearance.objects.get(pk=two.ben_appearances[0]).person_id == two.ben.pk
