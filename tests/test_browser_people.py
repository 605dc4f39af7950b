"""The people pages in headless Chromium, at desktop and phone width: the grid, a person's page,
the search with a person and the movie's cast strip, on the Hamilton clip's people as its real
ingest made them."""

from __future__ import annotations

import re

import pytest

from faces.models import Appearance, Person
from tests.test_browser import Visitor, browser  # noqa: F401  (the module's browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORTS = {
    "desktop": ({"width": 1280, "height": 900}, False),
    "phone": ({"width": 390, "height": 844}, True),
}


@pytest.fixture
def person(django_user_model, password):
    return django_user_model.objects.create_user(username="ruth", password=password)


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_people_grid_person_page_and_cast_strip(
    browser,  # noqa: F811
    live_server,
    person,
    password,
    hamilton_movie,
    width,
    tmp_path,
):
    viewport, phone = VIEWPORTS[width]
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        visitor = Visitor(page, live_server.url)
        visitor.log_in(person.username, password)
        miranda = Appearance.objects.get(movie=hamilton_movie, shot__index=2).person
        Person.objects.filter(pk=miranda.pk).update(name="Lin-Manuel Miranda")

        visitor.open("/people/", heading="People")
        cards = page.locator(".person-card")
        assert cards.count() == Person.objects.filter(hidden=False).count()
        assert visitor.images_loaded(".person-card img") == cards.count()
        # Miranda is on screen longest: first.
        assert "Lin-Manuel Miranda" in cards.first.inner_text()
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow, "the grid is wider than the screen"

        cards.first.click()
        page.wait_for_url(re.compile(rf"/people/{miranda.pk}/$"))
        assert "Lin-Manuel Miranda" in page.locator("h1").inner_text()
        shown = page.locator(".person-appearance")
        assert shown.count() == Appearance.objects.filter(person=miranda).count() == 2
        assert visitor.images_loaded(".person-appearance img") == 2
        # The movie's strip marks both appearances, each a link to its page.
        marks = page.locator(".person-movie .timeline a.timeline-mark")
        assert marks.count() == 2
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow, "the person page is wider than the screen"
        page.screenshot(path=str(tmp_path / f"person-{width}.png"), full_page=True)
        shown.first.get_by_role("link", name="Frames").click()
        page.wait_for_url(re.compile(r"/appearances/\d+/$"))

        visitor.open(f"/search/person/{miranda.pk}/", heading="Where this person appears")
        assert page.locator(".same-person").count() >= 2  # his own two appearances
        assert "Lin-Manuel Miranda" in page.locator(".result-person").first.inner_text()

        visitor.open(f"/movies/{hamilton_movie.pk}/")
        strip = page.locator(".cast-strip li")
        assert strip.count() == Person.objects.filter(hidden=False).count()
        assert "Lin-Manuel Miranda" in strip.first.inner_text()
        spilled = page.evaluate(
            "[...document.querySelectorAll('.cast-strip li')]"
            ".filter(li => li.scrollWidth > li.clientWidth + 1).length"
        )
        assert spilled == 0, "a name or screen time runs out of its cast item"
        assert not visitor.errors, visitor.errors
    finally:
        context.close()
