"""The timeline strip on the movie page and the appearance page, as a user sees them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from faces.models import Appearance, Face
from faces.timeline import movie_timeline
from movies.display import hms
from movies.models import Movie
from tests.appearance_helpers import Film, make_film
from tests.factories import make_movie
from tests.shared_data import HAMILTON_CLIP

pytestmark = pytest.mark.django_db


@pytest.fixture
def film() -> Film:
    return make_film()


def page_of(appearance: Appearance) -> str:
    return reverse("faces:appearance", args=[appearance.pk])


def text(response) -> str:
    return response.content.decode()


def frame_grid(page: str) -> str:
    return page.split('class="frame-grid"')[1]


# --- the timeline ----------------------------------------------------------------------------


def test_overlapping_appearances_take_separate_lanes(film):
    timeline = movie_timeline(film.movie)
    lanes = [[mark.appearance_id for mark in lane] for lane in timeline.lanes]
    ids = {name: appearance.pk for name, appearance in film.appearances.items()}
    assert lanes == [[ids["anna"], ids["ben"], ids["dan"]], [ids["cara"]]]
    assert timeline.appearance_count == 4
    assert timeline.marked is None


def test_marks_are_placed_in_percent_of_the_duration(film):
    timeline = movie_timeline(film.movie, marked=film.appearances["cara"].pk)
    cara = timeline.marked
    # Frames 150-250 at 25 fps, every 5th: 6 s to 10.2 s of 20 s.
    assert cara.left == pytest.approx(30.0)
    assert cara.width == pytest.approx(21.0)
    assert cara.style == "left:30.000%;width:21.000%"
    assert cara.url == page_of(film.appearances["cara"])
    assert cara.label == "Appearance 0:00:06.0\u20130:00:10.2, 21 faces"
    assert timeline.marked_style == "left:30.000%"
    assert [(shot.left, shot.width) for shot in timeline.shots] == [(0, 20), (20, 40), (60, 40)]
    assert [tick.label for tick in timeline.ticks] == [
        "0:00:00", "0:00:05", "0:00:10", "0:00:15", "0:00:20",
    ]  # fmt: skip


def test_the_duration_covers_what_lies_past_the_recorded_length(film):
    Movie.objects.filter(pk=film.movie.pk).update(duration_seconds=None, frame_count=None)
    film.movie.refresh_from_db()
    timeline = movie_timeline(film.movie)
    assert timeline.duration == pytest.approx(20.0)  # the end of the last shot


def test_no_timeline_without_shots_or_appearances():
    assert movie_timeline(make_movie("Empty", duration_seconds=60.0)) is None


# --- the movie page --------------------------------------------------------------------------


def test_the_movie_page_shows_the_timeline_above_the_frames(user_client, film):
    page = text(user_client.get(film.movie.get_absolute_url()))
    assert page.index('class="timeline"') < page.index('class="frame-grid"')
    assert "4 appearances in 3 shots" in page
    for appearance in film.appearances.values():
        assert f'href="{page_of(appearance)}"' in page
    assert page.count('class="timeline-lane"') == 2
    assert len(re.findall(r'class="timeline-shot( is-even)?"', page)) == 3
    assert "aria-current" not in page.split('class="timeline"')[1].split("</figure>")[0]
    assert "css/timeline.css" in page


@pytest.mark.parametrize("staff", [False, True])
def test_the_movie_page_says_when_its_file_is_gone(client, user, staff_user, film, tmp_path, staff):
    gone = tmp_path / "archive" / "gala.mp4"
    Movie.objects.filter(pk=film.movie.pk).update(source_path=str(gone), container="mp4")
    client.force_login(staff_user if staff else user)
    response = client.get(film.movie.get_absolute_url())
    assert response.status_code == 200
    page = text(response)
    assert "The video file of this movie is gone." in page
    assert 'class="timeline"' in page  # its appearances are still there to look at
    assert (str(gone) in page) is staff


def test_the_movie_page_says_nothing_of_a_file_that_plays(user_client, film):
    Movie.objects.filter(pk=film.movie.pk).update(source_path=str(HAMILTON_CLIP))
    page = text(user_client.get(film.movie.get_absolute_url()))
    assert "cannot be played here" not in page
    assert Movie.objects.get(pk=film.movie.pk).container == "mp4"  # probed on the way


def test_a_movie_without_appearances_has_no_strip(user_client):
    movie = make_movie("Plain")
    response = user_client.get(movie.get_absolute_url())
    assert response.status_code == 200
    assert 'class="timeline"' not in text(response)


# --- the appearance page ---------------------------------------------------------------------


def test_the_appearance_page_needs_a_login(client, film):
    response = client.get(page_of(film.appearances["anna"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_unknown_appearance_is_404(user_client):
    assert user_client.get("/appearances/999999/").status_code == 404


def test_the_appearance_page_shows_span_frames_and_boxes(user_client, film):
    cara = film.appearances["cara"]
    response = user_client.get(page_of(cara))
    assert response.status_code == 200
    page = text(response)
    assert f"Appearance at {hms(6.0, 1)}" in page
    assert "0:00:06.0\u20130:00:10.2" in page
    # The representative face (its first, by the factory) beside the title.
    crop = Face.objects.get(pk=cara.representative_face_id).thumbnail
    assert f'<img class="face-thumb" src="{crop.url}"' in page
    assert "Shot <strong>2</strong>" in page
    # 21 faces, 24 a page: one box each, plus ben's faces where they share frames (150-200).
    grid = frame_grid(page)
    assert grid.count('class="face-box match"') == 21
    assert grid.count('class="face-box" style') == 11
    frame_links = re.findall(r'<a class="card-link" href="/frames/(\d+)/">', grid)
    assert len(frame_links) == 21
    # The box of cara's face (face 1 of its frames, x 80-120 of 160) over the thumbnail.
    assert "left:50.000%;top:22.222%;width:25.000%;height:55.556%" in page


def test_the_page_marks_the_appearance_on_the_movie_timeline(user_client, film):
    cara = film.appearances["cara"]
    page = text(user_client.get(page_of(cara)))
    strip = page.split('class="timeline"')[1].split("</figure>")[0]
    marked = re.findall(r'<a class="timeline-mark is-marked" href="([^"]+)"', strip)
    assert marked == [page_of(cara)]
    assert strip.count("timeline-mark") == 4
    assert 'class="timeline-cursor" style="left:30.000%"' in strip


def test_previous_and_next_appearances_in_time(user_client, film):
    page = text(user_client.get(page_of(film.appearances["ben"])))
    assert re.search(rf'href="{page_of(film.appearances["anna"])}" rel="prev"', page)
    assert re.search(rf'href="{page_of(film.appearances["cara"])}" rel="next"', page)
    first = text(user_client.get(page_of(film.appearances["anna"])))
    assert 'rel="prev"' not in first


def test_long_appearances_are_paginated(user_client, film):
    dan = film.appearances["dan"]  # 37 faces
    first = text(user_client.get(page_of(dan)))
    assert frame_grid(first).count('class="face-box match"') == 24
    second = text(user_client.get(page_of(dan) + "?page=2"))
    assert frame_grid(second).count('class="face-box match"') == 13
    assert user_client.get(page_of(dan) + "?page=zz").status_code == 200


# --- the player ------------------------------------------------------------------------------


@pytest.fixture
def playable(film, tmp_path) -> Film:
    """The film's movie with a file that plays (the Hamilton clip, H.264 and AAC in MP4)."""
    Movie.objects.filter(pk=film.movie.pk).update(
        source_path=str(HAMILTON_CLIP), container="mp4", video_codec="h264", audio_codec="aac"
    )
    film.movie.refresh_from_db()
    return film


def test_a_playable_movie_opens_at_the_appearance_start(user_client, playable):
    cara = playable.appearances["cara"]
    page = text(user_client.get(page_of(cara)))
    video = re.search(r"<video [^>]*>", page, re.S).group(0)
    assert f'src="/movies/{playable.movie.pk}/video/#t=6.000"' in video
    assert 'data-start="6.000"' in video
    assert "controls" in video and 'preload="metadata"' in video
    first_face = Face.objects.get(pk=cara.representative_face_id)
    assert f'poster="{first_face.frame.image.url}"' in video
    assert 'data-play-from="6.000"' in page
    assert "Play from 0:00:06.0" in page
    assert "js/player.js" in page
    assert "clock runs" not in page  # this file's first frame shows at once


def test_the_player_counts_from_the_files_first_frame(user_client, playable):
    # The file shows its first frame 0.852 s in: cara's first face (6 s) plays at 6.852 s.
    Movie.objects.filter(pk=playable.movie.pk).update(video_start_seconds=0.852)
    page = text(user_client.get(page_of(playable.appearances["cara"])))
    assert f'src="/movies/{playable.movie.pk}/video/#t=6.852"' in page
    assert 'data-play-from="6.852"' in page
    assert "Play from 0:00:06.0" in page  # the page's own times count from the first frame
    assert "The player's clock runs 0.9 s ahead of the times on these pages" in page


def test_a_movie_that_browsers_cannot_play_shows_its_frames_instead(user_client, film, tmp_path):
    path = tmp_path / "film.avi"
    path.write_bytes(b"x")
    Movie.objects.filter(pk=film.movie.pk).update(
        source_path=str(path), container="avi", video_codec="mpeg4", audio_codec="mp3"
    )
    page = text(user_client.get(page_of(film.appearances["anna"])))
    assert "<video" not in page and "player.js" not in page
    assert "AVI files do not play in web browsers." in page
    assert "The frames of this appearance are shown below instead." in page
    assert 'class="frame-figure player-still"' in page
    assert page.count('class="face-box match"') == 11 + 1  # the frames, and the still


@pytest.mark.parametrize("staff", [False, True])
def test_a_gone_file_says_so_and_only_staff_see_where_it_was(
    client, user, staff_user, film, tmp_path, staff
):
    gone = tmp_path / "archive" / "gala.mp4"
    Movie.objects.filter(pk=film.movie.pk).update(source_path=str(gone), container="mp4")
    client.force_login(staff_user if staff else user)
    response = client.get(page_of(film.appearances["anna"]))
    assert response.status_code == 200
    page = text(response)
    assert "The video file of this movie is gone." in page
    assert "<video" not in page
    assert (str(gone) in page) is staff


def test_a_movie_probed_before_the_format_fields_is_probed_on_first_view(user_client, film):
    Movie.objects.filter(pk=film.movie.pk).update(source_path=str(HAMILTON_CLIP))
    assert Movie.objects.get(pk=film.movie.pk).container == ""
    page = text(user_client.get(page_of(film.appearances["anna"])))
    assert "<video" in page
    stored = Movie.objects.get(pk=film.movie.pk)
    assert (stored.container, stored.video_codec, stored.audio_codec) == ("mp4", "h264", "aac")


# --- the search link -------------------------------------------------------------------------


def test_search_with_this_appearance_opens_its_results(user_client, film):
    anna = film.appearances["anna"]
    page = text(user_client.get(page_of(anna)))
    link = f'<a class="button" href="/search/appearance/{anna.pk}/">Search with this appearance</a>'
    assert link in page
    representative = anna.representative_face_id
    assert f'href="/search/face/{representative}/"' in page  # its best face searches too
    results = user_client.get(f"/search/appearance/{anna.pk}/")
    assert results.status_code == 200
    html = text(results)
    assert f'<h2><a href="/appearances/{anna.pk}/">Appearance at 0:00:00.0</a></h2>' in html
    # The appearance itself is the best result, and its mark on the timeline is the query's.
    assert re.search(
        rf'id="result-1" class="result-group[^"]*"[^>]*data-appearance-id="{anna.pk}"', html
    )
    assert re.search(r'class="timeline-mark is-marked" href="#result-1"', html)


def test_pages_show_no_server_path_to_users(user_client, film):
    page = text(user_client.get(page_of(film.appearances["anna"])))
    assert str(Path.cwd()) not in page
