"""What the embedded backend reads from a table of vectors, and how it learns the table changed.

A vector table holds rows of (id, movie id, embedder name, vector blob): the faces table today,
and any later table of the same shape (a ``VectorTable`` names its model and columns). Cheap
questions first (a fingerprint of the whole table, a range count of new ids, per-movie counts
from the ``(embedder, movie)`` index, SQLite's commit counter), then chunked loads of the rows
the backend lacks. How the backend combines them to stay in step with other processes:
``search/backends/embedded.py``.

Ids only grow: Django creates SQLite primary keys with AUTOINCREMENT and other databases use
sequences, so an id is never handed out twice. Rows are never updated in place (ingest deletes
and re-inserts). Both facts are what make "compare counts, load what is new" sound.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from django.db import connection, models
from django.db.models import Count

from faces.models import Face

# How many rows one database round trip loads.
LOAD_CHUNK = 20_000
# Most values bound into one ``IN (...)`` (SQLite allows 32766 parameters).
IN_CHUNK = 10_000

Rows = tuple[np.ndarray, np.ndarray, np.ndarray]  # ids, movie ids, float32 vectors (n, dim)


@dataclass(frozen=True)
class VectorTable:
    """A table of (id, movie id, embedder, little-endian float32 blob) rows."""

    model: type[models.Model]
    movie_field: str = "movie_id"
    embedder_field: str = "embedder"
    vector_field: str = "embedding"

    @property
    def name(self) -> str:
        return self.model._meta.db_table

    def _rows(self, embedder: str | None = None) -> models.QuerySet:
        rows = self.model._base_manager.all()
        return rows if embedder is None else rows.filter(**{self.embedder_field: embedder})

    def fingerprint(self) -> tuple[int, int]:
        """(row count, largest id) of the whole table, in one round trip.

        On SQLite both are answered without reading rows: a bare ``COUNT(*)`` counts b-tree
        cells and ``MAX(id)`` reads the last key. The table name is the model's, never user
        input.
        """
        table = connection.ops.quote_name(self.name)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT (SELECT COUNT(*) FROM {table}), (SELECT MAX(id) FROM {table})")  # noqa: S608
            count, max_id = cursor.fetchone()
        return int(count), int(max_id or 0)

    def rows_between(self, after_id: int, upto_id: int) -> int:
        """Rows (of every embedder) with ``after_id < id <= upto_id``: a primary-key range."""
        return self._rows().filter(id__gt=after_id, id__lte=upto_id).count()

    def movie_counts(self, embedder: str, *, upto_id: int) -> dict[int, int]:
        """Movie id → number of the embedder's rows with ``id <= upto_id`` (an index scan)."""
        counts = (
            self._rows(embedder)
            .filter(id__lte=upto_id)
            .values_list(self.movie_field)
            .annotate(rows=Count("id"))
            .order_by()
        )
        return {int(movie): int(rows) for movie, rows in counts}

    def ids_of_movies(self, embedder: str, movie_ids: Iterable[int], *, upto_id: int) -> np.ndarray:
        """Sorted ids of the embedder's rows of these movies with ``id <= upto_id``."""
        movie_ids = sorted(movie_ids)
        found: list[int] = []
        for start in range(0, len(movie_ids), IN_CHUNK):
            chunk = movie_ids[start : start + IN_CHUNK]
            found.extend(
                self._rows(embedder)
                .filter(**{f"{self.movie_field}__in": chunk}, id__lte=upto_id)
                .values_list("id", flat=True)
                .order_by()
            )
        return np.unique(np.asarray(found, dtype=np.int64))

    def rows_with_ids(self, embedder: str, ids: Iterable[int]) -> Rows:
        """The embedder's rows among ``ids`` (absent ones are left out), by id."""
        ids = sorted(int(i) for i in ids)
        rows = (
            self._rows(embedder)
            .filter(id__in=ids)
            .order_by("id")
            .values_list("id", self.movie_field, self.vector_field)
        )
        return self._chunk(embedder, list(rows))

    def iter_rows(
        self, embedder: str, *, after_id: int, upto_id: int | None = None
    ) -> Iterator[Rows]:
        """Chunks of (ids, movie ids, vectors) of the embedder, ``after_id < id <= upto_id``.

        Streams in chunks so that loading a million 2 KB vectors never holds them twice.
        """
        rows = self._rows(embedder).filter(id__gt=after_id)
        if upto_id is not None:
            rows = rows.filter(id__lte=upto_id)
        values = rows.order_by("id").values_list("id", self.movie_field, self.vector_field)
        batch: list[tuple[int, int, bytes]] = []
        for row in values.iterator(chunk_size=LOAD_CHUNK):
            batch.append(row)
            if len(batch) >= LOAD_CHUNK:
                yield self._chunk(embedder, batch)
                batch = []
        if batch:
            yield self._chunk(embedder, batch)

    def _chunk(self, embedder: str, rows: list[tuple[int, int, bytes]]) -> Rows:
        if not rows:
            return (np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, 0), np.float32))
        blobs = [bytes(blob) for _, _, blob in rows]
        lengths = {len(blob) for blob in blobs}
        if len(lengths) != 1:
            raise ValueError(
                f"{embedder} rows of {self.name} hold vectors of different lengths: "
                f"{sorted(lengths)}"
            )
        dim = lengths.pop() // 4
        return (
            np.asarray([row[0] for row in rows], dtype=np.int64),
            np.asarray([row[1] for row in rows], dtype=np.int64),
            np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, dim),
        )


# The faces table: one vector per detected face.
FACE_VECTORS = VectorTable(Face)


class SQLiteCommitWatcher:
    """Tells, in microseconds, whether any connection committed to a SQLite file since last asked.

    ``PRAGMA data_version`` on a connection of its own changes whenever another connection (of
    any process) commits; this one only reads that counter, so every writer is "another". It
    replaces the ``COUNT(*)`` fingerprint (about 8 ms at 1M faces) on the common path where
    nothing changed between two searches.
    """

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(path, check_same_thread=False)

    def version(self) -> int:
        with self._lock:
            return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._connection.close()
