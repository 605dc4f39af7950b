"""A collection: one embedder's rows of one vector table, kept in step with the table and files.

It is a list of file segments (a generation of ``FACEFINDER_SEARCH_INDEX_DIR``, memory-mapped)
plus an in-memory tail of the rows loaded from the table since (``segments.py``). Without an
index folder, the tail is everything, with an IVF index of its own once large.

Staying current across processes: ingest runs in rq workers, so before every search the
collection compares a cheap fingerprint of the table (``COUNT(*)`` and ``MAX(id)``) with the one
it last saw (skipped when SQLite's commit counter did not move), and the manifest's stamp with
the one it adopted. When the table grew by exactly the rows above the last seen id, nothing was
deleted and only those rows are loaded. Otherwise per-movie counts find the movies that lost
rows, and their missing rows become tombstones; a count that grew below the last seen id (a row
committed out of id order) rebuilds from the table. A process writes the next generation of
files when its tail or the deletions make it worth it (``generations.py``) and then serves the
files it wrote; every other process adopts them at its next search.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
from django.conf import settings
from django.db import connection

from search.backends import generations
from search.backends.base import Neighbours
from search.backends.index_files import DamagedIndex
from search.backends.index_store import Generation, IndexStore
from search.backends.segments import (
    DimensionMismatch,
    MemorySegment,
    Segment,
    Training,
    search_segments,
)
from search.backends.vector_table import VectorTable

logger = logging.getLogger(__name__)

# How long a process with nothing to search waits for another that is writing the first files
# (building a million rows from the table takes minutes on a busy 2-core machine).
FIRST_BUILD_WAIT_SECONDS = 900.0
# Rows of the table compared with the files when they are opened (a primary-key lookup each).
SPOT_CHECK_ROWS = 8


class StaleView(Exception):
    """Rows appeared below ids already loaded: only a rebuild from the table is sound."""


class Collection:
    """One embedder's rows of one vector table: file segments, an in-memory tail, their sync."""

    def __init__(self, table: VectorTable, embedder: str, store: IndexStore | None) -> None:
        self.table = table
        self.embedder = embedder
        self.store = store
        self.lock = threading.RLock()
        self.last_build_seconds = 0.0  # the last load from the table that held every row
        self.last_write_seconds = 0.0
        self.may_write = store is not None
        self._reset()

    def _reset(self) -> None:
        self.segments: list[Segment] = []  # file segments of the adopted generation, id order
        self.tail = MemorySegment()
        self.training: Training | None = None
        self.generation = 0
        self.manifest_stamp = None
        self.table_seen: tuple[int, int] | None = None
        self.covered_max = 0  # every row of the embedder with id <= this is held or tombstoned
        self.data_version_seen: int | None = None

    # --- what tests and the benchmark look at ------------------------------------------------

    @property
    def count(self) -> int:
        return sum(part.live_rows for part in self._parts())

    @property
    def dim(self) -> int:
        parts = self._parts()
        return parts[0].dim if parts else 0

    @property
    def uses_index(self) -> bool:
        return self.count > exact_max_faces() and any(p.index is not None for p in self._parts())

    def _parts(self) -> list[Segment]:
        return [part for part in [*self.segments, self.tail] if part.count]

    # --- keeping in step with the table -------------------------------------------------------

    def sync(self, data_version: int | None = None) -> None:
        """Bring the collection up to date with the table (and the files); cheap when unchanged.

        ``data_version`` is the SQLite file's commit counter (see ``SQLiteCommitWatcher``) when
        it can be trusted; unchanged since the last sync, and no new files published, nothing
        was committed anywhere and even the fingerprint query is skipped.
        """
        stamp = self.store.stamp() if self.store else None
        unchanged = data_version is not None and data_version == self.data_version_seen
        if unchanged and stamp == self.manifest_stamp:
            return
        # Never write a view that may hold this connection's uncommitted rows.
        may_write = self.may_write and not connection.in_atomic_block
        try:
            if self.store is not None and stamp != self.manifest_stamp:
                self._adopt_files()
            if may_write and not self.segments:
                # Nothing on disk yet: build under the lock, so that other processes wait for
                # these files instead of loading the whole table too.
                with self.store.writer(wait_seconds=FIRST_BUILD_WAIT_SECONDS) as locked:
                    if locked and self.store.stamp() != self.manifest_stamp:
                        self._adopt_files()
                    table = self._catch_up()
                    if locked:
                        self._write_if_due(table, locked=True)
            else:
                table = self._catch_up()
                if may_write:
                    self._write_if_due(table, locked=False)
            # A write left for later (another process held the lock) is tried again at the
            # next search, not only after the next commit.
            if may_write and generations.write_due(self.segments, self.tail):
                data_version = None
        except BaseException:
            self._reset()  # half-loaded: start from the files and the table next time
            raise
        # Only once in step: a failed load must not leave the counter marked as seen.
        self.data_version_seen = data_version

    def _catch_up(self) -> tuple[int, int]:
        table = self.table.fingerprint()
        if table == self.table_seen:
            return table
        try:
            if not self._only_inserted(table):
                self._apply_deletions()
            if self.covered_max == 0:
                self.tail.reserve = table[0]  # an upper bound: the arrays are allocated once
            self._load_newer(upto=table[1])
        except StaleView:
            logger.warning(
                "%s of %s: rows appeared below loaded ids; rebuilding",
                self.embedder,
                self.table.name,
            )
            self._rebuild(table)
        self.table_seen = table
        return table

    def _only_inserted(self, table: tuple[int, int]) -> bool:
        """The common case while an ingest runs: rows were added, none deleted, anywhere.

        Then the table grew by exactly the rows whose ids lie above the largest id seen last
        time. Counting those is a range scan over new ids only; per-movie counts (an index scan
        of the embedder's rows) are left to the rarer case of a deletion.
        """
        if self.table_seen is None:
            return self.covered_max == 0
        seen_count, seen_max = self.table_seen
        count, max_id = table
        return max_id >= seen_max and count - seen_count == self.table.rows_between(
            seen_max, max_id
        )

    def _load_newer(self, *, upto: int) -> None:
        """Append the embedder's rows with ``covered_max < id <= upto`` to the tail."""
        if upto <= self.covered_max:
            return
        started = time.perf_counter()
        first_build = self.covered_max == 0
        before = self.tail.count
        dim = self.dim
        for ids, movie_ids, vectors in self.table.iter_rows(
            self.embedder, after_id=self.covered_max, upto_id=upto
        ):
            if dim and vectors.shape[1] != dim:
                raise ValueError(
                    f"{self.embedder} vectors have {vectors.shape[1]} dimensions, expected {dim}"
                )
            self.tail.append(ids, movie_ids, vectors)
            dim = vectors.shape[1]
        self.covered_max = upto
        if not self.segments:  # the tail is everything: it keeps an index of its own
            self.tail.update_index(new_rows=self.tail.count - before, exact_max=exact_max_faces())
        if first_build and self.tail.count:
            self.last_build_seconds = time.perf_counter() - started
            logger.info(
                "%s of %s loaded from the table: %d rows in %.2f s",
                self.embedder,
                self.table.name,
                self.tail.count,
                self.last_build_seconds,
            )

    def _apply_deletions(self) -> None:
        """Tombstone the held rows that the table no longer has (by movie, from the index)."""
        parts = self._parts()
        if not parts:
            return
        held_movies = np.concatenate([part.movie_ids[part.live_positions()] for part in parts])
        movies, held = np.unique(held_movies, return_counts=True)
        held_counts = dict(zip(movies.tolist(), held.tolist(), strict=True))
        table_counts = self.table.movie_counts(self.embedder, upto_id=self.covered_max)
        if any(rows > held_counts.get(movie, 0) for movie, rows in table_counts.items()):
            raise StaleView
        changed = [
            movie for movie, rows in held_counts.items() if table_counts.get(movie, 0) < rows
        ]
        if not changed:
            return
        partly = [movie for movie in changed if movie in table_counts]
        remaining = self.table.ids_of_movies(self.embedder, partly, upto_id=self.covered_max)
        for part in parts:
            rows = np.flatnonzero(np.isin(part.movie_ids, changed))
            gone = part.ids[rows][~np.isin(part.ids[rows], remaining)]
            if len(gone):
                part.set_deleted(np.union1d(part.deleted, gone))
        if len(self.tail.deleted) * 4 >= self.tail.count:
            self.tail.compact()

    def _rebuild(self, table: tuple[int, int]) -> None:
        """Forget every row held (files too) and load the table again."""
        self.segments, self.training, self.tail = [], None, MemorySegment()
        self.covered_max = 0
        self.tail.reserve = table[0]
        self._load_newer(upto=table[1])

    # --- the files ----------------------------------------------------------------------------

    def _adopt_files(self) -> None:
        """Serve the published generation (if sound), then catch up from the table state it saw."""
        generation = None
        for _attempt in range(3):
            stamp = self.store.stamp()
            try:
                generation = self._open_published()
                break
            except DamagedIndex as error:
                if self.store.stamp() != stamp:
                    continue  # replaced while being read: read the new one
                logger.warning("search index files not used, rebuilding them: %s", error)
                break
        self._reset()
        self.manifest_stamp = stamp
        if generation is not None:
            self.segments = generation.segments
            self.training = generation.training
            self.generation = generation.number
            self.table_seen = generation.table_seen
            self.covered_max = generation.table_seen[1]

    def _open_published(self) -> Generation | None:
        manifest = self.store.read_manifest()
        if manifest is None:
            return None
        generation = self.store.open(
            manifest,
            table=self.table.name,
            embedder=self.embedder,
            reuse={segment.name: segment for segment in self.segments},
        )
        self._spot_check(generation)
        return generation

    def _spot_check(self, generation: Generation) -> None:
        """Compare a few rows of every segment with the table: files of another database fail."""
        wanted: dict[int, tuple[Segment, int]] = {}
        for segment in generation.segments:
            for row in np.linspace(0, segment.count - 1, SPOT_CHECK_ROWS).astype(int):
                wanted[int(segment.ids[row])] = (segment, row)
        ids, movie_ids, vectors = self.table.rows_with_ids(self.embedder, wanted)
        for face_id, movie_id, vector in zip(ids, movie_ids, vectors, strict=True):
            segment, row = wanted[int(face_id)]
            if movie_id != segment.movie_ids[row] or not np.array_equal(
                vector, segment.vectors[row]
            ):
                raise DamagedIndex(f"{segment.name}: row {face_id} differs from the table")

    def _write_if_due(self, table: tuple[int, int], *, locked: bool) -> None:
        if not generations.write_due(self.segments, self.tail):
            return
        if locked:
            self._write(table)
            return
        with self.store.writer(wait_seconds=0) as acquired:
            # Another process is writing, or already wrote a newer generation: adopt that later.
            if acquired and self.store.stamp() == self.manifest_stamp:
                self._write(table)

    def _write(self, table: tuple[int, int]) -> None:
        started = time.perf_counter()
        try:
            generations.write_generation(
                self.store,
                table=self.table.name,
                embedder=self.embedder,
                number=self.generation + 1,
                segments=self.segments,
                tail=self.tail,
                training=self.training,
                table_seen=table,
                exact_max=exact_max_faces(),
            )
        except OSError as error:
            self._stop_writing(f"files not written: {error}")
            return
        self.last_write_seconds = time.perf_counter() - started
        self._adopt_files()  # serve what was written: mapped files instead of private memory
        if self.table_seen != table:
            self._stop_writing("the files just written did not open")
            self._catch_up()

    def _stop_writing(self, reason: str) -> None:
        """Search from memory for the rest of this process rather than retry on every search."""
        logger.warning("search index of %s (%s): %s", self.embedder, self.store.directory, reason)
        self.may_write = False

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
        try:
            return search_segments(
                self._parts(), vector, k, movie_id=movie_id, min_score=min_score,
                exact=exact, exact_max=exact_max_faces(),
            )  # fmt: skip
        except DimensionMismatch as error:
            raise ValueError(
                f"the query has {error.args[0]} dimensions; {self.embedder} has {self.dim}"
            ) from None


def exact_max_faces() -> int:
    return int(settings.FACEFINDER_SEARCH_EXACT_MAX_FACES)
