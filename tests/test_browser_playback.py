"""Headless Chromium: movie page -> timeline -> appearance page -> play from the appearance's
start; each container the player is offered for plays through ``/movies/<id>/video/``.

Shots and appearances are the real pipeline's (the ``hamilton_movie`` fixture). Screenshots of
each page at desktop and phone widths go to ``$SCREENSHOT_DIR`` (default: the test's temporary
folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from faces.models import Appearance
from movies.models import Movie
from tests.appearance_helpers import make_film
from tests.ingest_helpers import ffmpeg, needs_ffmpeg
from tests.test_browser import Visitor, browser  # noqa: F401  (the module's browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

SEEK_TO_ZERO = """() => new Promise(done => {
    const video = document.querySelector('video#player');
    video.addEventListener('seeked', done, {once: true});
    video.currentTime = 0;
})"""
PLAYER_READY = """() => {
    const video = document.querySelector('video#player');
    return video && video.readyState >= 1 && !video.seeking;
}"""


@pytest.fixture
def person(django_user_model, password):
    return django_user_model.objects.create_user(username="ruth", password=password)


@pytest.fixture
def open_visitor(browser, live_server, person, password):  # noqa: F811
    """A logged-in tab of the given viewport; closed after the test."""
    contexts = []

    def make(viewport: dict, *, phone: bool = False) -> Visitor:
        context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        visitor = Visitor(page, live_server.url)
        visitor.log_in(person.username, password)
        return visitor

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shots_folder(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def video_state(page) -> dict:
    return page.evaluate(
        """() => { const v = document.querySelector('video#player');
            return {time: v.currentTime, paused: v.paused, width: v.videoWidth,
                    error: v.error && v.error.code}; }"""
    )


def test_movie_page_timeline_appearance_page_and_play_from_its_start(
    open_visitor, hamilton_movie, shots_folder
):
    appearances = list(Appearance.objects.filter(movie=hamilton_movie).select_related("shot"))
    # Miranda's close-up: the longest appearance of the third shot (frames 82-210).
    close_up = max(
        (appearance for appearance in appearances if appearance.shot.index == 2),
        key=lambda appearance: appearance.face_count,
    )
    start = close_up.start_seconds
    assert start > 2.5
    movie = Movie.objects.get(pk=hamilton_movie.pk)
    # The clip's first frame shows 0.852 s in: the player's clock runs that much ahead.
    offset, fps = movie.video_start_seconds, movie.fps
    assert offset > 0.8

    visitor = open_visitor(DESKTOP)
    page = visitor.page
    visitor.open(f"/movies/{hamilton_movie.pk}/", heading=hamilton_movie.title)
    assert page.locator(".timeline a.timeline-mark").count() == len(appearances)
    assert page.locator(".timeline-shot").count() == 4
    page.screenshot(path=str(shots_folder / "movie-desktop.png"), full_page=True)

    # The timeline's mark of the close-up opens its appearance page, marked on the timeline.
    page.locator(f'.timeline a.timeline-mark[href="/appearances/{close_up.pk}/"]').click()
    page.wait_for_url(re.compile(rf"/appearances/{close_up.pk}/$"))
    assert "Appearance at 0:00:0" in page.locator("h1").inner_text()
    marked = page.locator(".timeline a.timeline-mark.is-marked")
    assert marked.count() == 1
    assert marked.get_attribute("href") == f"/appearances/{close_up.pk}/"
    assert visitor.images_loaded(".frame-grid img") == min(24, close_up.face_count)

    # The player opens at the appearance's start (the #t= fragment, or player.js) ...
    page.wait_for_function(PLAYER_READY)
    state = video_state(page)
    assert state["error"] is None
    assert state["time"] == pytest.approx(start + offset, abs=0.002)
    visitor.images_loaded(".frame-grid img")
    page.screenshot(path=str(shots_folder / "appearance-desktop.png"), full_page=True)

    # ... and "Play from" goes back there from anywhere and plays: the first picture shown is
    # the appearance's first frame, picture and all.
    page.evaluate(SEEK_TO_ZERO)
    page.evaluate(
        "() => { const v = document.querySelector('video#player'); window.shownFrame ="
        " new Promise(done => v.requestVideoFrameCallback((now, frame) => done(frame))); }"
    )
    page.get_by_role("button", name=re.compile(r"Play from 0:00:0\d")).click()
    shown = page.evaluate("window.shownFrame")
    assert round((shown["mediaTime"] - offset) * fps) == close_up.first_frame_index
    assert shown["width"] == 640
    page.wait_for_function(
        "start => { const v = document.querySelector('video#player');"
        " return !v.paused && v.currentTime > start + 0.2; }",
        arg=start + offset,
    )
    assert visitor.errors == []

    # The same pages on a phone.
    phone = open_visitor(PHONE, phone=True)
    phone.open(f"/movies/{hamilton_movie.pk}/")
    phone.page.screenshot(path=str(shots_folder / "movie-phone.png"), full_page=True)
    strip = phone.page.locator(".timeline").bounding_box()
    assert strip["width"] <= PHONE["width"]
    phone.open(f"/appearances/{close_up.pk}/")
    phone.page.wait_for_function(PLAYER_READY)
    phone.images_loaded(".frame-grid img")
    phone.page.screenshot(path=str(shots_folder / "appearance-phone.png"), full_page=True)
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the page scrolls sideways on a phone"
    assert phone.errors == []


@needs_ffmpeg
@pytest.mark.parametrize(
    ("suffix", "container"),
    [(".mp4", "mp4"), (".mkv", "matroska"), (".mov", "mov"), (".webm", "webm")],
)
def test_each_container_offered_to_the_player_plays_through_the_video_view(
    open_visitor, clips, tmp_path, db, suffix, container
):
    if suffix == ".webm":
        path = tmp_path / "miranda.webm"
        ffmpeg(
            "-i", str(clips.miranda(tmp_path)), "-c:v", "libvpx-vp9", "-deadline", "realtime",
            "-pix_fmt", "yuv420p", str(path),
        )  # fmt: skip
        codec = "vp9"
    else:
        path, codec = clips.miranda(tmp_path, suffix), "h264"
    film = make_film(source_path=str(path), container=container, video_codec=codec)
    assert Movie.objects.get(pk=film.movie.pk).container == container
    anna: Appearance = film.appearances["anna"]

    visitor = open_visitor(DESKTOP)
    visitor.open(f"/appearances/{anna.pk}/")
    visitor.page.wait_for_function(
        "() => { const v = document.querySelector('video#player');"
        " return v.error || (v.readyState >= 2 && v.videoWidth > 0); }"
    )
    state = video_state(visitor.page)
    assert state["error"] is None and state["width"] > 0
    assert visitor.page.locator("#player-status").is_hidden()
    assert visitor.errors == []


def test_a_movie_that_does_not_play_shows_frames_and_says_why(
    open_visitor, hamilton_movie, shots_folder
):
    appearances = list(Appearance.objects.filter(movie=hamilton_movie).select_related("shot"))
    Movie.objects.filter(pk=hamilton_movie.pk).update(video_codec="hevc")
    visitor = open_visitor(DESKTOP)
    visitor.open(f"/appearances/{appearances[0].pk}/")
    assert visitor.page.locator("video").count() == 0
    assert "HEVC (H.265) video plays only where" in visitor.page.locator(".player").inner_text()
    assert visitor.images_loaded(".player-still img") == 1
    visitor.page.screenshot(path=str(shots_folder / "appearance-unplayable.png"), full_page=True)
    phone = open_visitor(PHONE, phone=True)
    phone.open(f"/appearances/{appearances[0].pk}/")
    phone.page.screenshot(
        path=str(shots_folder / "appearance-unplayable-phone.png"), full_page=True
    )
    assert visitor.errors == [] and phone.errors == []
