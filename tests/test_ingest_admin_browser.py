"""The movie admin's status and progress bar follow the ingest without a page reload
(headless Chromium against a live server)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
playwright_sync = pytest.importorskip("playwright.sync_api")

from movies.models import Movie  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def page(live_server, staff_user, client):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    client.force_login(staff_user)
    session = client.cookies["sessionid"].value
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context()
        context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        browser.close()
        assert errors == []


def test_progress_and_status_update_without_a_reload(page, live_server):
    movie = Movie.objects.create(title="Running movie", status=Movie.Status.RUNNING, progress=0.2)
    page.goto(f"{live_server.url}/admin/movies/movie/")
    bar = f'[data-ingest-progress="{movie.pk}"] progress'
    status = f'[data-ingest-movie="{movie.pk}"]'
    assert page.eval_on_selector(bar, "el => el.value") == 20
    assert page.inner_text(status) == "Ingesting"

    Movie.objects.filter(pk=movie.pk).update(progress=0.7, frames_sampled=14, faces_found=9)
    page.wait_for_function(f"document.querySelector('{bar}').value === 70", timeout=20_000)
    row = page.locator(f"tr:has({status})")
    assert row.locator(".field-frames_sampled").inner_text() == "14"

    Movie.objects.filter(pk=movie.pk).update(
        status=Movie.Status.FAILED, last_error="truncated or damaged: only 10 of 20 frames"
    )
    page.wait_for_function(
        f"document.querySelector('{status}').textContent === 'Failed'", timeout=20_000
    )
    assert "truncated or damaged" in row.locator(".ingest-error").inner_text()
