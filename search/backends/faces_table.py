"""What the embedded backend reads from the faces table, and how it learns the table changed.

Cheap questions first (a fingerprint of the whole table or of one embedder's rows, a range count
of new ids, SQLite's commit counter), then chunked loads of the rows it lacks. How the backend
combines them to stay in step with other processes: ``search/backends/embedded.py``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import numpy as np
from django.db import connection
from django.db.models import Max

from faces.models import Face

# How many rows one database round trip loads.
LOAD_CHUNK = 20_000


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


def table_fingerprint() -> tuple[int, int]:
    """(row count, largest id) of the whole faces table, in one round trip.

    On SQLite both are answered without reading rows: a bare ``COUNT(*)`` counts b-tree cells
    and ``MAX(id)`` reads the last key. The table name is the model's, never user input.
    """
    table = connection.ops.quote_name(Face._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT COUNT(*) FROM {table}), (SELECT MAX(id) FROM {table})")  # noqa: S608
        count, max_id = cursor.fetchone()
    return int(count), int(max_id or 0)


def rows_between(after_id: int, upto_id: int) -> int:
    """Faces with ``after_id < id <= upto_id`` (a primary-key range: cheap)."""
    return Face.objects.filter(id__gt=after_id, id__lte=upto_id).count()


def embedder_fingerprint(embedder: str) -> tuple[int, int]:
    faces = Face.objects.filter(embedder=embedder)
    return faces.count(), faces.aggregate(top=Max("id"))["top"] or 0


def iter_rows(
    embedder: str, *, after_id: int, upto_id: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Chunks of (ids, movie ids, vectors) of the embedder's faces, ``after_id < id <= upto_id``.

    Streams in chunks so that loading a million 2 KB vectors never holds them twice.
    """
    faces = Face.objects.filter(embedder=embedder, id__gt=after_id)
    if upto_id is not None:
        faces = faces.filter(id__lte=upto_id)
    rows = faces.order_by("id").values_list("id", "movie_id", "embedding")
    ids: list[int] = []
    movies: list[int] = []
    blobs: list[bytes] = []
    for face_id, movie_id, blob in rows.iterator(chunk_size=LOAD_CHUNK):
        ids.append(face_id)
        movies.append(movie_id)
        blobs.append(bytes(blob))
        if len(ids) >= LOAD_CHUNK:
            yield _chunk(embedder, ids, movies, blobs)
            ids, movies, blobs = [], [], []
    if ids:
        yield _chunk(embedder, ids, movies, blobs)


def _chunk(
    embedder: str, ids: list[int], movies: list[int], blobs: list[bytes]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lengths = {len(blob) for blob in blobs}
    if len(lengths) != 1:
        raise ValueError(f"{embedder} faces hold vectors of different lengths: {sorted(lengths)}")
    dim = lengths.pop() // 4
    return (
        np.asarray(ids, dtype=np.int64),
        np.asarray(movies, dtype=np.int64),
        np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, dim),
    )
