"""Headless Chromium against a live server: every page a person sees, and the main flow.

Runs Debian's ``chromium`` through Playwright (its own browser download does not work here).
``live_server`` runs in a thread of this process with a transactional test database that is
flushed after each test, so every test builds its own users; the Hamilton clip's rows are
re-inserted per test from the once-per-session ingest (``hamilton_movie``).

Set ``UPDATE_SCREENSHOT=1`` to write the results page of the flow to ``docs/screenshot.png``
(the README shows it); otherwise the screenshot goes to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.shared_data import GROUP_PHOTOS, MIRANDA, shots_of

# Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures and
# by the live server thread are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.usefixtures("duplicate_grouping"), pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[1]
GROUP_PHOTO = GROUP_PHOTOS / "kit_harington_and_rose_leslie.jpg"
CLOSE_UP_FRAME = 100  # a sampled frame of Miranda's close-up (checked against shots.csv below)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Visitor:
    """A browser tab on the live server that records what went wrong on each page."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"script error: {error}"))
        # What the page's events miss, such as the browser's own fetch of /favicon.ico.
        page.on("console", self._check_console)
        page.on("response", self._check_response)

    def _check_response(self, response) -> None:
        if response.status >= 400 and "/favicon.ico" not in response.url:
            self.errors.append(f"{response.status} {response.url}")

    def _check_console(self, message) -> None:
        # Pages that are not HTML (an image, a JSON answer) have no icon: the browser asks.
        if message.type == "error" and "/favicon.ico" not in (message.location.get("url") or ""):
            self.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def open(self, path: str, *, heading: str | None = None):
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status == 200, (path, response.status)
        if heading is not None:
            assert heading in self.page.locator("h1").first.inner_text(), path
        return response

    def submit(self, button: str) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=button, exact=True).click()

    def log_in(self, username: str, password: str) -> None:
        self.open("/accounts/login/", heading="Log in")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.submit("Log in")
        assert "/accounts/login/" not in self.page.url

    def images_loaded(self, selector: str) -> int:
        """Scroll through the page (lazy images) and count images that decoded."""
        self.page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        self.page.wait_for_load_state("networkidle")
        self.page.evaluate("window.scrollTo(0, 0)")
        return self.page.evaluate(
            """selector => [...document.querySelectorAll(selector)]
                .filter(img => img.complete && img.naturalWidth > 0).length""",
            selector,
        )


@pytest.fixture
def visitor(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield Visitor(page, live_server.url)
    context.close()


@pytest.fixture
def person(django_user_model, password):
    return django_user_model.objects.create_user(username="ruth", password=password)


@pytest.fixture
def staff_person(django_user_model, password):
    return django_user_model.objects.create_superuser(
        username="admin", password=password, email="admin@example.com"
    )


def test_flow_log_in_open_movie_click_face_save_search(
    visitor, person, password, hamilton_movie, tmp_path
):
    page = visitor.page
    visitor.log_in(person.username, password)

    # The movies list, then the movie.
    assert page.url.rstrip("/") == visitor.base_url
    page.get_by_role("link", name=hamilton_movie.title, exact=True).first.click()
    page.wait_for_url(re.compile(rf"/movies/{hamilton_movie.pk}/$"))
    assert visitor.images_loaded(".frame-grid img") >= 10

    # A frame of Miranda's close-up, then his face on it.
    wide, close_up = shots_of(MIRANDA)
    assert CLOSE_UP_FRAME in close_up
    page.locator(f'a.card-link:has-text("hamilton_whitehouse_clip.mp4_{CLOSE_UP_FRAME}")').click()
    page.wait_for_url(re.compile(r"/frames/\d+/$"))
    page.locator(".frame-main a.face-box").first.click()
    page.wait_for_url(re.compile(r"/search/face/\d+/$"))

    # Ranked results with near-duplicate groups, images served through the protected view.
    groups = page.locator("li.result-group")
    assert groups.count() >= 3
    assert page.locator("li.duplicate").count() >= 5
    scores = [float(s) for s in page.locator(".score-value").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(1.0)
    assert "hamilton_whitehouse_clip.mp4_" in groups.nth(1).inner_text()
    assert visitor.images_loaded(".result-list img") == page.locator(".result-list img").count()
    box = page.locator(".result-leader .face-box.match").first.bounding_box()
    assert box and box["width"] > 10 and box["height"] > 10

    # The filters: 30 results reach Miranda's wide stage shot too.
    page.fill("input[name=k]", "30")
    visitor.submit("Apply")
    assert "k=30" in page.url
    leaders_text = page.locator("li.result-group").all_inner_texts()
    leader_frames = [int(n) for t in leaders_text for n in re.findall(r"clip\.mp4_(\d+)\b", t)]
    assert any(index in wide for index in leader_frames), leaders_text
    assert visitor.images_loaded(".result-list img") == page.locator(".result-list img").count()

    screenshot = tmp_path / "results.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOT"):
        # 256 colours keep the committed picture small (about 0.6 MB instead of 1.3 MB).
        from PIL import Image

        (REPO / "docs").mkdir(exist_ok=True)
        with Image.open(screenshot) as image:
            image.convert("RGB").quantize(colors=256).save(
                REPO / "docs" / "screenshot.png", optimize=True
            )

    # Save the search, then find it in the saved list.
    page.fill("input[name=name]", "Miranda close-up")
    visitor.submit("Save search")
    assert "Saved search" in page.locator(".save-box").inner_text()
    page.get_by_role("link", name="Saved searches").first.click()
    page.wait_for_url(re.compile(r"/search/saved/$"))
    assert page.get_by_role("link", name="Miranda close-up").count() == 1
    page.get_by_role("link", name="Run").first.click()
    page.wait_for_url(re.compile(r"/search/face/\d+/\?"))
    assert "k=30" in page.url
    assert page.locator("li.result-group").count() == len(leaders_text)
    assert visitor.errors == []


def test_every_page_once(visitor, person, staff_person, password, hamilton_movie, settings):
    """Each page a person sees opens in a real browser without errors."""
    settings.FACEFINDER_EMBEDDER = "dlib-resnet"
    page = visitor.page

    # Anonymous: log in, sign up, password reset; everything else sends to log in.
    visitor.open("/accounts/login/", heading="Log in")
    visitor.open("/accounts/signup/", heading="Create an account")
    visitor.open("/accounts/password_reset/", heading="Forgot your password")
    page.fill("input[name=email]", "nobody@example.com")
    visitor.submit("Send reset link")
    page.goto(visitor.base_url + "/search/saved/")
    assert "/accounts/login/" in page.url

    visitor.log_in(person.username, password)
    visitor.open("/", heading="Movies")
    visitor.open(f"/movies/{hamilton_movie.pk}/", heading=hamilton_movie.title)
    frame = hamilton_movie.frames.get(index=CLOSE_UP_FRAME)
    visitor.open(f"/frames/{frame.pk}/")
    face = frame.faces.first()
    visitor.open(f"/search/face/{face.pk}/?k=30")
    assert page.locator("li.result-group").count() >= 2
    visitor.open(f"/api/search/face/{face.pk}/")  # the JSON API answers in a browser too
    visitor.open("/accounts/password_change/", heading="Change your password")

    # Photo upload with two people: the face choice page, then results for one face.
    visitor.open("/search/photo/", heading="Search by photo")
    page.set_input_files("input[name=photo]", str(GROUP_PHOTO))
    visitor.submit("Find this face")
    assert re.search(r"/search/photo/\d+/$", page.url), page.url
    assert "Which face" in page.locator("h1").inner_text()
    assert page.locator(".photo-figure a.face-box").count() == 2
    assert visitor.images_loaded(".photo-figure img") == 1
    page.locator(".photo-figure a.face-box").nth(1).click()
    page.wait_for_url(re.compile(r"/search/photo/\d+/face/1/$"))
    assert "face 2 of 2" in page.locator(".query-panel").inner_text()

    # Saved searches: save, list, rename, delete with confirmation.
    page.fill("input[name=name]", "Second person")
    visitor.submit("Save search")
    visitor.open("/search/saved/", heading="Saved searches")
    page.get_by_role("link", name="Rename").first.click()
    page.wait_for_url(re.compile(r"/rename/$"))
    page.fill("input[name=name]", "Renamed person")
    visitor.submit("Rename")
    assert page.get_by_role("link", name="Renamed person").count() == 1
    page.get_by_role("link", name="Delete").first.click()
    page.wait_for_url(re.compile(r"/delete/$"))
    assert "Delete “Renamed person”?" in page.locator("h1").inner_text()
    visitor.submit("Delete")
    assert "No saved searches yet" in page.content()

    # Log out (a POST from the header), then the staff side: the admin's movie list.
    visitor.submit("Log out")
    page.goto(visitor.base_url + "/")
    assert "/accounts/login/" in page.url
    visitor.log_in(staff_person.username, password)
    visitor.open("/admin/movies/movie/")
    assert hamilton_movie.title in page.content()
    visitor.open("/admin/movies/movie/add/")
    visitor.open(f"/admin/movies/movie/{hamilton_movie.pk}/change/")
    visitor.open("/admin/movies/frame/")
    assert visitor.images_loaded("#result_list img") >= 10
    visitor.open(f"/admin/movies/frame/{frame.pk}/change/")
    visitor.open("/admin/faces/face/")
    assert visitor.images_loaded("#result_list img") >= 10
    visitor.open(f"/admin/faces/face/{face.pk}/change/")
    visitor.open("/admin/search/savedsearch/")
    visitor.open("/admin/search/queryphoto/")
    assert visitor.errors == []
