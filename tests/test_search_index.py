"""The embedded backend: approximate index recall, and staying in step with the faces table."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from django.db import connection

from faces.models import pack_vector
from search.backends import get_backend
from search.backends.embedded import EmbeddedBackend
from search.backends.vector_table import VectorTable
from search.services import search_by_face, search_by_vector
from tests.factories import add_faces, clustered_vectors, make_movie, unit

# These tests check the near-duplicate grouping (group=duplicate).
pytestmark = pytest.mark.usefixtures("duplicate_grouping")


DIM = 64


@pytest.fixture
def indexed(settings):
    """Collections above 500 faces get the IVF index (the default threshold is far higher)."""
    settings.FACEFINDER_SEARCH_EXACT_MAX_FACES = 500
    return settings


def collection_of(embedder: str = "dlib-resnet"):
    backend = get_backend()
    assert isinstance(backend, EmbeddedBackend)
    return backend.collection(embedder)


def test_index_recall_against_exact_scan(db, indexed):
    """Many identities, each a cluster of noisy unit vectors (a person seen in many frames, as in
    a film): recall@20 >= 0.99 against the exact scan, and exact scores."""
    vectors = clustered_vectors(people=120, faces_per_person=40, dim=DIM, spread=0.6, seed=1)
    add_faces(make_movie("Crowd"), vectors)
    queries = np.random.default_rng(2).choice(len(vectors), 60, replace=False)
    recalls = []
    for row in queries:
        approximate = get_backend().nearest(vectors[row], "dlib-resnet", 20).hits
        exact = get_backend().nearest(vectors[row], "dlib-resnet", 20, exact=True).hits
        exact_scores = {hit.face_id: hit.score for hit in exact}
        recalls.append(len(set(exact_scores) & {hit.face_id for hit in approximate}) / 20)
        for hit in approximate:  # every score shown is exact, wherever it came from
            if hit.face_id in exact_scores:
                assert hit.score == exact_scores[hit.face_id]
    assert collection_of().uses_index, "the IVF index was not used"
    assert np.mean(recalls) >= 0.99


def test_index_movie_filter_matches_exact_scan(db, indexed):
    vectors = clustered_vectors(people=80, faces_per_person=20, dim=DIM, spread=0.6, seed=3)
    big, small = make_movie("Big"), make_movie("Small")
    add_faces(big, vectors[:1200])
    small_ids = add_faces(small, vectors[1200:])
    query = vectors[1250]
    # Small movie (300 faces, below the threshold): exact scan of its faces.
    hits = get_backend().nearest(query, "dlib-resnet", 10, movie_id=small.pk).hits
    exact = get_backend().nearest(query, "dlib-resnet", 10, movie_id=small.pk, exact=True).hits
    assert hits == exact
    assert {hit.face_id for hit in hits} <= set(small_ids)
    # Big movie (1200 faces): the index restricted to its faces.
    hits = get_backend().nearest(vectors[10], "dlib-resnet", 10, movie_id=big.pk).hits
    exact = get_backend().nearest(vectors[10], "dlib-resnet", 10, movie_id=big.pk, exact=True).hits
    assert collection_of().uses_index
    assert len({h.face_id for h in hits} & {h.face_id for h in exact}) >= 9
    assert all(hit.face_id not in small_ids for hit in hits)


@pytest.mark.parametrize("use_index", [False, True], ids=["exact-scan", "ivf-index"])
def test_each_hit_comes_with_its_stored_vector(db, settings, use_index):
    """The vectors that duplicate grouping needs arrive with the hits, row for row."""
    if use_index:
        settings.FACEFINDER_SEARCH_EXACT_MAX_FACES = 500
    vectors = clustered_vectors(people=40, faces_per_person=20, dim=DIM, seed=10)
    stored = dict(zip(add_faces(make_movie(), vectors), vectors, strict=True))
    found = get_backend().nearest(vectors[3], "dlib-resnet", 15)
    median = found.hits[7].score
    filtered = get_backend().nearest(vectors[3], "dlib-resnet", 15, min_score=median)
    assert (collection_of().uses_index) == use_index
    for neighbours, count in ((found, 15), (filtered, 8)):
        assert len(neighbours.hits) == count and neighbours.vectors.shape == (count, DIM)
        for hit, row in zip(neighbours.hits, neighbours.vectors, strict=True):
            assert np.array_equal(row, stored[hit.face_id])


@pytest.mark.parametrize("use_index", [False, True], ids=["exact-scan", "ivf-index"])
def test_faces_added_after_the_first_search_are_found(db, settings, use_index):
    if use_index:
        settings.FACEFINDER_SEARCH_EXACT_MAX_FACES = 500
    movie = make_movie()
    vectors = clustered_vectors(people=40, faces_per_person=20, dim=DIM, seed=4)
    first_ids = add_faces(movie, vectors)
    search_by_face(first_ids[0])  # loads the collection (and trains the index)
    newcomer = unit(np.random.default_rng(5).standard_normal(DIM))
    # Written later, as an ingest worker would: nothing tells this process but the table.
    (new_id,) = add_faces(movie, [newcomer], first_frame=10_000)
    result = search_by_vector(newcomer, "dlib-resnet", k=1)
    assert result.hits[0].face_id == new_id
    assert result.hits[0].score == pytest.approx(1.0, abs=1e-6)
    assert collection_of().count == len(vectors) + 1
    assert (collection_of().uses_index) == use_index


@pytest.mark.parametrize("use_index", [False, True], ids=["exact-scan", "ivf-index"])
def test_deleted_faces_disappear_from_results(db, settings, use_index):
    if use_index:
        settings.FACEFINDER_SEARCH_EXACT_MAX_FACES = 500
    kept, dropped = make_movie("Kept"), make_movie("Dropped")
    vectors = clustered_vectors(people=40, faces_per_person=20, dim=DIM, seed=6)
    kept_ids = add_faces(kept, vectors[::2])
    dropped_ids = add_faces(dropped, vectors[1::2])
    before = search_by_vector(vectors[1], "dlib-resnet", k=5)
    assert before.hits[0].face_id == dropped_ids[0]
    dropped.delete()
    after = search_by_vector(vectors[1], "dlib-resnet", k=5)
    assert {hit.face_id for hit in after.hits} <= set(kept_ids)
    assert collection_of().count == len(kept_ids)


@pytest.mark.django_db(transaction=True)
def test_rows_written_through_another_connection_are_seen(settings):
    """Another process (an rq worker) inserts and deletes rows; this process's next search sees it.

    The test database is a shared-cache in-memory SQLite database, so a second, plain sqlite3
    connection is a different writer, just like another process on a database file.
    """
    settings.FACEFINDER_SEARCH_EXACT_MAX_FACES = 500
    movie = make_movie()
    vectors = clustered_vectors(people=30, faces_per_person=30, dim=DIM, seed=8)
    ids = add_faces(movie, vectors)
    search_by_face(ids[0])
    assert collection_of().uses_index

    other = sqlite3.connect(connection.settings_dict["NAME"], uri=True)
    try:
        newcomer = unit(np.random.default_rng(9).standard_normal(DIM))
        with other:
            other.execute(
                'INSERT INTO movies_frame (movie_id, "index", timestamp, width, height, image,'
                " thumbnail) VALUES (?, 5000, 200.0, 64, 36, 'x.jpg', '')",
                (movie.pk,),
            )
            frame_id = other.execute("SELECT max(id) FROM movies_frame").fetchone()[0]
            other.execute(
                "INSERT INTO faces_face (movie_id, frame_id, frame_index, face_index, x1, y1, x2,"
                " y2, probability, landmarks, embedder, embedding, thumbnail)"
                " VALUES (?, ?, 5000, 0, 1, 1, 9, 9, 0.999, '[]', 'dlib-resnet', ?, '')",
                (movie.pk, frame_id, pack_vector(newcomer)),
            )
            new_id = other.execute("SELECT max(id) FROM faces_face").fetchone()[0]
        assert search_by_vector(newcomer, "dlib-resnet", k=1).hits[0].face_id == new_id

        with other:
            other.execute("DELETE FROM faces_face WHERE id IN (?, ?)", (new_id, ids[1]))
        assert search_by_vector(newcomer, "dlib-resnet", k=1).hits[0].face_id != new_id
        hits = search_by_vector(vectors[1], "dlib-resnet", k=5).hits
        assert ids[1] not in {hit.face_id for hit in hits}
        assert hits[0].score < 0.999999
        assert collection_of().count == len(ids) - 1
    finally:
        other.close()


def test_unchanged_table_is_not_reloaded(db, monkeypatch):
    movie = make_movie()
    ids = add_faces(movie, clustered_vectors(people=5, faces_per_person=4, dim=DIM, seed=10))
    search_by_face(ids[0])

    def no_loading(*args, **kwargs):
        raise AssertionError("rows were loaded from the table again")

    monkeypatch.setattr(VectorTable, "iter_rows", no_loading)
    assert search_by_face(ids[1]).hits[0].face_id == ids[1]


def test_deletes_and_inserts_between_two_searches(db, indexed):
    """A re-ingest deletes old faces and adds new ones: the table's size may not even change."""
    movie, other = make_movie("Reingested"), make_movie("Other")
    vectors = clustered_vectors(people=30, faces_per_person=30, dim=DIM, seed=11)
    old_ids = add_faces(movie, vectors[:450])
    add_faces(other, vectors[450:])
    search_by_face(old_ids[0])
    from faces.models import Face

    Face.objects.filter(pk__in=old_ids[:1]).delete()
    (new_id,) = add_faces(movie, [vectors[0]], first_frame=20_000)
    hits = search_by_vector(vectors[0], "dlib-resnet", k=3).hits
    assert hits[0].face_id == new_id
    assert old_ids[0] not in {hit.face_id for hit in hits}
    assert collection_of().count == len(vectors)


def test_commit_watcher_sees_commits_of_other_connections(tmp_path):
    from search.backends.vector_table import SQLiteCommitWatcher

    path = str(tmp_path / "watched.sqlite3")
    writer = sqlite3.connect(path)
    writer.execute("CREATE TABLE t (x)")
    writer.commit()
    watcher = SQLiteCommitWatcher(path)
    try:
        before = watcher.version()
        assert watcher.version() == before  # nothing committed
        writer.execute("INSERT INTO t VALUES (1)")
        assert watcher.version() == before  # written, not yet committed
        writer.commit()
        assert watcher.version() != before
    finally:
        watcher.close()
        writer.close()


def test_unchanged_commit_counter_skips_the_fingerprint(db, django_assert_num_queries):
    movie = make_movie()
    ids = add_faces(movie, clustered_vectors(people=5, faces_per_person=4, dim=DIM, seed=12))
    collection = collection_of()
    collection.sync(data_version=7)
    assert collection.count == len(ids)
    with django_assert_num_queries(0):
        collection.sync(data_version=7)
    add_faces(movie, clustered_vectors(people=1, faces_per_person=1, dim=DIM), first_frame=500)
    collection.sync(data_version=8)  # another commit: the table is asked again
    assert collection.count == len(ids) + 1
