"""The search service: ranking, filters, embedder isolation and duplicate groups."""

from __future__ import annotations

import math

import numpy as np
import pytest

from search.results import Hit
from search.services import (
    FaceNotFound,
    InvalidQuery,
    duplicate_distance,
    group_duplicates,
    search_by_face,
    search_by_vector,
)
from tests.factories import add_faces, make_movie, unit
from tests.shared_data import LACAMOIRE, MIRANDA, in_shot_of, shot_at, shots_of

# These tests check the near-duplicate grouping (group=duplicate).
pytestmark = pytest.mark.usefixtures("duplicate_grouping")


def on_circle(angle: float) -> np.ndarray:
    """A unit vector in the plane; two of them are 2·sin(Δangle/2) apart."""
    return np.array([math.cos(angle), math.sin(angle), 0.0], dtype=np.float32)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a.astype(np.float64) - b))


def grouped_ids(groups) -> list[tuple[int, list[int]]]:
    return [(g.leader.face_id, [d.face_id for d in g.duplicates]) for g in groups]


# --- duplicate groups ------------------------------------------------------------------------


def test_each_hit_far_from_all_above_leads_its_own_group():
    vectors = {1: on_circle(0.0), 2: on_circle(1.0), 3: on_circle(2.0)}
    hits = [Hit(1, 1.0), Hit(2, 0.9), Hit(3, 0.8)]
    assert grouped_ids(group_duplicates(hits, vectors, 0.3)) == [(1, []), (2, []), (3, [])]


def test_near_duplicates_join_the_group_of_the_hit_above_them():
    vectors = {1: on_circle(0.0), 2: on_circle(1.0), 3: on_circle(0.1), 4: on_circle(1.05)}
    hits = [Hit(1, 1.0), Hit(2, 0.9), Hit(3, 0.8), Hit(4, 0.7)]
    assert grouped_ids(group_duplicates(hits, vectors, 0.3)) == [(1, [3]), (2, [4])]


def test_distance_limit_is_strict():
    # 2·sin(0.15) = 0.2989 apart: a duplicate at 0.3, not at 0.29.
    vectors = {1: on_circle(0.0), 2: on_circle(0.3)}
    hits = [Hit(1, 1.0), Hit(2, 0.95)]
    assert 0.29 < distance(vectors[1], vectors[2]) < 0.3
    assert grouped_ids(group_duplicates(hits, vectors, 0.3)) == [(1, [2])]
    assert grouped_ids(group_duplicates(hits, vectors, 0.29)) == [(1, []), (2, [])]


def test_chained_duplicate_joins_the_leader_of_the_first_close_hit_above_it():
    """D is near B (a duplicate of A) and near C (a leader); B ranks above C, so D joins A."""
    a, b, c, d = on_circle(0.0), on_circle(0.25), on_circle(0.8), on_circle(0.52)
    assert distance(b, a) < 0.3  # B duplicates A
    assert distance(c, a) > 0.3 and distance(c, b) > 0.3  # C leads its own group
    assert distance(d, a) > 0.3  # D is not near A itself ...
    assert distance(d, b) < 0.3 and distance(d, c) < 0.3  # ... but near both B and C
    vectors = {1: a, 2: b, 3: c, 4: d}
    hits = [Hit(1, 1.0), Hit(2, 0.9), Hit(3, 0.8), Hit(4, 0.7)]
    assert grouped_ids(group_duplicates(hits, vectors, 0.3)) == [(1, [2, 4]), (3, [])]


def test_grouping_nothing_gives_no_groups():
    assert group_duplicates([], {}, 0.3) == []


def test_duplicate_distance_is_a_setting_per_embedder(settings):
    assert duplicate_distance("facenet-vggface2") == pytest.approx(0.3)
    settings.FACEFINDER_DUPLICATE_DISTANCE = {**settings.FACEFINDER_DUPLICATE_DISTANCE}
    settings.FACEFINDER_DUPLICATE_DISTANCE["dlib-resnet"] = 0.123
    assert duplicate_distance("dlib-resnet") == pytest.approx(0.123)
    with pytest.raises(InvalidQuery, match="no-such-embedder"):
        duplicate_distance("no-such-embedder")


# --- searching -------------------------------------------------------------------------------


@pytest.fixture
def library(db):
    """Two movies; dlib faces along a circle (closer angle = higher score), a facenet face too."""
    first, second = make_movie("First"), make_movie("Second")
    angles = [0.0, 0.05, 0.5, 1.0, 1.5, 2.0]
    first_ids = add_faces(first, [unit([*on_circle(a), 0.0]) for a in angles])
    second_ids = add_faces(second, [unit([*on_circle(a + 0.02), 0.0]) for a in angles[:3]])
    # A facenet face pointing the same way as the query: must never appear in dlib results.
    facenet_ids = add_faces(
        second, [unit([1.0, 0.0, 0.0, 0.0])], embedder="facenet-vggface2", first_frame=100
    )
    return {"first": first, "second": second, "a": first_ids, "b": second_ids, "f": facenet_ids}


def test_query_face_first_then_by_falling_score(library):
    query = library["a"][0]
    result = search_by_face(query, k=20)
    assert result.query_face_id == query
    assert result.embedder == "dlib-resnet"
    assert result.hits[0] == Hit(query, pytest.approx(1.0))
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True)
    # Every dlib face, and only dlib faces.
    assert {hit.face_id for hit in result.hits} == set(library["a"]) | set(library["b"])


def test_scores_are_the_exact_dot_products(library):
    from faces.models import Face, unpack_vector

    result = search_by_face(library["a"][0])
    query = unpack_vector(Face.objects.get(pk=library["a"][0]).embedding).astype(np.float64)
    for hit in result.hits:
        other = unpack_vector(Face.objects.get(pk=hit.face_id).embedding).astype(np.float64)
        assert hit.score == pytest.approx(float(query @ other), abs=1e-9)


def test_embedders_are_never_mixed(library):
    facenet = library["f"][0]
    result = search_by_face(facenet)
    assert [hit.face_id for hit in result.hits] == [facenet]  # no other facenet face exists
    assert result.embedder == "facenet-vggface2"


def test_face_whose_embedder_has_no_other_face_gets_itself_alone(library):
    result = search_by_face(library["f"][0])
    assert len(result.hits) == 1 and len(result.groups) == 1
    assert result.groups[0].leader.face_id == library["f"][0]


def test_k_counts_the_query_face(library):
    result = search_by_face(library["a"][0], k=3)
    assert len(result.hits) == 3
    assert result.hits[0].face_id == library["a"][0]


def test_movie_filter_keeps_only_that_movie_after_the_query_face(library):
    query = library["a"][0]
    result = search_by_face(query, movie_id=library["second"].pk)
    assert result.hits[0].face_id == query
    assert [hit.face_id for hit in result.hits[1:]] == library["b"]


def test_min_score_drops_weaker_faces(library):
    query = library["a"][0]
    result = search_by_face(query, min_score=math.cos(0.6))
    others = [hit.face_id for hit in result.hits[1:]]
    # Angles 0.05, 0.5 in the first movie, 0.02, 0.07, 0.52 in the second.
    assert set(others) == {library["a"][1], library["a"][2], *library["b"]}
    assert all(hit.score >= math.cos(0.6) for hit in result.hits)


def test_near_duplicates_of_the_query_are_grouped_with_it(library, settings):
    settings.FACEFINDER_DUPLICATE_DISTANCE = {"dlib-resnet": 0.1, "facenet-vggface2": 0.3}
    query = library["a"][0]
    result = search_by_face(query)
    first_group = result.groups[0]
    assert first_group.leader.face_id == query
    # Angles 0.02, 0.05 and 0.07 from the query are within 0.1.
    assert {hit.face_id for hit in first_group.duplicates} == {
        library["a"][1],
        library["b"][0],
        library["b"][1],
    }
    shown = [group.leader.face_id for group in result.groups]
    assert len(shown) == len(set(shown))
    assert sum(1 + len(g.duplicates) for g in result.groups) == len(result.hits)


def test_unknown_face_raises_face_not_found(db):
    with pytest.raises(FaceNotFound, match="There is no face 987654"):
        search_by_face(987654)


@pytest.mark.parametrize("k", [0, -1, 10_000])
def test_k_out_of_range_is_refused(library, k):
    with pytest.raises(InvalidQuery, match="between 1 and"):
        search_by_face(library["a"][0], k=k)


def test_search_by_vector_ranks_stored_faces(library):
    vector = unit([*on_circle(0.49), 0.0])
    result = search_by_vector(vector, "dlib-resnet", k=2)
    assert result.query_face_id is None
    assert [hit.face_id for hit in result.hits] == [library["a"][2], library["b"][2]]


def test_search_by_vector_of_the_wrong_size_is_refused(library):
    with pytest.raises(InvalidQuery, match="dimensions"):
        search_by_vector(np.ones(7, dtype=np.float32), "dlib-resnet")


def test_search_by_vector_with_nothing_stored_finds_nothing(db):
    result = search_by_vector(unit([1.0, 0.0, 0.0]), "dlib-resnet")
    assert result.hits == [] and result.groups == []


# --- the real Hamilton clip (MTCNN + dlib-resnet, every 5th frame) ---------------------------


def person_in_clip(face) -> str:
    """Who a Hamilton face is in which shot, from shots.csv and where the face sits in it."""
    shot = shot_at(face.frame_index)
    centre = (face.x1 + face.x2) / 2
    if set(shot.people) == {MIRANDA, LACAMOIRE}:  # wide stage shot: Lacamoire far left
        person = MIRANDA if centre > 320 else LACAMOIRE
    elif len(shot.people) == 1:  # a close-up
        (person,) = shot.people
    else:
        return f"audience-{int(centre // 100)}"  # four people sitting still
    return f"{person} in frames {shot.first_frame}-{shot.last_frame}"


@pytest.mark.slow
def test_miranda_face_ranks_frames_of_both_his_shots_above_the_others(hamilton_movie):
    from faces.models import Face

    wide, close_up = shots_of(MIRANDA)
    faces = Face.objects.filter(movie=hamilton_movie)
    query = faces.filter(
        frame_index__gte=close_up.first_frame, frame_index__lte=close_up.last_frame
    ).order_by("frame_index")[0]
    result = search_by_face(query.pk, k=faces.count())
    frame_of = dict(faces.values_list("id", "frame_index"))
    frames_in_rank_order = list(dict.fromkeys(frame_of[hit.face_id] for hit in result.hits))
    flags = [in_shot_of(MIRANDA, frame) for frame in frames_in_rank_order]
    miranda_frames = sum(flags)
    assert all(flags[:miranda_frames]), frames_in_rank_order
    # Both shots are there: the small, frontal face of the wide shot too.
    assert any(frame in wide for frame in frames_in_rank_order[:miranda_frames])
    assert any(frame in close_up for frame in frames_in_rank_order[:miranda_frames])


@pytest.mark.slow
def test_dlib_duplicate_distance_on_real_clip(hamilton_movie):
    """The dlib default groups neighbouring frames of one person in one shot, and nothing else.

    The measurement behind the default is in docs/duplicate-distance.md.
    """
    from faces.models import Face

    faces = {face.pk: face for face in Face.objects.filter(movie=hamilton_movie)}
    group_counts = []
    for face_id in faces:
        result = search_by_face(face_id, k=20)
        for group in result.groups:
            people = {person_in_clip(faces[h.face_id]) for h in [group.leader, *group.duplicates]}
            assert len(people) == 1, (face_id, people)
        group_counts.append(len(result.groups))
    assert duplicate_distance("dlib-resnet") == pytest.approx(0.25)
    # Grouping does real work: 20 results collapse into a handful of entries on average.
    assert np.mean(group_counts) < 10
