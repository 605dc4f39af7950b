"""Fixtures shared by every test module. Area-specific fixtures live beside their tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VIDEOS = SHARED_DATA / "videos"
FACES = SHARED_DATA / "faces"


@pytest.fixture(autouse=True)
def _private_media_root(settings, tmp_path_factory):
    """Every test writes media into its own temporary folder, never into var/."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


@pytest.fixture(autouse=True)
def _fresh_search_vectors():
    """Each test starts with no in-process search vectors.

    Tests roll their transaction back, and SQLite then hands out the same face ids again: a
    collection kept from an earlier test could look current while holding other vectors.
    """
    from search.backends import forget_cached_vectors

    forget_cached_vectors()
    yield
    forget_cached_vectors()


@pytest.fixture
def password() -> str:
    return "a-long-test-password-42"


@pytest.fixture
def user(django_user_model, password):
    return django_user_model.objects.create_user(username="alice", password=password)


@pytest.fixture
def other_user(django_user_model, password):
    return django_user_model.objects.create_user(username="bob", password=password)


@pytest.fixture
def staff_user(django_user_model, password):
    return django_user_model.objects.create_superuser(
        username="staff", password=password, email="staff@example.com"
    )


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client
