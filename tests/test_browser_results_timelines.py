"""Headless Chromium, the walk of the timelines issue on the real Hamilton rows (shots and
appearances as the ingest built them): movie page -> its timeline -> an appearance's page ->
play from its start -> search with this appearance -> results with timelines -> a mark leads to
its result -> save the search. Then the same pages at a phone's width.

Screenshots go to ``$SCREENSHOT_DIR`` (default: the test's temporary folder).
"""

from __future__ import annotations

import re

import pytest

from faces.models import Appearance
from movies.display import hms
from movies.models import Movie
from tests.test_browser import browser  # noqa: F401  (the module's browser fixture)
from tests.test_browser_playback import (  # noqa: F401  (fixtures)
    DESKTOP,
    PHONE,
    PLAYER_READY,
    SEEK_TO_ZERO,
    open_visitor,
    person,
    shots_folder,
    video_state,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# How far from the appearance's start the player may stand: it seeks to a time, and shows the
# frame at or after it (a frame lasts 1/25 s).
TOLERANCE = 0.05

# The element's top is in the window, below the sticky header.
IN_VIEW = """selector => { const box = document.querySelector(selector).getBoundingClientRect();
    const header = document.querySelector('.site-header').getBoundingClientRect();
    return box.top >= header.bottom && box.top < window.innerHeight; }"""


def test_movie_timeline_appearance_play_search_results_timelines_and_a_mark(
    open_visitor,  # noqa: F811
    hamilton_movie,
    shots_folder,  # noqa: F811
):
    movie = Movie.objects.get(pk=hamilton_movie.pk)
    # Miranda's close-up: the one appearance of the clip's third shot.
    close_up = Appearance.objects.get(movie=movie, shot__index=2)
    start = close_up.start_seconds + movie.video_start_seconds  # on the player's clock
    count = Appearance.objects.filter(movie=movie).count()

    visitor = open_visitor(DESKTOP)
    page = visitor.page
    visitor.open(f"/movies/{movie.pk}/", heading=movie.title)
    assert page.locator(".timeline a.timeline-mark").count() == count
    page.screenshot(path=str(shots_folder / "movie-desktop.png"), full_page=True)

    # The timeline's mark opens the appearance's page ...
    page.locator(f'.timeline a.timeline-mark[href="/appearances/{close_up.pk}/"]').click()
    page.wait_for_url(re.compile(rf"/appearances/{close_up.pk}/$"))
    page.wait_for_function(PLAYER_READY)
    # ... whose player stands at the appearance's start, and plays from there.
    state = video_state(page)
    assert state["error"] is None
    assert abs(state["time"] - start) < TOLERANCE
    page.evaluate(SEEK_TO_ZERO)
    page.get_by_role("button", name=re.compile(r"Play from 0:00:0\d")).click()
    page.wait_for_function(
        "start => { const v = document.querySelector('video#player');"
        " return !v.paused && v.currentTime >= start; }",
        arg=start - TOLERANCE,
    )
    page.evaluate("document.querySelector('video#player').pause()")
    assert visitor.images_loaded(".frame-grid img") > 0
    page.screenshot(path=str(shots_folder / "appearance-desktop.png"), full_page=True)

    # Search with this appearance: results by appearance, each movie's timeline above them.
    with page.expect_navigation():
        page.get_by_role("link", name="Search with this appearance").click()
    assert page.url.endswith(f"/search/appearance/{close_up.pk}/")
    strips = page.locator(".result-timelines .timeline")
    assert strips.count() == 1  # one movie in the library
    assert movie.title in strips.first.locator("h3").inner_text()
    marks = strips.first.locator("a.timeline-mark")
    results = page.locator("li.result-group")
    assert marks.count() == int(page.locator("ul.stats li").nth(1).inner_text().split()[0])
    query_mark = strips.first.locator("a.timeline-mark.is-marked")
    assert query_mark.count() == 1 and query_mark.get_attribute("href") == "#result-1"
    assert results.first.get_attribute("data-appearance-id") == str(close_up.pk)
    for index in range(marks.count()):  # readable: no mark narrower than a few pixels
        box = marks.nth(index).bounding_box()
        assert box["width"] >= 4 and box["height"] >= 12
    visitor.images_loaded(".result-list img")
    page.screenshot(path=str(shots_folder / "results-desktop.png"), full_page=True)

    # A mark leads to its result: the last result on this page, scrolled into view.
    last = results.count()
    mark = strips.first.locator(f'a.timeline-mark[href="#result-{last}"]')
    mark.click()
    page.wait_for_url(re.compile(rf"#result-{last}$"))
    page.wait_for_function(IN_VIEW, arg=f"#result-{last}")
    assert page.evaluate(f"document.querySelector('#result-{last}').matches(':target')")

    # The search is saved like the others, and comes back with its name.
    page.fill("input[name=name]", "Miranda's close-up")
    visitor.submit("Save search")
    assert "Saved search Miranda's close-up" in page.locator(".save-box").inner_text()
    visitor.open("/search/saved/")
    row = page.locator("table tbody tr").filter(has_text="Miranda's close-up")
    span = f"{hms(close_up.start_seconds, 1)}\u2013{hms(close_up.end_seconds, 1)}"
    assert f"Appearance {span} in {movie.title}" in row.inner_text()
    page.screenshot(path=str(shots_folder / "saved-desktop.png"), full_page=True)
    visitor.open(f"/search/appearance/{close_up.pk}/?group=duplicate")
    assert page.locator(".result-timelines a.timeline-mark").count() > 0
    visitor.images_loaded(".result-list img")
    page.screenshot(path=str(shots_folder / "results-duplicate-desktop.png"), full_page=True)
    assert visitor.errors == []

    # The same pages on a phone: nothing scrolls sideways, and a mark can be tapped.
    phone = open_visitor(PHONE, phone=True)
    for name, path in (
        ("movie", f"/movies/{movie.pk}/"),
        ("appearance", f"/appearances/{close_up.pk}/"),
        ("saved", "/search/saved/"),
        ("results", f"/search/appearance/{close_up.pk}/"),
    ):
        phone.open(path)
        if name == "appearance":
            phone.page.wait_for_function(PLAYER_READY)
        phone.images_loaded("img")
        phone.page.screenshot(path=str(shots_folder / f"{name}-phone.png"), full_page=True)
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the {name} page scrolls sideways on a phone"
    phone_mark = phone.page.locator(".result-timelines a.timeline-mark").last
    box = phone_mark.bounding_box()
    assert box["width"] >= 10 and box["height"] >= 20  # a finger's target
    target = phone_mark.get_attribute("href")
    phone_mark.tap()
    if target.startswith("#"):
        phone.page.wait_for_function(IN_VIEW, arg=target)
    else:
        phone.page.wait_for_url(re.compile(re.escape(target.split("#")[1]) + "$"))
    assert phone.errors == []
