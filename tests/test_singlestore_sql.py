"""Every SQL statement Facefinder sends to SingleStoreDB, produced without a server and parsed.

The DDL comes from every migration of every installed app, run through the real
django_singlestore schema editor (with Facefinder's layout hook) in collect-SQL mode; the search
and vector-index statements are captured from a recording cursor. Each statement is parsed with
sqlglot's ``singlestore`` dialect; the few that sqlglot can only take as an unchecked
``Command`` are listed in ``REVIEWED_COMMANDS`` and compared with reviewed text.
"""

from __future__ import annotations

import os
import re
import socket
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import sqlglot
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import NotSupportedError, OperationalError, connection, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from singlestoredb.mysql.connection import Connection as ClientConnection
from sqlglot import exp

from config.database import database_config
from config.singlestore.base import DatabaseWrapper
from config.singlestore.layout import (
    REFERENCE_APPS,
    TABLE_VECTOR_EMBEDDERS,
    VECTOR_DIMENSIONS,
    vector_column,
)
from config.singlestore.schema import STORAGE_TYPE_VARIABLE
from faces.models import pack_vector
from search.backends.singlestore import (
    SCAN_MARGIN,
    SingleStoreBackend,
    create_vector_index,
    drop_vector_index,
    vector_index_status,
)
from tests.factories import make_face, make_frame, make_movie, random_unit

URL = "singlestoredb://facefinder:secret@s2.example:3306/facefinder"
ALIAS = "singlestore_offline"

# Statements sqlglot 30 cannot parse into a tree (it falls back to Command). Each was reviewed
# against SingleStoreDB's documentation; any new Command-only statement fails the test until it
# is reviewed and added here.
REVIEWED_COMMAND_PREFIXES = {
    # Reference tables: "CREATE ROWSTORE REFERENCE TABLE" (django_singlestore's output for the
    # apps in REFERENCE_APPS).
    "create reference table": "CREATE ROWSTORE REFERENCE TABLE `",
    # ANN index (vector_index create): ALTER TABLE ... ADD VECTOR INDEX ... INDEX_OPTIONS '...'.
    "add vector index": "ALTER TABLE `faces_face` ADD VECTOR INDEX `faces_face_embedding_",
}
REVIEWED_VECTOR_INDEX_SQL = (
    "ALTER TABLE `faces_face` ADD VECTOR INDEX `faces_face_embedding_dlib_resnet_ann` "
    "(`embedding_dlib_resnet`) INDEX_OPTIONS "
    '\'{"index_type": "HNSW_FLAT", "metric_type": "DOT_PRODUCT", "M": 16}\''
)


# --- producing the SQL without a server ---------------------------------------------------------


def complete_settings(config: dict) -> dict:
    """Django's defaults for the keys a DATABASES entry leaves out."""
    return connections.configure_settings({"default": config})["default"]


@contextmanager
def offline_singlestore(version: tuple[int, int, int] = (8, 9, 0)):
    """A real Facefinder SingleStoreDB wrapper that never connects.

    Only two things are supplied: the server version (normally read from the server) and a
    client connection object created with ``defer_connect`` (the schema editor uses its
    ``escape`` to quote default values, as it would on a live connection).
    """
    with mock.patch.dict(os.environ):
        for app in REFERENCE_APPS:
            os.environ.pop(STORAGE_TYPE_VARIABLE + app.upper(), None)
        settings_dict = complete_settings(database_config(URL, Path()))
        wrapper = DatabaseWrapper(settings_dict, alias=ALIAS)
        wrapper.__dict__["s2_version"] = version
        client = ClientConnection(host="s2.example", defer_connect=True)
        client.server_status = 0  # what a fresh server session reports: backslash escapes on
        wrapper.connection = client
        setattr(connections._connections, ALIAS, wrapper)
        try:
            yield wrapper
        finally:
            wrapper.connection = None
            delattr(connections._connections, ALIAS)


def migration_statements(wrapper) -> list[tuple[str, str]]:
    """(migration, statement) for every migration of every app, in dependency order."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan: list[tuple[str, str]] = []
    for leaf in sorted(loader.graph.leaf_nodes()):
        for key in loader.graph.forwards_plan(leaf):
            if key not in plan:
                plan.append(key)
    state = ProjectState(real_apps=set())
    statements = []
    for key in plan:
        with wrapper.schema_editor(collect_sql=True, atomic=False) as editor:
            state = loader.graph.nodes[key].apply(state, editor, collect_sql=True)
        statements += [
            (f"{key[0]}.{key[1]}", sql.strip())
            for sql in editor.collected_sql
            if not sql.startswith("--")
        ]
    return statements


@pytest.fixture(scope="module")
def ddl(django_db_blocker) -> list[tuple[str, str]]:
    # Unblocked because ensure_connection() is called (a no-op: the wrapper never connects).
    with django_db_blocker.unblock(), offline_singlestore() as wrapper:
        return migration_statements(wrapper)


def parse(sql: str, params: list | tuple = ()) -> exp.Expression:
    """Parse with the singlestore dialect; %s placeholders become :p1, :p2, ..."""
    assert sql.count("%s") == len(params), sql
    counter = iter(range(1, len(params) + 1))
    text = re.sub(r"%s", lambda _: f":p{next(counter)}", sql).rstrip(";").strip()
    return sqlglot.parse_one(text, read="singlestore")


def reviewed_command(sql: str) -> str | None:
    for name, prefix in REVIEWED_COMMAND_PREFIXES.items():
        if sql.startswith(prefix):
            return name
    return None


def create_table(ddl, table: str) -> str:
    matches = [sql for _, sql in ddl if re.match(rf"CREATE .*TABLE `{table}` ", sql)]
    assert len(matches) == 1, f"{table}: {matches}"
    return matches[0]


# --- DDL ----------------------------------------------------------------------------------------


def test_every_migration_statement_parses_or_is_a_reviewed_command(ddl):
    assert len(ddl) > 20
    kinds = set()
    for migration, sql in ddl:
        tree = parse(sql)
        if isinstance(tree, exp.Command):
            assert reviewed_command(sql), f"{migration}: unreviewed Command-only SQL: {sql}"
            kinds.add(reviewed_command(sql))
        else:
            kinds.add(type(tree).__name__)
    # The statement kinds migrations send (reported in docs/singlestore.md).
    assert {"Create", "Alter", "create reference table"} <= kinds


def test_contrib_apps_are_reference_tables(ddl):
    for table in ("auth_user", "auth_permission", "django_content_type", "django_admin_log"):
        assert create_table(ddl, table).startswith(f"CREATE ROWSTORE REFERENCE TABLE `{table}`")
    assert create_table(ddl, "search_savedsearch").startswith("CREATE ROWSTORE REFERENCE TABLE")


def test_reference_tables_leave_the_environment_as_it_was(django_db_blocker):
    with django_db_blocker.unblock(), offline_singlestore() as wrapper:
        before = dict(os.environ)
        migration_statements(wrapper)
        assert dict(os.environ) == before


def test_a_storage_type_set_in_the_environment_wins(django_db_blocker):
    columnstore_auth = {STORAGE_TYPE_VARIABLE + "AUTH": "REFERENCE"}
    with (
        django_db_blocker.unblock(),
        offline_singlestore() as wrapper,
        mock.patch.dict(os.environ, columnstore_auth),
    ):
        ddl = migration_statements(wrapper)
    assert create_table(ddl, "auth_user").startswith("CREATE REFERENCE TABLE `auth_user`")
    assert create_table(ddl, "django_content_type").startswith("CREATE ROWSTORE REFERENCE TABLE")


def table_definitions(sql: str) -> list[str]:
    """The comma-separated items of a CREATE TABLE body (columns, keys, constraints)."""
    assert isinstance(parse(sql), exp.Create), sql
    body = sql[sql.index("(") + 1 : sql.rindex(")")]
    items, depth, current = [], 0, ""
    for char in body:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    return [*items, current.strip()]


def shard_and_unique_keys(sql: str) -> tuple[list[str], list[list[str]]]:
    """Shard key columns and every unique key's columns (read from the text: sqlglot 30 turns
    ``SHARD KEY (...)`` into a column named SHARD)."""
    shard, uniques = [], []
    for item in table_definitions(sql):
        if item.startswith("SHARD KEY"):
            shard = re.findall(r"`(\w+)`", item)
        elif re.match(r"(CONSTRAINT `\w+` )?UNIQUE|UNIQUE KEY|PRIMARY KEY", item):
            uniques.append(re.findall(r"`(\w+)`", item.split("(", 1)[1]))
        elif re.search(r"\b(PRIMARY KEY|UNIQUE)$", item):  # column-level key
            uniques.append([re.match(r"`(\w+)`", item).group(1)])
    return shard, uniques


def test_every_unique_key_of_a_distributed_table_contains_its_shard_key(ddl):
    distributed = [sql for _, sql in ddl if sql.startswith("CREATE  TABLE")]
    assert distributed
    for sql in distributed:
        shard, uniques = shard_and_unique_keys(sql)
        assert shard, f"no shard key: {sql}"
        for unique in uniques:
            assert set(shard) <= set(unique), f"unique key {unique} lacks shard key {shard}: {sql}"
    # No unique key is added later to a distributed table either.
    distributed_tables = {re.search(r"TABLE `(\w+)`", sql).group(1) for sql in distributed}
    for _, sql in ddl:
        added = re.match(r"ALTER TABLE `(\w+)` ADD CONSTRAINT .* UNIQUE", sql)
        assert not (added and added.group(1) in distributed_tables), sql


def assert_vector_column(column: exp.ColumnDef, embedder: str) -> None:
    """A persisted VECTOR column holding the embedding of ``embedder``'s faces, else NULL."""
    dimension = VECTOR_DIMENSIONS[embedder]
    sql = column.sql(dialect="singlestore")
    assert f"WHEN `embedder` = '{embedder}' THEN `embedding` :> VECTOR({dimension}, F32)" in sql
    assert sql.endswith(f"PERSISTED VECTOR({dimension}, F32)")


def test_faces_are_sharded_by_movie_with_one_vector_column_per_embedder(ddl):
    sql = create_table(ddl, "faces_face")
    shard, uniques = shard_and_unique_keys(sql)
    assert shard == ["movie_id"]
    assert uniques == [["movie_id", "frame_index", "face_index"]]
    assert "PRIMARY KEY" not in sql
    assert "`id` bigint AUTO_INCREMENT NOT NULL," in sql
    assert "KEY (`id`) USING HASH" in sql
    assert "SORT KEY (`embedder`, `movie_id`, `frame_index`, `face_index`)" in sql
    tree = parse(sql)
    columns = {
        column.name: column for column in tree.this.expressions if isinstance(column, exp.ColumnDef)
    }
    for embedder in TABLE_VECTOR_EMBEDDERS:
        assert_vector_column(columns[vector_column(embedder)], embedder)
    # Embedders registered later get their column from a migration of their own.
    assert vector_column("dlib-resnet-mtcnn") not in columns
    # The ORM's column stays a BLOB of packed float32 on every backend.
    assert columns["embedding"].sql(dialect="singlestore") == "`embedding` LONGBLOB NOT NULL"


def test_a_later_embedder_gets_its_vector_column_from_its_own_migration(ddl):
    added = [
        sql for migration, sql in ddl if migration == "faces.0002_face_dlib_resnet_mtcnn_vector"
    ]
    assert len(added) == 1
    tree = parse(added[0])
    assert isinstance(tree, exp.Alter) and tree.this.name == "faces_face"
    (column,) = tree.args["actions"]
    assert isinstance(column, exp.ColumnDef)
    assert column.name == vector_column("dlib-resnet-mtcnn") == "embedding_dlib_resnet_mtcnn"
    assert_vector_column(column, "dlib-resnet-mtcnn")
    # Every embedder ends with exactly one column, created with the table or added later.
    columns = [vector_column(name) for name in TABLE_VECTOR_EMBEDDERS] + [column.name]
    assert sorted(columns) == sorted(vector_column(name) for name in VECTOR_DIMENSIONS)


def test_the_vector_column_migration_does_nothing_on_sqlite(django_db_blocker):
    from django.db.migrations.executor import MigrationExecutor

    with django_db_blocker.unblock(), connection.schema_editor(collect_sql=True) as editor:
        loader = MigrationExecutor(connection).loader
        migration = loader.get_migration("faces", "0002_face_dlib_resnet_mtcnn_vector")
        state = loader.project_state(("faces", "0001_initial"))
        migration.apply(state, editor, collect_sql=True)
    assert [sql for sql in editor.collected_sql if not sql.startswith("--")] == []


def test_frames_are_sharded_by_movie_and_sorted_by_frame(ddl):
    sql = create_table(ddl, "movies_frame")
    shard, uniques = shard_and_unique_keys(sql)
    assert shard == ["movie_id"]
    assert uniques == [["movie_id", "index"]]
    assert "SORT KEY (`movie_id`, `index`)" in sql
    # Movies keep django_singlestore's layout: sharded by their primary key.
    assert "SHARD KEY (`id`)" in create_table(ddl, "movies_movie")


def test_shots_are_sharded_by_movie_and_sorted_by_index(ddl):
    sql = create_table(ddl, "movies_shot")
    shard, uniques = shard_and_unique_keys(sql)
    assert shard == ["movie_id"]
    assert uniques == [["movie_id", "index"]]
    assert "PRIMARY KEY" not in sql
    assert "KEY (`id`) USING HASH" in sql
    assert "SORT KEY (`movie_id`, `index`)" in sql


def test_appearances_are_sharded_by_movie_with_a_mean_vector_column_per_embedder(ddl):
    sql = create_table(ddl, "faces_appearance")
    shard, uniques = shard_and_unique_keys(sql)
    assert shard == ["movie_id"]
    assert uniques == [["movie_id", "first_frame_index", "first_face_index"]]
    assert "PRIMARY KEY" not in sql
    assert "`id` bigint AUTO_INCREMENT NOT NULL," in sql
    assert "KEY (`id`) USING HASH" in sql
    assert "SORT KEY (`embedder`, `movie_id`, `first_frame_index`, `first_face_index`)" in sql
    tree = parse(sql)
    columns = {
        column.name: column for column in tree.this.expressions if isinstance(column, exp.ColumnDef)
    }
    for embedder in VECTOR_DIMENSIONS:
        assert_vector_column(columns[vector_column(embedder)], embedder)
    assert columns["embedding"].sql(dialect="singlestore") == "`embedding` LONGBLOB NOT NULL"


def vector_columns_of(ddl, table: str) -> list[str]:
    """The VECTOR columns ``table`` ends with: those it was created with and those added later."""
    created = parse(create_table(ddl, table))
    columns = [
        column.name
        for column in created.this.expressions
        if isinstance(column, exp.ColumnDef) and "VECTOR(" in column.sql(dialect="singlestore")
    ]
    for _, sql in ddl:
        added = re.match(rf"ALTER TABLE `{table}` ADD COLUMN `(embedding_\w+)` AS", sql)
        if added:
            columns.append(added.group(1))
    return columns


@pytest.mark.parametrize("table", ["faces_face", "faces_appearance"])
def test_every_embedder_has_exactly_one_vector_column_in_each_table_of_vectors(ddl, table):
    """A new embedder needs an ``AddVectorColumn`` migration for faces and for appearances."""
    columns = vector_columns_of(ddl, table)
    assert sorted(columns) == sorted(vector_column(name) for name in VECTOR_DIMENSIONS)


def test_faces_get_a_nullable_link_to_their_appearance(ddl):
    added = [sql for migration, sql in ddl if migration == "faces.0004_face_appearance"]
    alter = [sql.rstrip(";").strip() for sql in added if sql.startswith("ALTER TABLE")]
    assert alter == ["ALTER TABLE `faces_face` ADD COLUMN `appearance_id` bigint NULL"]
    tree = parse(alter[0])
    assert isinstance(tree, exp.Alter) and tree.this.name == "faces_face"
    # The link is a plain (non-unique) key: a unique one would need the shard key.
    assert all("UNIQUE" not in sql for sql in added)


def test_people_are_sharded_by_id_and_appearances_get_a_nullable_link_to_them(ddl):
    sql = create_table(ddl, "faces_person")
    shard, uniques = shard_and_unique_keys(sql)
    assert shard == ["id"] and uniques == [["id"]]
    columns = {c.name for c in parse(sql).this.expressions if isinstance(c, exp.ColumnDef)}
    assert {"name", "note", "hidden", "created_at", "updated_at"} <= columns
    added = [sql for migration, sql in ddl if migration == "faces.0006_people"]
    alter = [sql.rstrip(";").strip() for sql in added if sql.startswith("ALTER TABLE")]
    assert alter == ["ALTER TABLE `faces_appearance` ADD COLUMN `person_id` bigint NULL"]
    assert isinstance(parse(alter[0]), exp.Alter)
    # The link and the name are plain keys: a unique one would need the shard key.
    indexes = [sql for sql in added if sql.startswith("CREATE INDEX")]
    assert [re.search(r"ON `(\w+)` \(`(\w+)`\)", sql).groups() for sql in indexes] == [
        ("faces_person", "name"),
        ("faces_appearance", "person_id"),
    ]
    assert all("UNIQUE" not in sql for sql in added)


def test_a_calibration_is_keyed_and_sharded_by_its_embedder(ddl):
    """One threshold per embedder: the embedder is the primary key, so the unique key holds
    the shard key as SingleStoreDB requires."""
    sql = create_table(ddl, "faces_embeddercalibration")
    shard, uniques = shard_and_unique_keys(sql)
    assert shard == ["embedder"] and uniques == [["embedder"]]
    assert "`threshold` double precision NOT NULL" in sql
    parse(sql)


def test_the_people_lock_is_keyed_and_sharded_by_its_embedder(ddl):
    """One lock row per embedder, claimed by a conditional UPDATE: the embedder is the
    primary key and so the shard key."""
    sql = create_table(ddl, "faces_peoplelock")
    shard, uniques = shard_and_unique_keys(sql)
    assert shard == ["embedder"] and uniques == [["embedder"]]
    assert "`owner` varchar(64) NOT NULL" in sql
    parse(sql)


def test_centroids_are_sharded_by_id_with_a_plain_key_on_embedder_and_person(ddl):
    """No unique key on (embedder, person): it would need the shard key; faces.centroids
    keeps one row per pair under the people lock."""
    sql = create_table(ddl, "faces_personcentroid")
    shard, uniques = shard_and_unique_keys(sql)
    assert shard == ["id"] and uniques == [["id"]]
    assert "`vector_sum`" in sql
    parse(sql)
    added = [sql for migration, sql in ddl if migration == "faces.0007_people_centroids_lock"]
    indexes = [sql for sql in added if sql.startswith("CREATE INDEX")]
    assert any("(`embedder`, `person_id`)" in sql for sql in indexes), indexes
    assert all("UNIQUE" not in sql for sql in added)


def test_layout_dimensions_match_the_embedders():
    from faces.embedders import DIMENSIONS

    assert VECTOR_DIMENSIONS == DIMENSIONS


def test_a_reference_storage_type_for_faces_is_refused(django_db_blocker):
    reference_faces = {"DJANGO_SINGLESTORE_TABLE_STORAGE_TYPE_FACES": "REFERENCE"}
    with (
        django_db_blocker.unblock(),
        offline_singlestore() as wrapper,
        mock.patch.dict(os.environ, reference_faces),
        pytest.raises(Exception, match="must be a distributed columnstore table"),
    ):
        migration_statements(wrapper)


# --- search queries -----------------------------------------------------------------------------


class RecordingCursor:
    def __init__(self, log: list, rows: list, description=None) -> None:
        self.log, self.rows, self.description = log, rows, description

    def execute(self, sql, params=None):
        self.log.append((sql, list(params or [])))

    def fetchall(self):
        return list(self.rows)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class RecordingConnection:
    """Stands in for django.db.connection: records statements, answers with canned rows."""

    vendor = "singlestore"

    def __init__(self, rows=(), description=None, version=(8, 9, 0)) -> None:
        self.log: list[tuple[str, list]] = []
        self.rows, self.description, self.version = list(rows), description, version

    def cursor(self):
        return RecordingCursor(self.log, self.rows, self.description)

    def get_database_version(self):
        return self.version


@pytest.mark.parametrize(
    ("movie_id", "exact", "scored_column"),
    [
        (None, False, "embedding_dlib_resnet"),  # the form an ANN index can answer
        (None, True, "embedding"),  # exact scan: the BLOB has no vector index
        (7, False, "embedding"),  # a movie filter is selective: exact scan of its segments
    ],
)
def test_nearest_sends_one_bound_dot_product_query(movie_id, exact, scored_column):
    rng = np.random.default_rng(1)
    query = random_unit(rng, 128)
    fake = RecordingConnection()
    SingleStoreBackend(fake).nearest(query, "dlib-resnet", 20, movie_id=movie_id, exact=exact)
    ((sql, params),) = fake.log
    tree = parse(sql, params)
    assert isinstance(tree, exp.Select)
    (dot,) = list(tree.find_all(exp.DotProduct))
    assert dot.this.name == scored_column
    assert tree.args["order"].sql(dialect="singlestore") == "ORDER BY `score` DESC"
    assert tree.args["limit"].expression.name == f"p{len(params)}"
    assert params[-1] == 20 + SCAN_MARGIN
    where = tree.args["where"].sql(dialect="singlestore")
    assert "`embedder` = :p2" in where
    assert params[1] == "dlib-resnet"
    assert ("`movie_id` = :p3" in where) == (movie_id is not None)
    # The query vector is a bound parameter, never SQL text.
    assert str(query[0])[:6] not in sql
    expected = pack_vector(query) if scored_column == "embedding" else None
    if expected is not None:
        assert params[0] == expected
    else:
        assert np.allclose(np.asarray(eval(params[0]), dtype=np.float32), query)


def test_nearest_ranks_the_candidates_exactly_and_applies_min_score():
    rng = np.random.default_rng(2)
    query = random_unit(rng, 128)
    vectors = {face_id: random_unit(rng, 128) for face_id in range(1, 61)}
    vectors[61] = vectors[60].copy()  # an exact duplicate: the tie goes to the lower id
    rows = [(face_id, pack_vector(vector), 0.0) for face_id, vector in vectors.items()]
    fake = RecordingConnection(rows)
    found = SingleStoreBackend(fake).nearest(query, "dlib-resnet", 61)
    hits = found.hits
    scores = {
        face_id: float(v.astype(np.float64) @ query.astype(np.float64))
        for face_id, v in vectors.items()
    }
    expected = sorted(scores, key=lambda face_id: (-scores[face_id], face_id))
    assert [hit.face_id for hit in hits] == expected
    assert [hit.score for hit in hits] == pytest.approx([scores[i] for i in expected], abs=1e-12)
    # The hits' vectors come from the same rows: one statement, no second fetch for grouping.
    assert len(fake.log) == 1
    assert all(np.array_equal(row, vectors[hit.face_id]) for hit, row in zip(hits, found.vectors))
    positive = [face_id for face_id in expected if scores[face_id] >= 0.0]
    assert len(positive) >= 5  # so that the limit, not the minimum score, ends the list
    limited = SingleStoreBackend(RecordingConnection(rows)).nearest(
        query, "dlib-resnet", 5, min_score=0.0
    )
    assert [hit.face_id for hit in limited.hits] == positive[:5]
    assert len(limited.vectors) == len(limited.hits)
    at_least = sorted(scores.values())[-3]  # a minimum that only three faces reach
    few = SingleStoreBackend(RecordingConnection(rows)).nearest(
        query, "dlib-resnet", 5, min_score=at_least
    )
    assert [hit.face_id for hit in few.hits] == expected[:3]


def test_nearest_rejects_a_vector_of_the_wrong_dimension():
    with pytest.raises(ValueError, match="128 dimensions, the query has 512"):
        SingleStoreBackend(RecordingConnection()).nearest(np.ones(512), "dlib-resnet", 5)


@pytest.fixture
def sqlite_dot_product(db):
    """Lets SQLite run the exact-scan statement itself (it accepts backtick identifiers)."""
    connection.ensure_connection()

    def dot_product(a, b):
        return float(np.frombuffer(a, "<f4").astype(np.float64) @ np.frombuffer(b, "<f4"))

    connection.connection.create_function("DOT_PRODUCT", 2, dot_product, deterministic=True)


def make_faces(rng, count_per_movie=30):
    """Two movies whose frames each hold one face per embedder."""
    movies = [make_movie(f"Movie {n}") for n in range(2)]
    for movie in movies:
        for index in range(count_per_movie):
            frame = make_frame(movie, index, stored=False, size=(64, 48))
            for face_index, (embedder, dimension) in enumerate(VECTOR_DIMENSIONS.items()):
                vector = random_unit(rng, dimension)
                make_face(frame, vector, face_index=face_index, embedder=embedder)
    return movies


def test_exact_scan_sql_returns_what_the_embedded_backend_returns(sqlite_dot_product):
    """The exact-scan statement, executed by SQLite, gives the embedded backend's hits."""
    from search.backends.embedded import EmbeddedBackend

    rng = np.random.default_rng(3)
    movies = make_faces(rng)
    embedded, sql_backend = EmbeddedBackend(), SingleStoreBackend(connection)
    for embedder, dimension in VECTOR_DIMENSIONS.items():
        query = random_unit(rng, dimension)
        for movie_id in (None, movies[1].pk):
            for k in (1, 5, 100):
                ours = sql_backend.nearest(query, embedder, k, movie_id=movie_id, exact=True)
                theirs = embedded.nearest(query, embedder, k, movie_id=movie_id, exact=True)
                assert [h.face_id for h in ours.hits] == [h.face_id for h in theirs.hits]
                assert len(ours.hits) == min(k, 30 if movie_id else 60)
                assert np.allclose([h.score for h in ours.hits], [h.score for h in theirs.hits])
                assert np.array_equal(ours.vectors, theirs.vectors)


# --- vector index management --------------------------------------------------------------------

SHOW_INDEX_COLUMNS = [("Table",), ("Non_unique",), ("Key_name",), ("Index_type",)]


def test_vector_index_statements():
    fake = RecordingConnection(rows=[], description=SHOW_INDEX_COLUMNS)
    sql = create_vector_index("dlib-resnet", "HNSW_FLAT", {"M": 16}, connection=fake)
    assert sql == REVIEWED_VECTOR_INDEX_SQL
    assert [s for s, _ in fake.log] == ["SHOW INDEXES FROM `faces_face`", sql]
    assert isinstance(parse(fake.log[0][0]), exp.Show)
    assert isinstance(parse(sql), exp.Command) and reviewed_command(sql) == "add vector index"

    indexed = [("faces_face", 1, "faces_face_embedding_dlib_resnet_ann", "VECTOR")]
    fake = RecordingConnection(rows=indexed, description=SHOW_INDEX_COLUMNS)
    assert vector_index_status(fake) == {
        "facenet-vggface2": None,
        "dlib-resnet": "VECTOR",
        "dlib-resnet-mtcnn": None,
    }
    sql = drop_vector_index("dlib-resnet", connection=fake)
    assert sql == "DROP INDEX `faces_face_embedding_dlib_resnet_ann` ON `faces_face`"
    assert isinstance(parse(sql), exp.Drop)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"embedder": "vgg"}, "Unknown embedder 'vgg'"),
        ({"index_type": "BTREE"}, "Unknown index type 'BTREE'"),
        ({"options": {"nlist": "1; DROP TABLE x"}}, "is not allowed"),
        ({"options": {"evil'": 3}}, "is not allowed"),
    ],
)
def test_vector_index_rejects_bad_requests(kwargs, message):
    request = {"embedder": "dlib-resnet", "index_type": "IVF_PQFS", "options": None, **kwargs}
    fake = RecordingConnection(rows=[], description=SHOW_INDEX_COLUMNS)
    with pytest.raises(Exception, match=re.escape(message)):
        create_vector_index(connection=fake, **request)
    assert not any(sql.startswith("ALTER") for sql, _ in fake.log)


def test_vector_index_needs_8_9_for_nullable_vector_columns():
    fake = RecordingConnection(description=SHOW_INDEX_COLUMNS, version=(8, 7, 4))
    with pytest.raises(Exception, match=r"8\.7\.4 cannot index a nullable VECTOR column"):
        create_vector_index("dlib-resnet", connection=fake)
    assert fake.log == []


def test_vector_index_command_explains_it_needs_singlestore(db):
    with pytest.raises(CommandError, match="only on SingleStoreDB; this database is sqlite"):
        call_command("vector_index", "status")


# --- configuration and start-up faults ----------------------------------------------------------


def test_singlestore_url_selects_the_singlestore_engine():
    before = dict(os.environ)
    config = database_config(
        "singlestoredb://admin:p%40ss@db.internal:3307/films?ssl_ca=/etc/ca.pem", Path()
    )
    assert config["ENGINE"] == "config.singlestore"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == (
        "admin",
        "p@ss",
        "db.internal",
        3307,
    )
    assert config["NAME"] == "films"
    assert config["OPTIONS"] == {"ssl_ca": "/etc/ca.pem"}
    assert dict(os.environ) == before
    with offline_singlestore() as wrapper:
        assert wrapper.vendor == "singlestore"


def test_sqlite_urls_keep_their_behaviour(tmp_path):
    config = database_config("sqlite:///var/db.sqlite3", tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "var" / "db.sqlite3")
    assert not (tmp_path / "var").exists()


def live_wrapper(url: str) -> DatabaseWrapper:
    settings_dict = complete_settings(database_config(url, Path()))
    return DatabaseWrapper(settings_dict, alias="probe")


@pytest.fixture
def network_db(django_db_blocker):
    """These tests open their own connections (never the test database)."""
    with django_db_blocker.unblock():
        yield


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_is_one_clear_error(network_db):
    wrapper = live_wrapper(f"singlestoredb://root:x@127.0.0.1:{closed_port()}/facefinder")
    with pytest.raises(OperationalError, match=r"Cannot reach SingleStoreDB at 127\.0\.0\.1:\d+"):
        wrapper.ensure_connection()
    (error,) = [issue for issue in wrapper.validation.check() if issue.level >= 40]
    assert error.id == "facefinder.singlestore.E001"
    assert "Cannot reach SingleStoreDB" in error.msg


def mariadb_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 3306), timeout=1).close()
        return True
    except OSError:
        return False


needs_mariadb = pytest.mark.skipif(
    not mariadb_answers(), reason="no MySQL-protocol server (MariaDB) on 127.0.0.1:3306"
)


@needs_mariadb
def test_wrong_credentials_are_one_clear_error(network_db):
    wrapper = live_wrapper("singlestoredb://facefinder_nobody:wrong@127.0.0.1:3306/facefinder")
    with pytest.raises(OperationalError, match="refused user 'facefinder_nobody': wrong user name"):
        wrapper.ensure_connection()


@needs_mariadb
def test_a_server_that_is_not_singlestore_is_refused_at_connection(network_db):
    """MariaDB speaks the same protocol; the version check must say it is not SingleStoreDB."""
    wrapper = live_wrapper("singlestoredb://root@127.0.0.1:3306/mysql")
    try:
        with pytest.raises(NotSupportedError, match=r"is not SingleStoreDB \(it reports '10\."):
            wrapper.ensure_connection()
    finally:
        wrapper.close()


def test_a_server_older_than_supported_is_refused():
    message = r"8\.5\.21 or later is required \(found 8\.1\.32\)"
    with (
        offline_singlestore(version=(8, 1, 32)) as wrapper,
        pytest.raises(NotSupportedError, match=message),
    ):
        wrapper.check_database_version_supported()


def test_checksums_are_unique_in_a_table_sharded_by_the_checksum(ddl):
    """Movies are sharded by id, so a unique checksum cannot live on them: movies_moviechecksum
    is sharded by its primary key, the checksum, and may therefore enforce it (the file added
    by two adds at once is one movie on every backend)."""
    sql = create_table(ddl, "movies_moviechecksum")
    assert sql.startswith("CREATE  TABLE")  # distributed, not a reference table
    shard, uniques = shard_and_unique_keys(sql)
    assert shard == ["checksum"]
    assert uniques == [["checksum"]]
    assert isinstance(parse(sql), exp.Create)
    # The movie's run token and heartbeat are plain columns added to movies_movie.
    added = [s for m, s in ddl if m == "movies.0007_run_identity" and "movies_movie`" in s]
    assert any("ADD COLUMN `run_token` varchar(32)" in s for s in added), added
    assert any("ADD COLUMN `heartbeat_at`" in s for s in added), added


@pytest.mark.parametrize("table", ["faces_correction", "faces_rejection", "faces_pendingmember"])
def test_correction_tables_are_sharded_by_id_with_plain_keys(ddl, table):
    """History, rejections and pending members are looked up by person or movie through plain
    keys: a unique one would need the shard key (id)."""
    sql = create_table(ddl, table)
    shard, uniques = shard_and_unique_keys(sql)
    assert shard == ["id"] and uniques == [["id"]]
    parse(sql)
    added = [sql for migration, sql in ddl if migration == "faces.0008_corrections"]
    assert all("UNIQUE" not in sql for sql in added)
    if table != "faces_correction":
        assert any(f"ON `{table}` (`movie_id`)" in sql for sql in added), added
