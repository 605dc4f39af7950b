"""The embedded vector backend: an in-process copy of the face vectors, kept in step with the table.

Used on every database but SingleStoreDB (SQLite by default). Each process (web server, command)
keeps, per embedder, the float32 vectors of every stored face in one matrix, plus an IVF index
over 8-bit quantised copies once the collection is large. Searching:

- up to ``FACEFINDER_SEARCH_EXACT_MAX_FACES`` faces, or with ``exact=True``: an exact scan (one
  matrix-vector product);
- above it: the IVF index proposes candidates, which are re-scored exactly from the float32
  vectors. Only the candidate choice is approximate (recall measured by ``bench_search``); every
  score shown is the exact dot product;
- a movie filter scans that movie's faces exactly when they are few enough, else searches the
  index restricted to them.

Staying current across processes: ingest runs in rq workers, so before every search the
collection compares a cheap fingerprint of the faces table (``COUNT(*)`` and ``MAX(id)``, both
answered from the b-trees on SQLite) with the one it last saw. Ids only grow (Django creates
SQLite primary keys with AUTOINCREMENT; other databases use sequences), so when the table grew
by exactly the number of rows above the last seen id, nothing was deleted and only those rows
are loaded. Otherwise the embedder's own count and largest id decide between loading newer rows
and rebuilding the collection from the table (a deleted movie, a re-ingest). Stored faces
are never updated in place (ingest deletes and re-inserts), which is what makes this sound.
"""

from __future__ import annotations

import logging
import math
import threading
import time

import faiss
import numpy as np
from django.conf import settings
from django.db import connection

from search.backends.base import SCAN_MARGIN, Neighbours, rank_exactly
from search.backends.faces_table import (
    SQLiteCommitWatcher,
    embedder_fingerprint,
    iter_rows,
    rows_between,
    table_fingerprint,
)

logger = logging.getLogger(__name__)

# The IVF index is retrained when its collection has grown this many times since training
# (centroids trained on a small collection describe a large one poorly).
RETRAIN_GROWTH = 4
# Share of the IVF lists searched per query, and the fewest lists. Measured on 1M face-like
# 512-d vectors (search.synthetic, about 1000 lists, 100 queries): recall@20 against the exact
# scan was 1.0 at 1/8, 0.9995 at 1/16, 0.9965 at 1/32; 1/16 costs ~30 % less than 1/8.
PROBE_FRACTION = 1 / 16
MIN_PROBES = 16
# Candidates re-scored exactly per query: this many per requested result, and at least FLOOR.
CANDIDATES_PER_RESULT = 5
CANDIDATES_FLOOR = 200


class Collection:
    """The vectors of one embedder's faces in this process, and the index over them."""

    def __init__(self, embedder: str) -> None:
        self.embedder = embedder
        self.lock = threading.RLock()
        self.dim = 0
        self.count = 0
        self.max_id = 0
        self.ids = np.empty(0, dtype=np.int64)  # ascending; row i holds face ids[i]
        self.movie_ids = np.empty(0, dtype=np.int64)
        self.matrix = np.empty((0, 0), dtype=np.float32)
        self.index: faiss.IndexIVFScalarQuantizer | None = None
        self.trained_count = 0
        self.table_seen: tuple[int, int] | None = None
        self.data_version_seen: int | None = None
        self.last_build_seconds = 0.0
        self._reserve = 0  # rows expected by a rebuild, so that loading allocates once

    # --- keeping in step with the table -------------------------------------------------------

    def sync(self, data_version: int | None = None) -> None:
        """Bring the collection up to date with the faces table (cheap when nothing changed).

        ``data_version`` is the SQLite file's commit counter (see ``SQLiteCommitWatcher``) when
        it can be trusted; unchanged since the last sync, nothing was committed anywhere and
        even the fingerprint query is skipped.
        """
        if data_version is not None and data_version == self.data_version_seen:
            return
        table = table_fingerprint()
        try:
            if table != self.table_seen and not self._append_if_only_inserted(table):
                count, max_id = embedder_fingerprint(self.embedder)
                if (count, max_id) != (self.count, self.max_id):
                    appended = max_id > self.max_id and self._append_newer(
                        upto=max_id, expected_count=count
                    )
                    if not appended:
                        self.rebuild(expected_count=count)
        except BaseException:
            self._clear()  # half-loaded: start from the table next time
            raise
        # Only once in step: a failed load must not leave the counter marked as seen.
        self.table_seen = table
        self.data_version_seen = data_version

    def _append_if_only_inserted(self, table: tuple[int, int]) -> bool:
        """The common case while an ingest runs: rows were added, none deleted, anywhere.

        Then the table grew by exactly the rows whose ids lie above the largest id seen last
        time, and this embedder's share of them is all there is to load. Counting those rows
        is a range scan over new ids only; the per-embedder count (a scan of all its rows) is
        left to the rarer case of a deletion.
        """
        if self.table_seen is None:
            return False
        seen_count, seen_max = self.table_seen
        count, max_id = table
        if max_id < seen_max or count - seen_count != rows_between(seen_max, max_id):
            return False
        added = 0
        for ids, movie_ids, vectors in iter_rows(self.embedder, after_id=seen_max, upto_id=max_id):
            self._append(ids, movie_ids, vectors)
            added += len(ids)
        self._update_index(new_rows=added)
        return True

    def _append_newer(self, *, upto: int, expected_count: int) -> bool:
        """Load the rows added since the last sync; False when rows also disappeared."""
        before = self.count
        for ids, movie_ids, vectors in iter_rows(self.embedder, after_id=self.max_id, upto_id=upto):
            self._append(ids, movie_ids, vectors)
        if self.count != expected_count:
            return False
        self._update_index(new_rows=self.count - before)
        return True

    def rebuild(self, expected_count: int = 0) -> None:
        """Reload every vector of this embedder from the table and rebuild the index."""
        started = time.perf_counter()
        self._clear()
        self._reserve = expected_count
        for ids, movie_ids, vectors in iter_rows(self.embedder, after_id=0):
            self._append(ids, movie_ids, vectors)
        self._update_index(new_rows=self.count)
        self.last_build_seconds = time.perf_counter() - started
        logger.info(
            "search index for %s rebuilt: %d faces in %.2f s",
            self.embedder,
            self.count,
            self.last_build_seconds,
        )

    def _clear(self) -> None:
        self.count = 0
        self.max_id = 0
        self.index = None
        self.trained_count = 0
        self.ids = np.empty(0, dtype=np.int64)
        self.movie_ids = np.empty(0, dtype=np.int64)
        self.matrix = np.empty((0, self.dim), dtype=np.float32)
        self.table_seen = None
        self.data_version_seen = None

    def _append(self, ids: np.ndarray, movie_ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        if self.count == 0 and vectors.shape[1] != self.dim:
            self.dim = vectors.shape[1]
            self.ids = np.empty(0, dtype=np.int64)
            self.matrix = np.empty((0, self.dim), dtype=np.float32)
        elif vectors.shape[1] != self.dim:
            raise ValueError(
                f"{self.embedder} vectors have {vectors.shape[1]} dimensions, expected {self.dim}"
            )
        needed = self.count + len(ids)
        if needed > len(self.ids):
            self._grow(needed)
        rows = slice(self.count, needed)
        self.ids[rows] = ids
        self.movie_ids[rows] = movie_ids
        self.matrix[rows] = vectors
        self.count = needed
        self.max_id = int(ids[-1])

    def _grow(self, needed: int) -> None:
        """Grow the arrays geometrically so that appends stay amortised O(1)."""
        capacity = max(needed, int(len(self.ids) * 1.5), self._reserve, 1024)
        ids = np.empty(capacity, dtype=np.int64)
        movie_ids = np.empty(capacity, dtype=np.int64)
        matrix = np.empty((capacity, self.dim), dtype=np.float32)
        ids[: self.count] = self.ids[: self.count]
        movie_ids[: self.count] = self.movie_ids[: self.count]
        matrix[: self.count] = self.matrix[: self.count]
        self.ids, self.movie_ids, self.matrix = ids, movie_ids, matrix

    def _update_index(self, *, new_rows: int) -> None:
        """Train, extend or drop the IVF index to suit the collection's size."""
        if self.count <= exact_max_faces():
            self.index = None
            self.trained_count = 0
            return
        if self.index is None or self.count > RETRAIN_GROWTH * self.trained_count:
            self.index = train_ivf(self.matrix[: self.count])
            self.trained_count = self.count
            self.index.add(self.matrix[: self.count])
        elif new_rows:
            self.index.add(self.matrix[self.count - new_rows : self.count])

    # --- searching ----------------------------------------------------------------------------

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        *,
        movie_id: int | None,
        min_score: float | None,
        exact: bool,
    ) -> Neighbours:
        if self.count == 0:
            return Neighbours.none()
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise ValueError(
                f"the query has {query.shape[0]} dimensions; {self.embedder} has {self.dim}"
            )
        rows = (
            None if movie_id is None else np.flatnonzero(self.movie_ids[: self.count] == movie_id)
        )
        if rows is not None and not len(rows):
            return Neighbours.none()
        use_index = self.index is not None and not exact
        if use_index and rows is not None and len(rows) <= exact_max_faces():
            use_index = False
        if use_index:
            candidates = self._index_candidates(query, k, rows)
        else:
            candidates = self._scan_candidates(query, k, rows)
        return rank_exactly(query, self.ids[candidates], self.matrix[candidates], k, min_score)

    def _scan_candidates(self, query: np.ndarray, k: int, rows: np.ndarray | None) -> np.ndarray:
        """Exact float32 scan of all rows (or of ``rows``); returns row numbers of the best."""
        vectors = self.matrix[: self.count] if rows is None else self.matrix[rows]
        scores = vectors @ query
        take = min(len(scores), k + SCAN_MARGIN)
        best = np.argpartition(-scores, take - 1)[:take] if take < len(scores) else np.arange(take)
        return best if rows is None else rows[best]

    def _index_candidates(self, query: np.ndarray, k: int, rows: np.ndarray | None) -> np.ndarray:
        assert self.index is not None
        want = min(self.count, max(CANDIDATES_FLOOR, CANDIDATES_PER_RESULT * k))
        nlist = self.index.nlist
        probes = max(MIN_PROBES, math.ceil(nlist * PROBE_FRACTION))
        params = faiss.SearchParametersIVF()
        bitmap = None
        if rows is not None:
            # Restricted to one movie's faces: probe proportionally more lists so that as many
            # of its faces are looked at as an unrestricted search would look at.
            share = len(rows) / self.count
            probes = math.ceil(probes / share)
            mask = np.zeros(self.count, dtype=bool)
            mask[rows] = True
            bitmap = np.packbits(mask, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(self.count, faiss.swig_ptr(bitmap))
        params.nprobe = min(nlist, probes)
        _, found = self.index.search(query.reshape(1, -1), want, params=params)
        found = found[0]
        return found[found >= 0]


class EmbeddedBackend:
    """In-process vector search for SQLite, PostgreSQL, MySQL/MariaDB (see the module doc)."""

    def __init__(self) -> None:
        self._collections: dict[str, Collection] = {}
        self._watchers: dict[str, SQLiteCommitWatcher] = {}
        self._lock = threading.Lock()

    def collection(self, embedder: str) -> Collection:
        with self._lock:
            if embedder not in self._collections:
                self._collections[embedder] = Collection(embedder)
            return self._collections[embedder]

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
        """Drop every in-process collection (tests; a rolled-back transaction reuses ids)."""
        with self._lock:
            self._collections.clear()
            for watcher in self._watchers.values():
                watcher.close()
            self._watchers.clear()


def exact_max_faces() -> int:
    return int(settings.FACEFINDER_SEARCH_EXACT_MAX_FACES)


def train_ivf(vectors: np.ndarray) -> faiss.IndexIVFScalarQuantizer:
    """An inner-product IVF index with 8-bit scalar-quantised codes, trained on a sample.

    About sqrt(n) lists (at most 2048) keep both training and the coarse search cheap; the
    codes are a quarter of the float32 size and only choose candidates.
    """
    count, dim = vectors.shape
    # faiss wants about 39 training points per list.
    nlist = max(1, min(int(math.sqrt(count)), 2048, count // 39))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    index.cp.niter = 10
    sample_size = min(count, nlist * 40)
    sample = np.random.default_rng(0).choice(count, sample_size, replace=False)
    index.train(np.ascontiguousarray(vectors[np.sort(sample)]))
    return index
