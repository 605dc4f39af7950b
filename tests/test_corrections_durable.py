"""Corrections on the real Hamilton clip outlive everything that rebuilds its appearances with
new ids: a re-ingest from scratch with the same embedder, a re-embedding with another one, a
re-encode put in the file's place, and a rebuild of the appearances; each time the person's
appearances are found again by their natural keys (faces.keys) and every name, split,
rejection and hidden flag is still there."""

from __future__ import annotations

import shutil

import pytest

from faces import correction_history, corrections
from faces.models import Appearance, Person, Rejection
from faces.rebuild import rebuild_appearances
from faces.recluster import recluster
from movies.ingest import ingest_movie
from movies.models import Movie
from tests.ingest_helpers import ffmpeg, needs_ffmpeg
from tests.shared_data import HAMILTON_CLIP, LACAMOIRE, MIRANDA
from tests.test_people_hamilton import labelled_people

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def who(movie) -> dict[tuple[str, int], int | None]:
    """(labelled person, shot) → the person id of that appearance (the larger one when a
    label has two in a shot), for the labelled people only."""
    found: dict[tuple[str, int], int | None] = {}
    for person, seen in labelled_people(movie).items():
        for label, shot in seen:
            if label in (MIRANDA, LACAMOIRE):
                found[(label, shot)] = person
    return found


def appearance_of(movie, label: str, shot: int) -> Appearance:
    person = who(movie)[(label, shot)]
    return Appearance.objects.get(movie=movie, person_id=person, shot__index=shot)


@pytest.fixture
def corrected(hamilton_movie):
    """Miranda named, Lacamoire's wide shot split off and named, the Obamas' shot: one of its
    people hidden, one appearance 'not this person'."""
    movie = hamilton_movie
    seen = who(movie)
    miranda = Person.objects.get(pk=seen[(MIRANDA, 0)])
    lacamoire = Person.objects.get(pk=seen[(LACAMOIRE, 0)])
    corrections.rename(miranda, "Lin-Manuel Miranda")
    corrections.rename(lacamoire, "Alex Lacamoire")
    wide = corrections.split(lacamoire, [appearance_of(movie, LACAMOIRE, 1).pk]).other_person
    corrections.rename(wide, "Alex Lacamoire (wide)")
    obamas = list(Appearance.objects.filter(movie=movie, shot__index=3).exclude(person=None))
    assert len(obamas) >= 2
    hidden, rejected = obamas[0], obamas[1]
    corrections.set_hidden(hidden.person, True)
    rejected_from = rejected.person
    corrections.reject(rejected)
    return {
        "movie": movie,
        "miranda": miranda.pk,
        "lacamoire": lacamoire.pk,
        "wide": wide.pk,
        "hidden": hidden.person_id,
        "rejected_from": rejected_from.pk,
        "rejected_span": (rejected.start_seconds, rejected.end_seconds),
    }


@pytest.fixture
def own_media(settings, tmp_path):
    """A copy of the session's Hamilton media for a re-ingest that writes other images (another
    detector's crops, another encode's frames), which the later tests must not find."""
    settings.MEDIA_ROOT = shutil.copytree(settings.MEDIA_ROOT, tmp_path / "media")


def check_corrections(state: dict) -> None:
    movie = state["movie"]
    seen = who(movie)
    assert seen[(MIRANDA, 0)] == seen[(MIRANDA, 2)] == state["miranda"]
    assert seen[(LACAMOIRE, 0)] == state["lacamoire"]
    assert seen[(LACAMOIRE, 1)] == state["wide"]
    names = dict(Person.objects.values_list("pk", "name"))
    assert names[state["miranda"]] == "Lin-Manuel Miranda"
    assert names[state["wide"]] == "Alex Lacamoire (wide)"
    hidden = Person.objects.get(pk=state["hidden"])
    assert hidden.hidden and hidden.appearances.filter(movie=movie, shot__index=3).exists()
    # The rejected appearance's successor is linked to the rejection and not with that person.
    rejection = Rejection.objects.get(person_id=state["rejected_from"])
    assert rejection.appearance is not None
    assert rejection.appearance.movie_id == movie.pk and rejection.appearance.shot.index == 3
    assert rejection.appearance.person_id != state["rejected_from"]


def test_corrections_survive_a_re_cluster_and_a_rebuild_of_the_appearances(corrected):
    recluster("dlib-resnet")
    check_corrections(corrected)
    recluster("dlib-resnet", from_scratch=True)
    check_corrections(corrected)
    old = set(Appearance.objects.values_list("pk", flat=True))
    rebuild_appearances(corrected["movie"].pk)
    assert not old & set(Appearance.objects.values_list("pk", flat=True))  # all new rows
    check_corrections(corrected)


def test_corrections_survive_a_re_ingest_from_scratch(corrected):
    old = set(Appearance.objects.values_list("pk", flat=True))
    report = ingest_movie(corrected["movie"].pk, from_scratch=True)
    assert report.status == "done", report.message
    assert not old & set(Appearance.objects.values_list("pk", flat=True))
    check_corrections(corrected)


def test_corrections_survive_a_re_embedding_with_another_embedder(corrected, own_media):
    movie = corrected["movie"]
    Movie.objects.filter(pk=movie.pk).update(embedder="dlib-resnet-mtcnn")
    report = ingest_movie(movie.pk, from_scratch=True)
    assert report.status == "done", report.message
    assert set(Appearance.objects.values_list("embedder", flat=True)) == {"dlib-resnet-mtcnn"}
    check_corrections(corrected)


def test_a_named_person_whose_appearances_are_gone_stays_named(corrected):
    movie = corrected["movie"]
    Movie.objects.filter(pk=movie.pk).delete()
    miranda = Person.objects.get(pk=corrected["miranda"])
    assert miranda.name == "Lin-Manuel Miranda" and not miranda.appearances.exists()


def test_a_merge_survives_a_rebuild_and_can_be_undone_after_it(corrected):
    movie = corrected["movie"]
    lacamoire = Person.objects.get(pk=corrected["lacamoire"])
    wide = Person.objects.get(pk=corrected["wide"])
    merge = corrections.merge(lacamoire, wide, name="Alex Lacamoire")
    rebuild_appearances(movie.pk)
    seen = who(movie)
    assert seen[(LACAMOIRE, 0)] == seen[(LACAMOIRE, 1)] == lacamoire.pk
    # The merge's appearances have new ids now; undo finds them by their keys.
    correction_history.undo(merge)
    seen = who(movie)
    assert (seen[(LACAMOIRE, 0)], seen[(LACAMOIRE, 1)]) == (lacamoire.pk, wide.pk)
    assert Person.objects.get(pk=wide.pk).name == "Alex Lacamoire (wide)"


@needs_ffmpeg
@pytest.mark.parametrize(
    "timing",
    [
        # Frame for frame: every moment where it was.
        ["-fps_mode", "passthrough"],
        # ffmpeg's default pads the video's late start (0.83 s after the audio's) with 25
        # copies of its first frame: every later moment moves by 0.834 s.
        [],
    ],
    ids=["frame-for-frame", "padded-start"],
)
def test_corrections_survive_a_re_encode_put_in_the_files_place(
    corrected, own_media, tmp_path, timing
):
    """The archive replaces the file with the same cut at another quality and re-ingests it:
    its bytes changed (a new checksum), and every correction finds its appearances by their
    keys, the padded copy's once its timeline's shift is found."""
    movie = corrected["movie"]
    remaster = tmp_path / "hamilton_crf28.mp4"
    ffmpeg("-i", str(HAMILTON_CLIP), "-c:v", "libx264", "-crf", "28", "-an", *timing, str(remaster))
    old_checksum = movie.checksum
    Movie.objects.filter(pk=movie.pk).update(source_path=str(remaster))
    report = ingest_movie(movie.pk, from_scratch=True)
    assert report.status == "done", report.message
    movie.refresh_from_db()
    assert movie.checksum != old_checksum
    check_corrections(corrected)
