"""Against a real SingleStoreDB server: runs only when ``SINGLESTORE_URL`` is set.

    SINGLESTORE_URL=singlestoredb://root:PASSWORD@127.0.0.1:3306/facefinder \\
        .venv/bin/pytest tests/test_singlestore_live.py

The module migrates a throw-away test database (``test_<name>``, created and dropped here) on
that server through the Facefinder engine, writes faces through the ORM and checks the layout,
the computed VECTOR columns, exact and indexed search against a NumPy reference, the vector
index command and the unique natural keys. To run the ingest and search suites themselves on
SingleStoreDB, point the whole test session at it: ``DATABASE_URL=$SINGLESTORE_URL pytest``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from django.db import IntegrityError, connections

from config.database import database_config
from config.singlestore.layout import VECTOR_DIMENSIONS, vector_column
from faces.models import Face, pack_vector
from search.backends.singlestore import (
    SingleStoreBackend,
    create_vector_index,
    drop_vector_index,
    vector_index_status,
)
from tests.factories import make_face, make_frame, make_movie, random_unit

URL = os.environ.get("SINGLESTORE_URL", "")
ALIAS = "singlestore_live"

pytestmark = pytest.mark.skipif(
    not URL, reason="SINGLESTORE_URL is not set (no SingleStoreDB server to test against)"
)


@pytest.fixture(scope="module")
def live(django_db_blocker):
    """A migrated test database on the server, as connection alias ``singlestore_live``."""
    with django_db_blocker.unblock():
        config = connections.configure_settings({"default": database_config(URL, Path())})
        connections.settings[ALIAS] = config["default"]
        wrapper = connections[ALIAS]
        old_name = wrapper.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            yield wrapper
        finally:
            wrapper.creation.destroy_test_db(old_name, verbosity=0)
            del connections[ALIAS]
            del connections.settings[ALIAS]


@pytest.fixture(scope="module")
def faces(live, django_db_blocker):
    """Two movies of faces in both embedders: {face id: (embedder, movie id, vector)}."""
    rng = np.random.default_rng(4)
    stored = {}
    with django_db_blocker.unblock():
        for number in range(2):
            movie = make_movie(f"Live {number}", using=ALIAS)
            for index in range(40):
                frame = make_frame(movie, index, stored=False, size=(64, 48), using=ALIAS)
                for face_index, (embedder, dimension) in enumerate(VECTOR_DIMENSIONS.items()):
                    vector = random_unit(rng, dimension)
                    face = make_face(
                        frame, vector, face_index=face_index, embedder=embedder, using=ALIAS
                    )
                    stored[face.pk] = (embedder, movie.pk, vector)
    return stored


def reference(stored, query, embedder, k, movie_id=None):
    scores = {
        face_id: float(vector.astype(np.float64) @ query.astype(np.float64))
        for face_id, (name, movie, vector) in stored.items()
        if name == embedder and movie_id in (None, movie)
    }
    return sorted(scores, key=lambda face_id: (-scores[face_id], face_id))[:k]


def test_tables_have_the_singlestore_layout(live, django_db_blocker):
    with django_db_blocker.unblock(), live.cursor() as cursor:
        cursor.execute("SHOW CREATE TABLE `faces_face`")
        ddl = cursor.fetchone()[1]
    assert "SHARD KEY" in ddl and "`movie_id`" in ddl.split("SHARD KEY")[1].split(")")[0]
    for embedder, dimension in VECTOR_DIMENSIONS.items():
        assert f"`{vector_column(embedder)}`" in ddl
        assert f"vector({dimension}, F32)" in ddl.lower().replace("f32", "F32")


def test_vector_columns_hold_the_orm_embedding(live, faces, django_db_blocker):
    face_id, (embedder, _, vector) = next(iter(faces.items()))
    column = vector_column(embedder)
    with django_db_blocker.unblock(), live.cursor() as cursor:
        cursor.execute(f"SELECT `{column}` :> BLOB FROM `faces_face` WHERE `id` = %s", [face_id])
        (blob,) = cursor.fetchone()
    assert bytes(blob) == pack_vector(vector)


@pytest.mark.parametrize("movie_filter", [False, True])
@pytest.mark.parametrize("exact", [False, True])
def test_search_matches_the_numpy_reference(live, faces, django_db_blocker, exact, movie_filter):
    rng = np.random.default_rng(5)
    backend = SingleStoreBackend(live)
    movie_id = next(iter(faces.values()))[1] if movie_filter else None
    with django_db_blocker.unblock():
        for embedder, dimension in VECTOR_DIMENSIONS.items():
            query = random_unit(rng, dimension)
            found = backend.nearest(query, embedder, 10, movie_id=movie_id, exact=exact)
            hits = [hit.face_id for hit in found.hits]
            assert hits == reference(faces, query, embedder, 10, movie_id)
            assert all(np.array_equal(v, faces[i][2]) for i, v in zip(hits, found.vectors))


def test_vector_index_lifecycle(live, faces, django_db_blocker):
    with django_db_blocker.unblock():
        if live.get_database_version() < (8, 9, 0):
            pytest.skip("ANN index on a nullable VECTOR column needs SingleStoreDB 8.9+")
        create_vector_index("dlib-resnet", "HNSW_FLAT", connection=live)
        try:
            assert vector_index_status(live)["dlib-resnet"]
            query = next(v for e, _, v in faces.values() if e == "dlib-resnet")
            hits = SingleStoreBackend(live).nearest(query, "dlib-resnet", 5).hits
            assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        finally:
            drop_vector_index("dlib-resnet", connection=live)
        assert vector_index_status(live)["dlib-resnet"] is None


def test_natural_keys_make_writes_idempotent(live, faces, django_db_blocker):
    with django_db_blocker.unblock():
        face = Face.objects.using(ALIAS).order_by("id").first()
        count = Face.objects.using(ALIAS).count()
        duplicate = Face(
            movie_id=face.movie_id,
            frame_id=face.frame_id,
            frame_index=face.frame_index,
            face_index=face.face_index,
            x1=0,
            y1=0,
            x2=1,
            y2=1,
            probability=1.0,
            embedder=face.embedder,
            embedding=face.embedding,
        )
        with pytest.raises(IntegrityError):
            duplicate.save(using=ALIAS)
        assert Face.objects.using(ALIAS).count() == count
        # Updating a stored face through the ORM (the SET list includes the shard key).
        face.probability = 0.5
        face.save(using=ALIAS)
        assert Face.objects.using(ALIAS).get(pk=face.pk).probability == 0.5
