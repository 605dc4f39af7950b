"""``manage.py search_faces``: ranked groups for a face or a photo, clear errors for bad input."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.factories import add_faces, faceless_photo, make_movie, unit
from tests.shared_data import FACES, MIRANDA, in_shot_of

# These tests check the near-duplicate grouping (group=duplicate).
pytestmark = pytest.mark.usefixtures("duplicate_grouping")


def run(*args) -> str:
    out = io.StringIO()
    call_command("search_faces", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def faces(db, settings):
    """Query, a near-duplicate of it, a second shot of the same person, another person."""
    settings.FACEFINDER_DUPLICATE_DISTANCE = {"dlib-resnet": 0.3, "facenet-vggface2": 0.3}
    movie = make_movie("Gala")
    ids = add_faces(
        movie,
        [unit([1, 0, 0]), unit([1, 0.1, 0]), unit([1, 0.6, 0]), unit([0, 0, 1])],
        first_frame=90,
    )
    return movie, ids


def test_face_search_prints_ranked_groups(faces):
    _movie, (query, duplicate, second_shot, stranger) = faces
    output = run("--face", str(query))
    lines = output.splitlines()
    assert lines[0] == f"Query: face {query}, dlib-resnet"
    assert "4 results in 3 groups" in output
    first, second, third = [line.split() for line in lines[-3:]]
    # rank, face id, score, movie, frame index, time, duplicates
    assert first[:3] == ["1", str(query), "1.0000"]
    assert first[3:] == ["Gala", "90", "0:00:03", str(duplicate)]
    assert second[:2] == ["2", str(second_shot)] and second[-1] == "-"
    assert third[:2] == ["3", str(stranger)] and third[2] == "0.0000"


def test_json_output_carries_groups_and_duplicates(faces):
    movie, (query, duplicate, second_shot, _stranger) = faces
    data = json.loads(run("--face", str(query), "--json", "--k", "3"))
    assert data["query"]["type"] == "face" and data["query"]["face_id"] == query
    assert data["hit_count"] == 3
    assert data["filters"] == {
        "k": 3,
        "movie_id": None,
        "min_score": None,
        "exact": False,
        "group": "duplicate",
    }
    leader = data["results"][0]
    assert leader["face_id"] == query and leader["movie"] == {"id": movie.pk, "title": "Gala"}
    assert leader["frame"]["index"] == 90 and leader["frame"]["name"] == "gala.mp4_90"
    assert leader["timestamp"] == pytest.approx(3.6)
    assert leader["timestamp_display"] == "0:00:03"
    # No request, no host: URLs are site paths.
    assert leader["search_url"] == reverse("search:face", args=[query])
    assert leader["image_url"].startswith("/media/")
    assert [d["face_id"] for d in leader["duplicates"]] == [duplicate]
    assert [g["face_id"] for g in data["results"]] == [query, second_shot]


def test_min_score_and_movie_filters(faces):
    _movie, (query, _duplicate, _second_shot, stranger) = faces
    data = json.loads(run("--face", str(query), "--json", "--min-score", "0.5"))
    assert stranger not in {g["face_id"] for g in data["results"]}
    other = make_movie("Other")
    data = json.loads(run("--face", str(query), "--json", "--movie", str(other.pk)))
    assert [g["face_id"] for g in data["results"]] == [query]
    assert data["empty_reason"].startswith("No face matches these filters.")
    text = run("--face", str(query), "--movie", str(other.pk))
    assert "No face matches these filters." in text


def test_face_alone_in_its_embedder_says_so(db):
    (face,) = add_faces(make_movie(), [unit([1, 0, 0])])
    assert "nothing to compare" in run("--face", str(face))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--face", "424242"], "There is no face 424242"),
        (["--face", "1", "--k", "0"], "between 1 and"),
        (["--face", "1", "--movie", "999"], "There is no movie 999"),
        ([], "one of the arguments --face --image --appearance is required"),
    ],
)
def test_bad_arguments_give_clear_errors(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_image_that_is_not_an_image(db, tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a picture")
    with pytest.raises(CommandError, match="not an image"):
        run("--image", str(path), "--embedder", "dlib-resnet")


def test_missing_image_file(db, tmp_path):
    with pytest.raises(CommandError, match="is not a file"):
        run("--image", str(tmp_path / "nowhere.jpg"))


def test_image_without_a_face(db, tmp_path):
    path = tmp_path / "sky.png"
    path.write_bytes(faceless_photo(320, 240, image_format="PNG"))
    with pytest.raises(CommandError, match="No face was found"):
        run("--image", str(path), "--embedder", "dlib-resnet")


@pytest.mark.slow
def test_photo_of_miranda_finds_his_frames(hamilton_movie):
    photo = FACES / "lin_manuel_miranda" / "1.jpg"
    data = json.loads(
        run("--image", str(photo), "--embedder", "dlib-resnet", "--json", "--k", "10")
    )
    assert data["query"]["type"] == "image" and data["query"]["face_count"] >= 1
    frames = [group["frame"]["index"] for group in data["results"]]
    frames += [d["frame"]["index"] for group in data["results"] for d in group["duplicates"]]
    assert len(frames) == 10
    assert all(in_shot_of(MIRANDA, index) for index in frames), frames
