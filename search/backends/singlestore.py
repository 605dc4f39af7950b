"""Vector search in SingleStoreDB SQL, and the optional ANN vector index.

Every statement is built from fixed identifiers (table, column and index names from the models
and ``config.singlestore.layout``) and takes user values only as bound parameters.

Searching (``nearest``):

- unfiltered, not ``exact``: ``DOT_PRODUCT`` on the embedder's ``VECTOR(n, F32)`` column,
  ``ORDER BY score DESC LIMIT n`` — the form SingleStoreDB answers from an ANN vector index when
  one exists (``manage.py vector_index create``), and with a full scan otherwise;
- ``exact=True`` or filtered by movie: ``DOT_PRODUCT`` on the ``embedding`` BLOB. No vector
  index is ever built on that column, so the scan is exact whatever indexes exist; with a movie
  filter the shard key and sort key keep it to that movie's segments (SingleStore's guidance:
  selective filters do not need an index, and an ANN index applies filters only after choosing
  candidates, which could return fewer than k of the movie's faces).

Either way SQL returns the best ``k + SCAN_MARGIN`` rows with their stored vectors, and the
final order is computed here exactly as the embedded backend does it (float64 dot products of
the float32 vectors, ties by face id), so both backends return the same hits and scores. The
vectors of the hits go back with them (the search groups near-duplicates by them), so one
statement per search is all SingleStoreDB is asked.
"""

from __future__ import annotations

import json
import re

import numpy as np
from django.db import connection as default_connection

from config.singlestore.layout import (
    VECTOR_DIMENSIONS,
    vector_column,
    vector_index_name,
)
from faces.models import Face, pack_vector, unpack_vector
from search.backends.base import SCAN_MARGIN, Neighbours, rank_exactly

VENDOR = "singlestore"

INDEX_TYPES = ("AUTO", "FLAT", "IVF_FLAT", "IVF_PQ", "IVF_PQFS", "HNSW_FLAT", "HNSW_PQ")
# Integer build options SingleStoreDB's INDEX_OPTIONS accept for those index types.
INDEX_INT_OPTIONS = ("nlist", "nprobe", "m", "nbits", "M", "efConstruction", "ef")
METRIC = "DOT_PRODUCT"


class VectorIndexError(Exception):
    """A vector-index request that cannot be carried out; the message says why."""


class SingleStoreBackend:
    """``VectorBackend`` for SingleStoreDB (``connection.vendor == "singlestore"``)."""

    def __init__(self, connection=None) -> None:
        self.connection = connection or default_connection

    def nearest(
        self,
        vector: np.ndarray,
        embedder: str,
        k: int,
        *,
        movie_id: int | None = None,
        min_score: float | None = None,
        exact: bool = False,
    ) -> Neighbours:
        query = np.asarray(vector, dtype="<f4").reshape(-1)
        if k <= 0:
            return Neighbours.none()
        sql, params = nearest_sql(query, embedder, k + SCAN_MARGIN, movie_id=movie_id, exact=exact)
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if not rows:
            return Neighbours.none()
        face_ids = np.asarray([int(row[0]) for row in rows], dtype=np.int64)
        vectors = np.stack([unpack_vector(row[1]) for row in rows])
        return rank_exactly(query, face_ids, vectors, k, min_score)


def _quote(name: str) -> str:
    """Backtick-quote a fixed identifier (never a user value)."""
    return f"`{name}`"


def _face_table() -> str:
    return _quote(Face._meta.db_table)


def nearest_sql(
    query: np.ndarray, embedder: str, limit: int, *, movie_id: int | None, exact: bool
) -> tuple[str, list]:
    """The candidate query: ``(id, embedding, score)`` rows, best score first."""
    if embedder not in VECTOR_DIMENSIONS:
        raise ValueError(f"unknown embedder {embedder!r}")
    if query.shape != (VECTOR_DIMENSIONS[embedder],):
        raise ValueError(
            f"{embedder} vectors have {VECTOR_DIMENSIONS[embedder]} dimensions, "
            f"the query has {query.shape[0]}"
        )
    use_vector_column = not exact and movie_id is None
    if use_vector_column:
        vector_type = f"VECTOR({VECTOR_DIMENSIONS[embedder]}, F32)"
        score = f"DOT_PRODUCT({_quote(vector_column(embedder))}, %s :> {vector_type})"
        # JSON text is the documented input form of a VECTOR cast.
        params: list = [json.dumps([float(x) for x in query])]
    else:
        score = f"DOT_PRODUCT({_quote('embedding')}, %s)"
        params = [pack_vector(query)]
    where = [f"{_quote('embedder')} = %s"]
    params.append(embedder)
    if movie_id is not None:
        where.append(f"{_quote('movie_id')} = %s")
        params.append(int(movie_id))
    params.append(int(limit))
    # Identifiers and %s placeholders only: every value travels in params.
    sql = (
        f"SELECT {_quote('id')}, {_quote('embedding')}, {score} AS {_quote('score')} "  # noqa: S608
        f"FROM {_face_table()} WHERE {' AND '.join(where)} "
        f"ORDER BY {_quote('score')} DESC LIMIT %s"
    )
    return sql, params


# --- the optional ANN vector index ------------------------------------------------------------


def require_singlestore(connection=None) -> None:
    connection = connection or default_connection
    if connection.vendor != VENDOR:
        raise VectorIndexError(
            f"Vector indexes exist only on SingleStoreDB; this database is "
            f"{connection.vendor} (set DATABASE_URL=singlestoredb://...)."
        )


def index_options_json(index_type: str, options: dict[str, int] | None = None) -> str:
    """The INDEX_OPTIONS text: validated names and integers only, so it is safe as a literal."""
    index_type = index_type.upper()
    if index_type not in INDEX_TYPES:
        raise VectorIndexError(
            f"Unknown index type {index_type!r}; choose one of {', '.join(INDEX_TYPES)}."
        )
    document: dict[str, object] = {"index_type": index_type, "metric_type": METRIC}
    for name, value in (options or {}).items():
        if name not in INDEX_INT_OPTIONS or not isinstance(value, int) or value <= 0:
            raise VectorIndexError(
                f"Index option {name}={value!r} is not allowed; options are positive integers "
                f"named {', '.join(INDEX_INT_OPTIONS)}."
            )
        document[name] = value
    text = json.dumps(document)
    if not re.fullmatch(r'[\w{}":, ]+', text):  # nothing that could end the SQL literal
        raise VectorIndexError(f"Refusing index options {text!r}.")
    return text


def create_index_sql(embedder: str, index_type: str, options: dict[str, int] | None) -> str:
    return (
        f"ALTER TABLE {_face_table()} ADD VECTOR INDEX {_quote(vector_index_name(embedder))} "
        f"({_quote(vector_column(embedder))}) "
        f"INDEX_OPTIONS '{index_options_json(index_type, options)}'"
    )


def drop_index_sql(embedder: str) -> str:
    return f"DROP INDEX {_quote(vector_index_name(embedder))} ON {_face_table()}"


def show_indexes_sql() -> str:
    return f"SHOW INDEXES FROM {_face_table()}"


def vector_index_status(connection=None) -> dict[str, str | None]:
    """Embedder → index type of its ANN index (None when it has none)."""
    connection = connection or default_connection
    require_singlestore(connection)
    with connection.cursor() as cursor:
        cursor.execute(show_indexes_sql())
        names = [column[0].lower() for column in cursor.description]
        rows = [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]
    found = {row.get("key_name"): row.get("index_type") for row in rows}
    return {name: found.get(vector_index_name(name)) for name in VECTOR_DIMENSIONS}


def create_vector_index(
    embedder: str, index_type: str = "AUTO", options: dict[str, int] | None = None, connection=None
) -> str:
    """Add the ANN index on ``embedder``'s VECTOR column; returns the statement it ran."""
    connection = connection or default_connection
    require_singlestore(connection)
    _known_embedder(embedder)
    version = connection.get_database_version()
    if version < (8, 9, 0):
        found = ".".join(map(str, version))
        raise VectorIndexError(
            f"SingleStoreDB {found} cannot index a nullable VECTOR column (8.9 or later can); "
            "searches keep working with exact scans."
        )
    if vector_index_status(connection).get(embedder):
        raise VectorIndexError(f"{embedder} already has a vector index; drop it first.")
    sql = create_index_sql(embedder, index_type, options)
    with connection.cursor() as cursor:
        cursor.execute(sql)
    return sql


def drop_vector_index(embedder: str, connection=None) -> str:
    connection = connection or default_connection
    require_singlestore(connection)
    _known_embedder(embedder)
    if not vector_index_status(connection).get(embedder):
        raise VectorIndexError(f"{embedder} has no vector index.")
    sql = drop_index_sql(embedder)
    with connection.cursor() as cursor:
        cursor.execute(sql)
    return sql


def _known_embedder(embedder: str) -> None:
    if embedder not in VECTOR_DIMENSIONS:
        raise VectorIndexError(
            f"Unknown embedder {embedder!r}; choose one of {', '.join(VECTOR_DIMENSIONS)}."
        )
