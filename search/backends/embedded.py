"""The embedded vector backend: vectors searched in-process, kept in step with the database.

Used on every database but SingleStoreDB (SQLite by default). Per embedder, a ``Collection``
(``collection.py``) holds the float32 vector of every stored face, in segments, plus IVF
indexes over 8-bit quantised copies once the collection is large. Searching:

- up to ``FACEFINDER_SEARCH_EXACT_MAX_FACES`` faces, or with ``exact=True``: an exact scan (one
  matrix-vector product per segment);
- above it: the IVF indexes propose candidates, which are re-scored exactly from the float32
  vectors. Only the candidate choice is approximate (recall measured by ``bench_search``); every
  score shown is the exact dot product;
- a movie filter scans that movie's faces exactly when they are few enough, else searches the
  indexes restricted to them.

Persisted (``FACEFINDER_SEARCH_INDEX_DIR``, layout in ``index_store.py``): the segments live in
files that every web process and worker memory-maps read-only, so one copy in the page cache
serves them all and a restarted process searches at once instead of reloading the table.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection

from search.backends.base import Neighbours
from search.backends.collection import Collection
from search.backends.index_store import IndexStore, database_key
from search.backends.vector_table import FACE_VECTORS, SQLiteCommitWatcher, VectorTable


class EmbeddedBackend:
    """In-process vector search for SQLite, PostgreSQL, MySQL/MariaDB (see the module doc)."""

    def __init__(self) -> None:
        self._collections: dict[tuple[str, str], Collection] = {}
        self._watchers: dict[str, SQLiteCommitWatcher] = {}
        self._lock = threading.Lock()

    def collection(self, embedder: str, table: VectorTable = FACE_VECTORS) -> Collection:
        with self._lock:
            key = (table.name, embedder)
            if key not in self._collections:
                self._collections[key] = Collection(table, embedder, _store_for(table, embedder))
            return self._collections[key]

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
        collection = self.collection(embedder)
        data_version = self._data_version()
        with collection.lock:
            collection.sync(data_version)
            return collection.nearest(
                vector, k, movie_id=movie_id, min_score=min_score, exact=exact
            )

    def _data_version(self) -> int | None:
        """The SQLite file's commit counter, or None where the fingerprint must be asked.

        Not trusted inside a transaction of this thread's connection (its uncommitted rows are
        visible to it but move no counter), nor for in-memory databases, nor off SQLite.
        """
        if connection.vendor != "sqlite" or connection.in_atomic_block:
            return None
        if connection.is_in_memory_db():
            return None
        path = connection.settings_dict["NAME"]
        with self._lock:
            watcher = self._watchers.get(path)
            if watcher is None:
                watcher = self._watchers[path] = SQLiteCommitWatcher(path)
        return watcher.version()

    def forget(self) -> None:
        """Drop every in-process collection (files stay; a restarted process sees the same)."""
        with self._lock:
            self._collections.clear()
            for watcher in self._watchers.values():
                watcher.close()
            self._watchers.clear()


def _store_for(table: VectorTable, embedder: str) -> IndexStore | None:
    """The collection's files, or None where ``FACEFINDER_SEARCH_INDEX_DIR`` is empty."""
    root = settings.FACEFINDER_SEARCH_INDEX_DIR
    if not root:
        return None
    return IndexStore(Path(root) / database_key() / table.name / embedder)
