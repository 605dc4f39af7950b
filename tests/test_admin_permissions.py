"""Who may run ingests from the movie admin: the ``movies.ingest_movie`` permission ("Can run
ingests"), not merely viewing or changing movies.

A staff member without it sees no Ingest / Re-ingest from scratch / Cancel action, no "queue the
ingest" box on the add form and no "Re-ingest from scratch" box on the change form, and posting
them anyway changes nothing. The jobs go to a real Redis, so a refused action that ran after all
would show in the movie's status.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from movies.ingest import ingest_movie
from movies.models import Movie
from movies.registration import register_movie
from tests.ingest_helpers import faceless_clip

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:movies_movie_changelist"
INGEST_ACTIONS = ("ingest", "reingest_from_scratch", "cancel")


def staff_with(django_user_model, password, username: str, *codenames: str):
    user = django_user_model.objects.create_user(
        username=username, password=password, is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def viewer(django_user_model, password):
    """Staff who may only look at movies."""
    return staff_with(django_user_model, password, "viewer", "view_movie")


@pytest.fixture
def editor(django_user_model, password):
    """Staff who may add and change movies, but not run ingests."""
    return staff_with(
        django_user_model, password, "editor", "view_movie", "add_movie", "change_movie"
    )


@pytest.fixture
def operator(django_user_model, password):
    """Staff who may view movies and run ingests."""
    return staff_with(django_user_model, password, "operator", "view_movie", "ingest_movie")


@pytest.fixture
def movie(tmp_path) -> Movie:
    movie, _ = register_movie(path=faceless_clip(tmp_path / "gradients.mp4"))
    return movie


def offered_actions(client) -> set[str]:
    page = client.get(reverse(CHANGELIST)).content.decode()
    return set(re.findall(r'<option value="(\w+)"', page)) - {""}


def act(client, action: str, movie: Movie):
    return client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [movie.pk]}, follow=True
    )


def test_the_permission_exists_with_a_readable_name():
    permission = Permission.objects.get(codename="ingest_movie")
    assert (permission.content_type.app_label, permission.name) == ("movies", "Can run ingests")


def test_a_view_only_staff_member_gets_no_ingest_action_and_cannot_post_one(
    client, viewer, movie, ingest_queue
):
    client.force_login(viewer)
    assert client.get(reverse(CHANGELIST)).status_code == 200
    assert offered_actions(client).isdisjoint(INGEST_ACTIONS)
    Movie.objects.filter(pk=movie.pk).update(status=Movie.Status.DONE)
    for action in INGEST_ACTIONS:
        response = act(client, action, movie)
        assert response.status_code == 200
        movie.refresh_from_db()
        assert movie.status == Movie.Status.DONE, action
    assert ingest_queue.count == 0


def test_staff_who_may_run_ingests_get_the_actions_and_they_work(
    client, operator, movie, ingest_queue
):
    client.force_login(operator)
    assert set(INGEST_ACTIONS) <= offered_actions(client)
    act(client, "ingest", movie)
    movie.refresh_from_db()
    assert movie.status == Movie.Status.QUEUED
    assert ingest_queue.count == 1
    act(client, "cancel", movie)
    movie.refresh_from_db()
    assert movie.status == Movie.Status.CANCELLED


def test_the_add_form_queues_an_ingest_only_for_staff_who_may_run_one(
    client, editor, operator, tmp_path, settings, ingest_queue, django_capture_on_commit_callbacks
):
    settings.FACEFINDER_IMPORT_DIRS = [str(tmp_path)]
    add = reverse("admin:movies_movie_add")
    editor.user_permissions.add(Permission.objects.get(codename="add_movie"))
    client.force_login(editor)
    assert 'name="ingest_now"' not in client.get(add).content.decode()
    clip = faceless_clip(tmp_path / "first.mp4")
    fields = {"sample_every": 25, "embedder": "dlib-resnet", "min_face": 0.06, "ingest_now": "on"}
    response = client.post(add, {"server_path": str(clip), **fields})
    assert response.status_code == 302
    assert Movie.objects.get(source_path=str(clip)).status == Movie.Status.NEW
    assert ingest_queue.count == 0

    operator.user_permissions.add(Permission.objects.get(codename="add_movie"))
    client.force_login(operator)
    assert 'name="ingest_now"' in client.get(add).content.decode()
    other = faceless_clip(tmp_path / "second.mp4", frames=14)
    # Queued once the new movie's row is committed (a fast worker must find it).
    with django_capture_on_commit_callbacks(execute=True):
        client.post(add, {"server_path": str(other), **fields})
    assert Movie.objects.get(source_path=str(other)).status == Movie.Status.QUEUED


def test_the_change_form_offers_re_ingest_from_scratch_only_to_staff_who_may_run_one(
    client, editor, movie, ingest_queue
):
    change = reverse("admin:movies_movie_change", args=[movie.pk])
    client.force_login(editor)
    page = client.get(change).content.decode()
    assert 'name="title"' in page
    assert 'name="from_scratch"' not in page
    response = client.post(
        change,
        {
            "title": "Renamed",
            "sample_every": movie.sample_every,
            "embedder": movie.embedder,
            "min_face": movie.min_face,
            "from_scratch": "on",
        },
    )
    assert response.status_code == 302
    movie.refresh_from_db()
    assert (movie.title, movie.status) == ("Renamed", Movie.Status.NEW)
    assert ingest_queue.count == 0


def test_superusers_see_the_ingest_fields(staff_client, movie):
    change = reverse("admin:movies_movie_change", args=[movie.pk])
    assert 'name="from_scratch"' in staff_client.get(change).content.decode()
    add = reverse("admin:movies_movie_add")
    assert 'name="ingest_now"' in staff_client.get(add).content.decode()


def test_a_settings_conflict_does_not_point_an_editor_at_a_box_they_lack(client, editor, tmp_path):
    movie, _ = register_movie(
        path=faceless_clip(tmp_path / "gradients.mp4"), sample_every=4, embedder="dlib-resnet"
    )
    assert ingest_movie(movie.pk).status == "done"
    client.force_login(editor)
    data = {"title": movie.title, "sample_every": 2, "embedder": movie.embedder,
            "min_face": movie.min_face}  # fmt: skip
    page = client.post(reverse("admin:movies_movie_change", args=[movie.pk]), data)
    text = page.content.decode()
    assert "someone who may run ingests can re-ingest it from scratch" in text
    assert "tick “Re-ingest from scratch”" not in text
