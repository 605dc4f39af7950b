"""People from appearances: who joins whom as movies arrive, what waits, what is never merged,
and a full re-cluster that keeps the people that persist."""

from __future__ import annotations

import io
import itertools

import pytest
from django.core.management import call_command

from faces.models import Appearance, Person
from faces.people import assign_movie, params_for
from faces.recluster import recluster
from tests.people_helpers import Cast, person_of

pytestmark = pytest.mark.django_db


def test_one_face_across_movies_becomes_one_person_and_others_stay_apart():
    cast = Cast()
    first = cast.movie("One", [[("ann", 0, 4)], [("bob", 0, 4)], [("ann", 0, 2)]])
    assign_movie(first.pk)
    ann, bob = person_of(first, 0), person_of(first, 1)
    assert ann and bob and ann != bob
    assert person_of(first, 2) == ann
    second = cast.movie("Two", [[("bob", 0, 1)], [("ann", 0, 1)]])
    assign_movie(second.pk)
    # A single face joins a person it is close to (it only waits when nobody is).
    assert person_of(second, 0) == bob
    assert person_of(second, 1) == ann
    assert Person.objects.count() == 2


def test_a_single_face_waits_until_enough_evidence_founds_a_person():
    cast = Cast()
    movie = cast.movie("Glimpse", [[("cy", 0, 1)], [("dee", 0, 2)]])
    assign_movie(movie.pk)
    assert Person.objects.count() == 0
    assert Appearance.objects.filter(person=None).count() == 2
    # Two more short glimpses of cy in another movie: three faces in all found a person.
    later = cast.movie("Later", [[("cy", 0, 1)], [("cy", 0, 1)]])
    assign_movie(later.pk)
    cy = person_of(movie, 0)
    assert cy is not None
    assert person_of(later, 0) == person_of(later, 1) == cy
    assert person_of(movie, 1) is None  # dee's two faces still wait


def test_one_long_appearance_founds_a_person_alone():
    cast = Cast()
    movie = cast.movie("Monologue", [[("eve", 0, 3)]])
    assign_movie(movie.pk)
    assert person_of(movie, 0) is not None


def test_two_faces_on_screen_at_once_are_never_one_person():
    """Twins (near-identical vectors) side by side in one shot stay two people, and a third
    appearance goes to one of them only."""
    cast = Cast()
    twin = cast.identity("twin")
    movie = cast.movie("Twins", [[(twin, 0, 5), (twin, 10, 5)], [(twin, 0, 5)]])
    assign_movie(movie.pk)
    left, right = person_of(movie, 0, 0), person_of(movie, 0, 1)
    assert left is not None and right is not None and left != right
    assert person_of(movie, 1) in {left, right}


def test_a_chain_of_lookalikes_does_not_make_one_mega_person():
    """a, then step by step to b, then to c: each neighbour is close (single link would chain
    them all into one person), the ends are unrelated; average link keeps them apart."""
    cast = Cast()
    weights = [step / 12 for step in range(13)]
    steps = [cast.blend("a", "b", w) for w in weights] + [cast.blend("b", "c", w) for w in weights]
    neighbours = [float(x @ y) for x, y in itertools.pairwise(steps)]
    assert min(neighbours) > 0.96  # every link of the chain passes the threshold
    movie = cast.movie("Chain", [[(vector, 0, 3)] for vector in steps])
    assign_movie(movie.pk)
    people = [person_of(movie, number) for number in range(len(steps))]
    assert None not in people
    assert people[0] != people[12] != people[-1] != people[0]


def test_an_uncalibrated_embedder_founds_no_people(settings):
    cast = Cast(dimension=512)
    movie = cast.movie("Facenet", [[("fay", 0, 5)]])
    Appearance.objects.update(embedder="facenet-vggface2")
    assert params_for("facenet-vggface2") is None
    assign_movie(movie.pk)
    assert Person.objects.count() == 0


def test_recluster_keeps_ids_of_people_that_persist_and_named_people_keep_their_members():
    cast = Cast()
    movie = cast.movie("Film", [[("gus", 0, 4)], [("hal", 0, 4)], [("gus", 0, 4)]])
    assign_movie(movie.pk)
    gus, hal = person_of(movie, 0), person_of(movie, 1)
    Person.objects.filter(pk=hal).update(name="Hal", hidden=True)
    Person.objects.filter(pk=gus).update(hidden=True)
    report = recluster("dlib-resnet")
    assert (person_of(movie, 0), person_of(movie, 1), person_of(movie, 2)) == (gus, hal, gus)
    assert report.people_kept == 1 and report.people_created == 0
    assert Person.objects.get(pk=gus).hidden  # the person that persisted kept its flag
    fresh = recluster("dlib-resnet", from_scratch=True)
    assert fresh.people_created == 1
    assert person_of(movie, 0) == person_of(movie, 2) != gus
    assert person_of(movie, 1) == hal
    assert not Person.objects.filter(pk=gus).exists()


def test_recluster_takes_apart_an_unnamed_person_that_mixes_two_faces():
    cast = Cast()
    movie = cast.movie("Mixed", [[("ida", 0, 4)], [("jon", 0, 4)]])
    mixed = Person.objects.create()
    Appearance.objects.update(person=mixed)
    recluster("dlib-resnet")
    ida, jon = person_of(movie, 0), person_of(movie, 1)
    assert ida and jon and ida != jon
    assert mixed.pk in {ida, jon}


def test_the_command_clusters_and_says_what_it_did():
    cast = Cast()
    cast.movie("Film", [[("kim", 0, 4)], [("kim", 0, 4)], [("lee", 0, 1)]])
    out = io.StringIO()
    call_command("people", "cluster", "--embedder", "dlib-resnet", stdout=out)
    assert "dlib-resnet: 2 appearances in people, 1 waiting; 1 new people" in out.getvalue()
    out = io.StringIO()
    call_command("people", "cluster", "--embedder", "facenet-vggface2", stdout=out)
    assert "not calibrated" in out.getvalue()
