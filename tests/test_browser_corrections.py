"""Corrections that last, in headless Chromium on the Hamilton clip's real people: name one,
split one, merge two and take an appearance away through the person pages' forms; then
re-cluster and re-ingest the movie from scratch (the real pipeline: every appearance gets a
new id), reload, and find every correction still there; undo one and see it undone.

The clip's people as its ingest makes them: A in shot 1 (face 0) and shot 2; Miranda in
shot 1 (face 1) and shot 3; three people side by side in shot 4."""

from __future__ import annotations

import re
import shutil

import pytest
from django.contrib.auth.models import Permission

from faces.models import Appearance, Person
from faces.recluster import recluster
from movies.ingest import ingest_movie
from tests.test_browser import Visitor, browser  # noqa: F401  (the module's browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def editor(django_user_model, password):
    user = django_user_model.objects.create_user(username="dana", password=password)
    user.user_permissions.add(Permission.objects.get(codename="change_person"))
    return user


def at(movie, shot: int, face: int) -> Appearance:
    """The movie's appearance of ``shot`` (0-based) that starts with face ``face``, by where
    it is: ids change with every re-ingest."""
    return Appearance.objects.filter(movie=movie, shot__index=shot, first_face_index=face).earliest(
        "start_seconds"
    )


def shown_ids(page) -> set[int]:
    items = page.locator(".person-appearance")
    return {int(items.nth(i).get_attribute("data-appearance-id")) for i in range(items.count())}


def post(page, locator) -> None:
    with page.expect_navigation():
        locator.click()


def test_corrections_survive_recluster_and_reingest_and_undo(
    browser,  # noqa: F811
    live_server,
    editor,
    password,
    hamilton_movie,
    settings,
    tmp_path,
):
    # The re-ingest writes media: into a copy, not the session's shared folder.
    shutil.copytree(settings.MEDIA_ROOT, tmp_path / "media")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    movie = hamilton_movie
    a, miranda = at(movie, 0, 0).person, at(movie, 2, 0).person
    side = at(movie, 3, 2).person
    assert at(movie, 1, 0).person == a and at(movie, 0, 1).person == miranda
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        visitor = Visitor(page, live_server.url)
        visitor.log_in(editor.username, password)

        # Name Miranda.
        visitor.open(f"/people/{miranda.pk}/")
        page.fill("#rename-name", "Lin-Manuel Miranda")
        visitor.submit("Save name")
        assert "Lin-Manuel Miranda" in page.locator("h1").inner_text()
        assert "named “Lin-Manuel Miranda”" in page.locator(".messages").inner_text()

        # Not this person: shot 1's second face is not Miranda.
        wrong = at(movie, 0, 1)
        post(page, page.locator(f'li[data-appearance-id="{wrong.pk}"] button'))
        assert shown_ids(page) == {at(movie, 2, 0).pk}

        # Split: A's shot 2 appearance goes to a new person.
        visitor.open(f"/people/{a.pk}/")
        page.check(f'input[name=appearances][value="{at(movie, 1, 0).pk}"]')
        visitor.submit("Move the ticked appearances")
        assert "moved to a new person" in page.locator(".messages").inner_text()
        new = at(movie, 1, 0).person
        assert new not in (None, a) and shown_ids(page) == {at(movie, 0, 0).pk}

        # Merge the third person of shot 4 into A.
        page.fill("#merge-other", str(side.pk))
        visitor.submit("Merge")
        assert shown_ids(page) == {at(movie, 0, 0).pk, at(movie, 3, 2).pk}
        history = page.locator(".history-item")
        assert history.count() == 2 and "merged into" in history.first.inner_text()

        # Re-cluster, then re-ingest from scratch: new appearance rows, new ids.
        old_ids = set(Appearance.objects.filter(movie=movie).values_list("pk", flat=True))
        recluster("dlib-resnet")
        assert ingest_movie(movie.pk, from_scratch=True).status == "done"
        assert not old_ids & set(
            Appearance.objects.filter(movie=movie).values_list("pk", flat=True)
        )

        visitor.open(f"/people/{miranda.pk}/")
        assert "Lin-Manuel Miranda" in page.locator("h1").inner_text()
        assert shown_ids(page) == {at(movie, 2, 0).pk}  # the rejected one stayed away
        assert at(movie, 0, 1).person_id != miranda.pk
        visitor.open(f"/people/{new.pk}/")
        assert shown_ids(page) == {at(movie, 1, 0).pk}
        page.goto(f"{live_server.url}/people/{side.pk}/")
        page.wait_for_url(re.compile(rf"/people/{a.pk}/$"))
        assert "was merged into" in page.locator(".messages").inner_text()
        assert shown_ids(page) == {at(movie, 0, 0).pk, at(movie, 3, 2).pk}

        # Undo the merge (the latest of A's corrections) in the browser.
        undo = page.get_by_role("button", name=re.compile(r"^Undo: .*merged into"))
        assert undo.count() == 1
        post(page, undo)
        assert "Undone:" in page.locator(".messages").inner_text()
        assert shown_ids(page) == {at(movie, 0, 0).pk}
        assert "undone by dana" in page.locator(".history-item").first.inner_text()
        visitor.open(f"/people/{side.pk}/")
        assert shown_ids(page) == {at(movie, 3, 2).pk}
        assert Person.objects.get(pk=side.pk).merged_into_id is None
        assert not visitor.errors, visitor.errors
    finally:
        context.close()
