"""The results page's timelines: where each result falls on its movie, each mark a link to it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from search import queries
from search.result_timelines import result_timelines
from tests.appearance_helpers import Film, make_film
from tests.factories import make_query_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def film() -> Film:
    return make_film()


def strips_of(answer, *, per_page: int = 10, page_number: int = 1, query_appearance_id=None):
    return result_timelines(
        answer.result,
        per_page=per_page,
        page_number=page_number,
        page_url=lambda number: f"?page={number}",
        query_appearance_id=query_appearance_id,
    )


def marks_of(strip) -> list:
    return [mark for lane in strip.timeline.lanes for mark in lane]


def test_an_appearance_search_marks_each_appearance_found_where_it_lies(film):
    ben = film.appearances["ben"]
    answer = queries.answer(queries.appearance_query(ben.pk), {})
    (strip,) = strips_of(answer, query_appearance_id=ben.pk)
    assert (strip.movie_id, strip.title) == (film.movie.pk, "Gala")
    assert strip.url == film.movie.get_absolute_url()
    marks = {mark.appearance_id: mark for mark in marks_of(strip)}
    assert set(marks) == {appearance.pk for appearance in film.appearances.values()}
    # Ben: frames 100-200 of a 20 s movie at 25 fps, every 5th: 4 s to 8.2 s.
    mark = marks[ben.pk]
    assert (mark.left, mark.width) == (pytest.approx(20.0), pytest.approx(21.0))
    assert mark.marked and strip.timeline.marked == mark
    assert mark.url == "#result-1"  # the best result: itself
    assert re.fullmatch(
        r"Result 1: 0:00:04\.0\u20130:00:08\.2, score 0\.9\d\d \(the query\)", mark.label
    )
    assert sum(1 for other in marks.values() if other.marked) == 1
    # Cara is on screen with Ben: her mark takes a second lane.
    assert len(strip.timeline.lanes) == 2
    assert strip.timeline.summary == "4 matches"


def test_marks_of_results_on_other_pages_link_to_their_page(film):
    ben = film.appearances["ben"]
    answer = queries.answer(queries.appearance_query(ben.pk), {})
    ranks = {entry.appearance_id: rank for rank, entry in enumerate(answer.result.entries, 1)}
    (strip,) = strips_of(answer, per_page=2, page_number=1)
    for mark in marks_of(strip):
        rank = ranks[mark.appearance_id]
        expected = f"#result-{rank}" if rank <= 2 else f"?page=2#result-{rank}"
        assert mark.url == expected
    (strip,) = strips_of(answer, per_page=2, page_number=2)
    urls = sorted(mark.url for mark in marks_of(strip))
    assert urls == ["#result-3", "#result-4", "?page=1#result-1", "?page=1#result-2"]


def test_the_results_page_draws_the_strips_and_each_mark_reaches_its_result(
    user_client, film, settings
):
    settings.FACEFINDER_GROUPS_PER_PAGE = 2
    ben = film.appearances["ben"]
    url = reverse("search:appearance", args=[ben.pk])
    page = user_client.get(url + "?k=4").content.decode()
    assert "Where the matches are" in page
    assert "css/timeline.css" in page
    assert f'<h3><a href="/movies/{film.movie.pk}/">Gala</a></h3>' in page
    assert "4 matches" in page and "the red one holds the query" in page
    hrefs = re.findall(r'class="timeline-mark[^"]*" href="([^"]+)"', page)
    assert sorted(hrefs) == [
        "#result-1", "#result-2", "?k=4&amp;page=2#result-3", "?k=4&amp;page=2#result-4",
    ]  # fmt: skip
    assert re.search(r'class="timeline-mark is-marked" href="#result-1"', page)
    # Each mark's result is there to scroll to, on this page or the one it names.
    assert 'id="result-1"' in page and 'id="result-2"' in page
    second = user_client.get(url + "?k=4&page=2").content.decode()
    assert 'id="result-3"' in second and 'id="result-4"' in second
    # An appearance found opens its own page too.
    assert f'href="/appearances/{ben.pk}/">Open appearance</a>' in page


def test_a_face_search_marks_the_appearance_that_holds_the_query_face(user_client, film):
    query = film.appearances["dan"].faces.order_by("frame_index").first()
    answer = queries.answer(queries.face_query(query.pk), {})
    (strip,) = strips_of(answer)
    (marked,) = [mark for mark in marks_of(strip) if mark.marked]
    assert marked.appearance_id == film.appearances["dan"].pk
    assert marked.label.endswith("(the query)")
    page = user_client.get(reverse("search:face", args=[query.pk])).content.decode()
    assert page.count('class="timeline-mark') == 4


def test_every_movie_with_results_has_its_strip_the_best_first(user_client, film):
    other = make_film("Second gala")  # the same people (the same seed), another movie
    ben = film.appearances["ben"]
    answer = queries.answer(queries.appearance_query(ben.pk), {})
    assert [strip.title for strip in strips_of(answer)] == ["Gala", "Second gala"]
    filtered = queries.answer(queries.appearance_query(ben.pk), {"movie": str(other.movie.pk)})
    (strip,) = strips_of(filtered, query_appearance_id=ben.pk)
    assert strip.title == "Second gala"
    assert strip.timeline.marked is None  # the query's own appearance is not among these
    page = user_client.get(
        reverse("search:appearance", args=[ben.pk]) + f"?movie={other.movie.pk}"
    ).content.decode()
    assert "the red one holds the query" not in page


def test_by_near_duplicate_each_group_is_a_moment_at_its_leading_frame(library):
    query = library.first("anna")
    answer = queries.answer(queries.face_query(query.pk), {"group": "duplicate", "k": "40"})
    groups = answer.result.groups
    (strip,) = strips_of(answer, per_page=100)
    marks = marks_of(strip)
    assert len(marks) == len(groups)
    # 10 000 frames at 25 fps: 400 s; a mark lasts one sampling interval (10 frames, 0.4 s).
    assert strip.timeline.duration == pytest.approx(400.0)
    leaders = {group.leader.face_id for group in groups}
    frame_times = {
        face.pk: face.frame.timestamp
        for face in library.movie.faces.select_related("frame").filter(pk__in=leaders)
    }
    by_rank = {int(mark.url.removeprefix("#result-")): mark for mark in marks}
    for rank, group in enumerate(groups, start=1):
        mark = by_rank[rank]
        assert mark.appearance_id is None
        assert mark.left == pytest.approx(100 * frame_times[group.leader.face_id] / 400)
        assert mark.width == pytest.approx(0.1)
    (marked,) = [mark for mark in marks if mark.marked]
    assert marked.left == pytest.approx(0.0)  # the query face's group: frame 0


def test_faces_without_appearances_are_marked_by_their_frame(library):
    answer = queries.answer(queries.face_query(library.first("ben").pk), {})
    assert answer.result.group == "appearance"
    (strip,) = strips_of(answer, per_page=100)
    assert len(marks_of(strip)) == len(answer.result.appearances)
    assert all(mark.appearance_id is None for mark in marks_of(strip))


def test_a_photo_search_has_timelines_without_a_query_mark(user_client, user, film):
    photo = make_query_photo(user, film.appearances["cara"].representative_face)
    response = user_client.get(reverse("search:photo-results", args=[photo.pk, 0]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Where the matches are" in page
    assert page.count('class="timeline-mark') == 4
    assert "is-marked" not in page


def test_close_marks_take_separate_lanes(db):
    film = make_film(duration_seconds=2000.0, frame_count=50_000)
    answer = queries.answer(queries.appearance_query(film.appearances["ben"].pk), {})
    (strip,) = strips_of(answer)
    # Over 2000 s, anna's mark (0-2.2 s) and ben's (4-8.2 s) are about 0.2 % apart: drawn at
    # their minimum width they would touch, so they take separate lanes.
    lanes = [[mark.appearance_id for mark in lane] for lane in strip.timeline.lanes]
    anna, ben = film.appearances["anna"].pk, film.appearances["ben"].pk
    assert not any(anna in lane and ben in lane for lane in lanes)


def test_by_near_duplicate_the_groups_led_by_the_query_appearances_faces_are_marked(film):
    ben = film.appearances["ben"]
    answer = queries.answer(queries.appearance_query(ben.pk), {"group": "duplicate", "k": "60"})
    (strip,) = strips_of(answer, per_page=100, query_appearance_id=ben.pk)
    ben_faces = set(ben.faces.values_list("pk", flat=True))
    led_by_ben = {
        rank
        for rank, group in enumerate(answer.result.groups, 1)
        if group.leader.face_id in ben_faces
    }
    marked = {int(mark.url.removeprefix("#result-")) for mark in marks_of(strip) if mark.marked}
    assert led_by_ben and marked == led_by_ben
