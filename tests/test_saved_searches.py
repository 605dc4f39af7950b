"""Saved searches: save, list, re-run, rename, delete — and invisible to everybody else."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from faces import corrections
from faces.models import Appearance
from search.models import QueryPhoto, SavedSearch
from tests.appearance_helpers import make_film
from tests.correction_helpers import Two, two_people
from tests.factories import make_query_photo

# These tests check the near-duplicate grouping (group=duplicate).
pytestmark = pytest.mark.usefixtures("duplicate_grouping")


def save(client, **data):
    return client.post(reverse("search:saved-create"), data)


@pytest.fixture
def saved(user, library) -> SavedSearch:
    return SavedSearch.objects.create(
        owner=user, name="Anna everywhere", face=library.first("anna"), k=30, min_score=0.5
    )


def test_save_a_face_search_then_find_it_in_the_list(user_client, user, library):
    face = library.first("anna")
    response = save(
        user_client, name="Anna", face=face.pk, k=25, movie=library.movie.pk, min_score="0.4"
    )
    saved = SavedSearch.objects.get(owner=user)
    assert (saved.name, saved.face_id, saved.k, saved.movie_id, saved.min_score) == (
        "Anna",
        face.pk,
        25,
        library.movie.pk,
        0.4,
    )
    # Saving lands on the saved search's results, filters included.
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert location.path == reverse("search:face", args=[face.pk])
    assert parse_qs(location.query) == {
        "k": ["25"],
        "movie": [str(library.movie.pk)],
        "min_score": ["0.4"],
        "saved": [str(saved.pk)],
    }
    page = user_client.get(response["Location"])
    assert page.status_code == 200
    assert "Saved search <strong>Anna</strong>" in page.content.decode()

    listing = user_client.get(reverse("search:saved-list")).content.decode()
    assert "Anna" in listing
    assert reverse("search:saved-run", args=[saved.pk]) in listing
    assert reverse("search:saved-rename", args=[saved.pk]) in listing
    assert reverse("search:saved-delete", args=[saved.pk]) in listing


def test_rerun_redirects_to_the_results_with_its_filters(user_client, saved):
    response = user_client.get(reverse("search:saved-run", args=[saved.pk]))
    assert response.status_code == 302
    assert response["Location"] == saved.get_results_url()
    results = user_client.get(response["Location"])
    assert results.status_code == 200
    assert 'name="k" value="30"' in results.content.decode()


def test_a_search_grouped_by_near_duplicates_is_saved_so(user_client, user, library):
    """The results page's save form carries the grouping it shows; the saved search re-runs
    with it and the list says so."""
    face = library.first("anna")
    results = user_client.get(reverse("search:face", args=[face.pk]), {"group": "appearance"})
    assert '<input type="hidden" name="group" value="appearance"' in results.content.decode()
    results = user_client.get(reverse("search:face", args=[face.pk]), {"group": "duplicate"})
    assert '<input type="hidden" name="group" value="duplicate"' in results.content.decode()
    response = save(user_client, name="Anna twins", face=face.pk, k=10, group="duplicate")
    saved = SavedSearch.objects.get(owner=user)
    assert saved.group == "duplicate"
    assert parse_qs(urlparse(response["Location"]).query)["group"] == ["duplicate"]
    rerun = user_client.get(saved.get_absolute_url(), follow=True).content.decode()
    assert '<option value="duplicate" selected>' in rerun
    assert "· by near-duplicate" in user_client.get(reverse("search:saved-list")).content.decode()
    bad = save(user_client, name="Odd", face=face.pk, group="by-colour")
    assert bad.status_code == 302 and not SavedSearch.objects.filter(name="Odd").exists()


def test_saving_needs_a_name_and_a_query(user_client, user, library):
    face = library.first("anna")
    back = reverse("search:face", args=[face.pk])
    response = save(user_client, name="  ", face=face.pk, next=back)
    assert response["Location"] == back
    response = save(user_client, name="no query")
    assert not SavedSearch.objects.exists()
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("needs one face, one photo, one appearance or one person" in m for m in messages)


@pytest.mark.parametrize(
    "back", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:alert(1)"]
)
def test_a_failed_save_never_leaves_the_site(user_client, library, back):
    response = save(user_client, name="  ", face=library.first("anna").pk, next=back)
    assert response.status_code == 302
    assert response["Location"] == reverse("search:saved-list")


@pytest.mark.parametrize("value", ["²", "1²", "abc", "-1", " 1"])
def test_a_malformed_saved_parameter_is_ignored(user_client, saved, value):
    url = f"{reverse('search:face', args=[saved.face_id])}?{urlencode({'saved': value})}"
    response = user_client.get(url)
    assert response.status_code == 200
    assert "Saved search <strong>" not in response.content.decode()


def test_names_are_unique_per_owner(user_client, user, other_user, saved, library):
    face = library.first("ben")
    save(user_client, name=saved.name, face=face.pk)
    assert SavedSearch.objects.filter(owner=user).count() == 1
    # Another user may use the same name.
    SavedSearch.objects.create(owner=other_user, name=saved.name, face=face)
    response = user_client.post(
        reverse("search:saved-rename", args=[saved.pk]), {"name": saved.name}
    )
    assert response.status_code == 302  # renaming to its own name is fine


def test_rename(user_client, saved):
    url = reverse("search:saved-rename", args=[saved.pk])
    page = user_client.get(url)
    assert page.status_code == 200
    assert 'value="Anna everywhere"' in page.content.decode()
    response = user_client.post(url, {"name": "Anna, renamed"})
    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.name == "Anna, renamed"
    empty = user_client.post(url, {"name": ""})
    assert empty.status_code == 200
    assert "errorlist" in empty.content.decode()


def test_delete_asks_first_then_deletes_on_post(user_client, saved):
    url = reverse("search:saved-delete", args=[saved.pk])
    page = user_client.get(url)
    assert page.status_code == 200
    assert "Delete “Anna everywhere”?" in page.content.decode()
    assert SavedSearch.objects.filter(pk=saved.pk).exists()  # GET changes nothing
    response = user_client.post(url)
    assert response.status_code == 302
    assert not SavedSearch.objects.filter(pk=saved.pk).exists()


def test_other_users_saved_searches_are_invisible_and_unreachable(client, other_user, saved):
    client.force_login(other_user)
    listing = client.get(reverse("search:saved-list")).content.decode()
    assert saved.name not in listing
    assert "No saved searches yet" in listing
    for name in ("saved-run", "saved-rename", "saved-delete"):
        url = reverse(f"search:{name}", args=[saved.pk])
        assert client.get(url).status_code == 404, name
        if name != "saved-run":  # re-running is GET only
            assert client.post(url, {"name": "stolen"}).status_code == 404, name
    assert SavedSearch.objects.filter(pk=saved.pk).exists()
    saved.refresh_from_db()
    assert saved.name == "Anna everywhere"
    # Naming another user's saved search in a results URL shows nothing of it.
    page = client.get(saved.get_results_url()).content.decode()
    assert "Anna everywhere" not in page


def test_unknown_saved_search_is_a_404(user_client, saved):
    assert user_client.get(reverse("search:saved-run", args=[saved.pk + 1000])).status_code == 404


def test_photo_search_is_saved_and_cannot_borrow_another_users_photo(
    user_client, user, other_user, library
):
    theirs = make_query_photo(other_user, library.first("anna"))
    save(user_client, name="theirs", photo=theirs.pk, photo_face_index=0)
    assert not SavedSearch.objects.exists()

    mine = make_query_photo(user, library.first("anna"))
    save(user_client, name="bad index", photo=mine.pk, photo_face_index=3)
    assert not SavedSearch.objects.exists()

    response = save(user_client, name="mine", photo=mine.pk, photo_face_index=0, k=10)
    saved = SavedSearch.objects.get()
    assert saved.photo == mine and saved.photo_face_index == 0
    assert response["Location"] == saved.get_results_url()
    page = user_client.get(response["Location"])
    assert page.status_code == 200
    assert "Your photo" in page.content.decode()


def test_deleting_the_last_saved_search_of_a_photo_deletes_the_photo(user_client, user, library):
    photo = make_query_photo(user, library.first("anna"))
    first = SavedSearch.objects.create(owner=user, name="one", photo=photo, photo_face_index=0)
    second = SavedSearch.objects.create(owner=user, name="two", photo=photo, photo_face_index=0)
    file_name = photo.image.name
    assert default_storage.exists(file_name)

    user_client.post(reverse("search:saved-delete", args=[first.pk]))
    assert QueryPhoto.objects.filter(pk=photo.pk).exists()  # still used by "two"
    assert default_storage.exists(file_name)

    user_client.post(reverse("search:saved-delete", args=[second.pk]))
    assert not QueryPhoto.objects.filter(pk=photo.pk).exists()
    assert not default_storage.exists(file_name)


def test_saved_search_list_is_empty_state_when_none(user_client, db):
    page = user_client.get(reverse("search:saved-list"))
    assert page.status_code == 200
    assert "No saved searches yet" in page.content.decode()


def test_saved_list_reads_rows_without_n_plus_one(
    user_client, user, library, django_assert_max_num_queries
):
    faces = library.faces["anna"]
    for i, face_id in enumerate(faces):
        SavedSearch.objects.create(owner=user, name=f"s{i}", face_id=face_id)
    with django_assert_max_num_queries(6):
        page = user_client.get(reverse("search:saved-list"))
    assert page.content.decode().count("synthetic.mp4_") >= len(faces)


def test_admin_lists_saved_searches_and_photos(staff_client, user, saved, library):
    photo = make_query_photo(user, library.first("ben"))
    for url in (
        reverse("admin:search_savedsearch_changelist"),
        reverse("admin:search_queryphoto_changelist"),
        reverse("admin:search_savedsearch_change", args=[saved.pk]),
        reverse("admin:search_queryphoto_change", args=[photo.pk]),
    ):
        response = staff_client.get(url)
        assert response.status_code == 200, url
    assert (
        "Anna everywhere"
        in staff_client.get(reverse("admin:search_savedsearch_changelist")).content.decode()
    )


def test_admin_is_staff_only(user_client, saved):
    response = user_client.get(reverse("admin:search_savedsearch_changelist"))
    assert response.status_code == 302


# --- searches with an appearance -------------------------------------------------------------


@pytest.fixture
def film(db):
    return make_film()


def test_an_appearance_search_offers_to_be_saved_and_is_saved(user_client, user, film):
    ben = film.appearances["ben"]
    page = user_client.get(reverse("search:appearance", args=[ben.pk])).content.decode()
    assert f'name="appearance" value="{ben.pk}"' in page
    assert 'value="Appearance 0:00:04.0\u20130:00:08.2 in Gala"' in page  # the default name
    response = save(user_client, name="Ben", appearance=ben.pk, k=3, min_score="0.2")
    saved = SavedSearch.objects.get(owner=user)
    assert (saved.kind, saved.appearance_id, saved.face_id, saved.photo_id) == (
        "appearance", ben.pk, None, None,
    )  # fmt: skip
    location = urlparse(response["Location"])
    assert location.path == reverse("search:appearance", args=[ben.pk])
    assert parse_qs(location.query) == {"k": ["3"], "min_score": ["0.2"], "saved": [str(saved.pk)]}
    results = user_client.get(response["Location"]).content.decode()
    assert "Saved search <strong>Ben</strong>" in results
    assert 'name="k" value="3"' in results
    listing = user_client.get(reverse("search:saved-list")).content.decode()
    assert f'<a href="/appearances/{ben.pk}/">0:00:04.0\u20130:00:08.2</a> in Gala' in listing
    rerun = user_client.get(reverse("search:saved-run", args=[saved.pk]))
    assert rerun["Location"] == saved.get_results_url()


def test_a_saved_appearance_search_is_its_owners_alone(client, user, other_user, film):
    saved = SavedSearch.objects.create(owner=user, name="Cara", appearance=film.appearances["cara"])
    client.force_login(other_user)
    assert "Cara" not in client.get(reverse("search:saved-list")).content.decode()
    for name in ("saved-run", "saved-rename", "saved-delete"):
        assert client.get(reverse(f"search:{name}", args=[saved.pk])).status_code == 404
    page = client.get(saved.get_results_url()).content.decode()
    assert "Saved search <strong>" not in page


def test_saving_with_an_appearance_that_is_gone_says_so(user_client, user, film):
    gone = film.appearances["dan"].pk
    Appearance.objects.filter(pk=gone).delete()
    response = save(user_client, name="Dan", appearance=gone)
    assert not SavedSearch.objects.exists()
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("That appearance no longer exists" in m for m in messages)
    both = save(user_client, name="Two", appearance=film.appearances["ben"].pk, face=1)
    assert not SavedSearch.objects.exists() and both.status_code == 302


def test_a_search_whose_appearance_was_rebuilt_away_stays_and_says_why(user_client, user, film):
    """Rebuilding a movie's appearances replaces them: the saved search keeps its name and
    filters, is listed as gone, and re-running it explains instead of failing."""
    saved = SavedSearch.objects.create(
        owner=user, name="Anna", appearance=film.appearances["anna"], k=7
    )
    Appearance.objects.filter(movie=film.movie).delete()  # what a rebuild starts with
    saved.refresh_from_db()
    assert (saved.kind, saved.appearance_id, saved.k) == ("appearance", None, 7)
    assert saved.query_gone and saved.get_results_url() is None
    listing = user_client.get(reverse("search:saved-list"))
    assert listing.status_code == 200
    assert "An appearance that no longer exists" in listing.content.decode()
    response = user_client.get(reverse("search:saved-run", args=[saved.pk]), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(reverse("search:saved-list"), 302)]
    page = response.content.decode()
    assert "“Anna” cannot run: the appearance it searched with no longer exists" in page
    # Renaming and deleting still work.
    rename = user_client.post(reverse("search:saved-rename", args=[saved.pk]), {"name": "Old"})
    assert rename.status_code == 302
    user_client.post(reverse("search:saved-delete", args=[saved.pk]))
    assert not SavedSearch.objects.exists()


def test_the_kind_follows_the_query(user, library, film):
    photo = make_query_photo(user, library.first("anna"))
    by_photo = SavedSearch.objects.create(owner=user, name="p", photo=photo, photo_face_index=0)
    by_face = SavedSearch.objects.create(owner=user, name="f", face=library.first("ben"))
    by_appearance = SavedSearch.objects.create(
        owner=user, name="a", appearance=film.appearances["ben"]
    )
    assert [by_photo.kind, by_face.kind, by_appearance.kind] == ["photo", "face", "appearance"]


# --- Person searches ---------------------------------------------------------------------------


@pytest.fixture
def two() -> Two:
    return two_people()


def test_a_person_search_is_saved_and_follows_a_rename_and_a_merge(user_client, user, two):
    page = user_client.get(reverse("search:person", args=[two.ben.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'name="person" value="{two.ben.pk}"' in html
    assert f'value="Unnamed person {two.ben.pk}"' in html  # the default name
    response = save(user_client, name="Ben", person=two.ben.pk, k=5)
    saved = SavedSearch.objects.get(owner=user)
    assert (saved.kind, saved.person_id, saved.face_id, saved.appearance_id) == (
        "person", two.ben.pk, None, None,
    )  # fmt: skip
    assert urlparse(response["Location"]).path == reverse("search:person", args=[two.ben.pk])
    shown = user_client.get(response["Location"]).content.decode()
    assert "Saved search <strong>Ben</strong>" in shown

    corrections.rename(two.ben, "Benjamin")
    assert urlparse(saved.get_results_url()).path == reverse("search:person", args=[two.ben.pk])
    listing = user_client.get(reverse("search:saved-list")).content.decode()
    assert f'Person <a href="/people/{two.ben.pk}/">Benjamin</a>' in listing

    corrections.merge(two.anna, two.ben, name="Anna")
    saved.refresh_from_db()
    assert saved.person_id == two.ben.pk  # kept: undoing the merge gives the search back
    rerun = user_client.get(reverse("search:saved-run", args=[saved.pk]))
    location = urlparse(rerun["Location"])
    assert location.path == reverse("search:person", args=[two.anna.pk])
    assert parse_qs(location.query) == {"k": ["5"], "saved": [str(saved.pk)]}
    results = user_client.get(rerun["Location"])
    assert results.status_code == 200
    assert "Saved search <strong>Ben</strong>" in results.content.decode()
    assert results.context["person"].pk == two.anna.pk


def test_the_results_page_of_a_merged_person_redirects_to_the_survivor(user_client, two):
    corrections.merge(two.anna, two.ben)
    response = user_client.get(reverse("search:person", args=[two.ben.pk]) + "?k=4&page=1")
    assert response.status_code == 302
    assert response["Location"] == reverse("search:person", args=[two.anna.pk]) + "?k=4&page=1"
    api = user_client.get(reverse("api:search:person", args=[two.ben.pk]))
    assert api.status_code == 200 and api.json()["query"]["person_id"] == two.anna.pk


def test_saving_a_merged_person_saves_the_survivor(user_client, user, two):
    corrections.merge(two.anna, two.ben)
    save(user_client, name="Ben", person=two.ben.pk)
    assert SavedSearch.objects.get(owner=user).person_id == two.anna.pk


def test_a_person_search_whose_person_was_deleted_says_why(user_client, user, two):
    saved = SavedSearch.objects.create(owner=user, name="Ben", person=two.ben, k=7)
    two.ben.delete()
    saved.refresh_from_db()
    assert (saved.kind, saved.person_id, saved.k) == ("person", None, 7)
    assert saved.query_gone and saved.get_results_url() is None
    listing = user_client.get(reverse("search:saved-list")).content.decode()
    assert "A person who no longer exists" in listing
    response = user_client.get(reverse("search:saved-run", args=[saved.pk]), follow=True)
    assert response.status_code == 200
    assert "the person it searched with no longer exists" in response.content.decode()
    gone = save(user_client, name="Again", person=saved.pk + 999)
    messages = [str(m) for m in gone.wsgi_request._messages]
    assert any("That person no longer exists" in m for m in messages)


def test_a_saved_person_search_is_its_owners_alone(client, user, other_user, two):
    saved = SavedSearch.objects.create(owner=user, name="Anna's", person=two.anna)
    client.force_login(other_user)
    assert "Anna&#x27;s" not in client.get(reverse("search:saved-list")).content.decode()
    for name in ("saved-run", "saved-rename", "saved-delete"):
        assert client.get(reverse(f"search:{name}", args=[saved.pk])).status_code == 404
    assert client.post(reverse("search:saved-delete", args=[saved.pk])).status_code == 404
    page = client.get(saved.get_results_url()).content.decode()
    assert "Saved search <strong>" not in page
    assert SavedSearch.objects.filter(pk=saved.pk).exists()
