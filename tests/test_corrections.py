"""Corrections of people (faces.corrections) and what every later clustering does with them:
names, merges, splits, "not this person" and hiding stay; the history says who did what; the
latest corrections can be undone."""

from __future__ import annotations

import pytest

from faces import correction_history, corrections
from faces.corrections import CorrectionRefused
from faces.locks import try_claim
from faces.models import Appearance, Correction, Person, Rejection
from faces.people import assign_movie
from faces.recluster import recluster
from tests.people_helpers import Cast, person_of

pytestmark = pytest.mark.django_db

EMBEDDER = "dlib-resnet"


@pytest.fixture
def film():
    """Ann in shots 0 and 2, Bob in shot 1, each a person of their own."""
    cast = Cast()
    movie = cast.movie("Film", [[("ann", 0, 4)], [("bob", 0, 4)], [("ann", 0, 4)]])
    assign_movie(movie.pk)
    assert person_of(movie, 0) == person_of(movie, 2) != person_of(movie, 1)
    return movie


def person(movie, shot: int) -> Person:
    return Person.objects.get(pk=person_of(movie, shot))


def appearance(movie, shot: int) -> Appearance:
    return Appearance.objects.get(movie=movie, shot__index=shot)


def test_a_name_is_recorded_with_who_gave_it_and_survives_re_clusters(film, user):
    editor = user
    ann = person(film, 0)
    correction = corrections.rename(ann, "Ann Archer", by=editor)
    assert (correction.user, correction.action) == (editor, Correction.Action.NAME)
    assert "Ann Archer" in correction.summary
    recluster(EMBEDDER)
    recluster(EMBEDDER, from_scratch=True)
    assert person(film, 0).name == "Ann Archer" and person_of(film, 2) == ann.pk
    with pytest.raises(CorrectionRefused, match="already called"):
        corrections.rename(ann, "Ann Archer")


def test_merging_two_named_people_needs_the_name_to_keep(film):
    ann, bob = person(film, 0), person(film, 1)
    corrections.rename(ann, "Ann")
    corrections.rename(bob, "Bob")
    with pytest.raises(CorrectionRefused, match="choose the name"):
        corrections.merge(ann, bob)
    assert person_of(film, 1) == bob.pk  # nothing moved
    corrections.merge(ann, bob, name="Ann B.")
    assert {person_of(film, s) for s in (0, 1, 2)} == {ann.pk}
    assert Person.objects.get(pk=bob.pk).merged_into_id == ann.pk
    recluster(EMBEDDER, from_scratch=True)
    assert {person_of(film, s) for s in (0, 1, 2)} == {ann.pk}
    assert person(film, 0).name == "Ann B."


def test_people_on_screen_together_cannot_be_merged():
    cast = Cast()
    movie = cast.movie("Pair", [[("cy", 0, 4), ("di", 0, 4)]])
    assign_movie(movie.pk)
    cy, di = person_of(movie, 0, 0), person_of(movie, 0, 1)
    with pytest.raises(CorrectionRefused, match="same time"):
        corrections.merge(Person.objects.get(pk=cy), Person.objects.get(pk=di))
    assert person_of(movie, 0, 1) == di


def test_a_split_moves_appearances_to_a_new_person_that_re_clusters_keep(film):
    ann = person(film, 0)
    correction = corrections.split(ann, [appearance(film, 2).pk])
    moved = correction.other_person
    assert person_of(film, 2) == moved.pk != ann.pk and moved.corrected
    recluster(EMBEDDER)
    recluster(EMBEDDER, from_scratch=True)
    assert (person_of(film, 0), person_of(film, 2)) == (ann.pk, moved.pk)


def test_a_split_refuses_appearances_of_someone_else(film):
    with pytest.raises(CorrectionRefused, match="are not"):
        corrections.split(person(film, 0), [appearance(film, 1).pk])


def test_not_this_person_is_never_undone_by_a_clustering(film):
    ann = person(film, 0)
    corrections.reject(appearance(film, 2))
    assert person_of(film, 2) is None
    assert Rejection.objects.get().appearance == appearance(film, 2)
    for _ in range(2):
        assign_movie(film.pk)
        recluster(EMBEDDER)
        recluster(EMBEDDER, from_scratch=True)
        assert person_of(film, 2) != ann.pk
    # Ann's other appearance is hers still.
    assert person_of(film, 0) == ann.pk


def test_hiding_is_a_correction_and_a_hidden_person_stays_through_re_clusters(film):
    bob = person(film, 1)
    corrections.set_hidden(bob, True)
    recluster(EMBEDDER, from_scratch=True)
    assert person(film, 1).pk == bob.pk and person(film, 1).hidden
    corrections.set_hidden(Person.objects.get(pk=bob.pk), False)
    assert not Person.objects.get(pk=bob.pk).hidden


def test_the_latest_correction_can_be_undone_and_earlier_ones_wait_their_turn(film, user):
    ann = person(film, 0)
    named = corrections.rename(ann, "Ann")
    split = corrections.split(ann, [appearance(film, 2).pk])
    assert "Later corrections" in correction_history.undo_refusal(named)
    correction_history.undo(split, by=user)
    assert person_of(film, 2) == ann.pk
    assert not Person.objects.filter(pk=split.other_person_id).exists()  # the split's own person
    assert correction_history.undo_refusal(split) == "It was undone already."
    correction_history.undo(named)
    assert Person.objects.get(pk=ann.pk).name == ""
    assert [c.undone for c in correction_history.history(ann)] == [True, True]


def test_undoing_a_merge_gives_the_merged_person_back_their_appearances(film):
    ann, bob = person(film, 0), person(film, 1)
    corrections.rename(bob, "Bob")
    merge = corrections.merge(ann, bob)
    assert Person.objects.get(pk=ann.pk).name == "Bob"
    correction_history.undo(merge)
    assert person_of(film, 1) == bob.pk and person_of(film, 0) == ann.pk
    bob.refresh_from_db()
    assert (bob.merged_into_id, bob.name, Person.objects.get(pk=ann.pk).name) == (None, "Bob", "")


def test_undoing_not_this_person_puts_the_appearance_back(film):
    ann = person(film, 0)
    rejection = corrections.reject(appearance(film, 2))
    correction_history.undo(rejection)
    assert person_of(film, 2) == ann.pk and not Rejection.objects.exists()


def test_a_merged_person_cannot_be_corrected_any_more(film):
    ann, bob = person(film, 0), person(film, 1)
    corrections.merge(ann, bob)
    with pytest.raises(CorrectionRefused, match="was merged into"):
        corrections.rename(Person.objects.get(pk=bob.pk), "Bob")


def test_a_correction_while_people_are_re_clustered_is_refused_and_changes_nothing(
    film, monkeypatch
):
    monkeypatch.setattr(corrections, "LOCK_WAIT_SECONDS", 0.1)
    claim = try_claim(EMBEDDER)
    assert claim is not None
    try:
        with pytest.raises(CorrectionRefused, match="being re-clustered"):
            corrections.reject(appearance(film, 2))
    finally:
        claim.release()
    assert person_of(film, 2) == person_of(film, 0) and not Rejection.objects.exists()
