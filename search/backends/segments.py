"""Segments: the rows of one id range of a collection, and how each is searched.

A collection (one embedder's rows of one vector table, see ``embedded.py``) is a list of
segments in id order: read-only arrays memory-mapped from files that any process may have
written (``index_store.py``), and a ``MemorySegment`` of the rows this process loaded from the
table itself since. A search asks every segment for candidates and ranks their union exactly
(``search.backends.base.rank_exactly``), so the scores never depend on how rows are split.

Large collections also keep, per segment, an IVF index over 8-bit quantised copies of its rows.
Every segment of a collection is encoded with one ``Training`` (coarse centroids and quantiser
ranges), so that two segments merge by concatenating their inverted lists
(``faiss.IndexIVF.merge_from``) instead of encoding each row again, which costs about 0.1 ms a
row. The index stores each row's face id minus the segment's ``id_base``.

Rows deleted from the table after a segment was made are tombstones: every search skips them
until the segment is rewritten without them.
"""

from __future__ import annotations

import math
import os
import uuid
from dataclasses import dataclass

import faiss
import numpy as np

from search.backends.base import SCAN_MARGIN, Neighbours, rank_exactly

# Share of the IVF lists searched per query, and the fewest lists. Measured on 1M face-like
# 512-d vectors (search.synthetic, about 1000 lists, 100 queries): recall@20 against the exact
# scan was 1.0 at 1/8, 0.9995 at 1/16, 0.9965 at 1/32; 1/16 costs ~30 % less than 1/8.
PROBE_FRACTION = 1 / 16
MIN_PROBES = 16
# Candidates re-scored exactly per query and per indexed segment: this many per requested
# result, and at least FLOOR.
CANDIDATES_PER_RESULT = 5
CANDIDATES_FLOOR = 200
# A collection is trained again once it holds this many times the rows its training saw
# (centroids trained on a small collection describe a large one poorly).
RETRAIN_GROWTH = 4


class DimensionMismatch(ValueError):
    """A query vector of another length than the rows (``args[0]``: its length)."""


@dataclass(frozen=True)
class Training:
    """A trained, empty IVF index; ``tag`` tells trainings apart (segments merge within one)."""

    tag: str
    trained_rows: int
    blob: np.ndarray  # faiss.serialize_index of the empty index (a few MB)

    @classmethod
    def train(cls, vectors: np.ndarray) -> Training:
        """Train on a sample of ``vectors`` (see ``from_sample``)."""
        return cls.from_sample(vectors[sample_positions(len(vectors))], len(vectors))

    @classmethod
    def from_sample(cls, sample: np.ndarray, count: int) -> Training:
        """An inner-product IVF index with 8-bit scalar-quantised codes for ``count`` rows.

        About sqrt(n) lists (at most 2048) keep both training and the coarse search cheap; the
        codes are a quarter of the float32 size and only choose candidates.
        """
        dim = sample.shape[1]
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer,
            dim,
            list_count(count),
            faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )
        index.cp.niter = 10
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        return cls(tag=uuid.uuid4().hex[:12], trained_rows=count, blob=faiss.serialize_index(index))

    def empty_index(self) -> faiss.IndexIVFScalarQuantizer:
        return faiss.deserialize_index(self.blob)

    def encode(self, ids: np.ndarray, vectors: np.ndarray, id_base: int) -> faiss.Index:
        """A new index holding ``vectors`` under ``ids - id_base``, added in chunks."""
        index = self.empty_index()
        for start in range(0, len(ids), 100_000):
            stop = start + 100_000
            index.add_with_ids(
                np.ascontiguousarray(vectors[start:stop], dtype=np.float32),
                np.asarray(ids[start:stop], dtype=np.int64) - id_base,
            )
        return index


def list_count(count: int) -> int:
    # faiss wants about 39 training points per list.
    return max(1, min(int(math.sqrt(count)), 2048, count // 39))


def sample_positions(count: int) -> np.ndarray:
    """Sorted positions of the rows a training of ``count`` rows learns from (40 per list)."""
    size = min(count, list_count(count) * 40)
    return np.sort(np.random.default_rng(0).choice(count, size, replace=False))


class RowFile:
    """Single rows of a float32 .npy matrix, read with ``pread`` instead of through the mapping.

    Touching a few hundred random rows of a mapped file per query would map, by the kernel's
    fault-around, 64 KB of cached neighbours each: after a few hundred searches every process
    would count the whole vectors file in its RSS. Reading copies only the 2 KB asked for; the
    page cache still holds one copy for every process.
    """

    def __init__(self, path: str, offset: int, dim: int) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 (lives as long as the segment)
        self._offset = offset
        self._row_bytes = dim * 4
        self._dim = dim

    def read(self, positions: np.ndarray) -> np.ndarray:
        """Rows in the order asked; a run of consecutive rows (one shot's frames) is one read."""
        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):
            return np.empty((0, self._dim), dtype="<f4")
        breaks = np.flatnonzero(np.diff(positions) != 1) + 1
        starts = [0, *breaks.tolist()]
        ends = [*breaks.tolist(), len(positions)]
        descriptor = self._file.fileno()
        data = b"".join(
            os.pread(
                descriptor,
                (end - start) * self._row_bytes,
                self._offset + int(positions[start]) * self._row_bytes,
            )
            for start, end in zip(starts, ends, strict=True)
        )
        return np.frombuffer(data, dtype="<f4").reshape(-1, self._dim)


class Segment:
    """Rows with ascending ids: arrays (in memory or memory-mapped), tombstones, optional index."""

    def __init__(
        self,
        ids: np.ndarray,
        movie_ids: np.ndarray,
        vectors: np.ndarray,
        *,
        index: faiss.Index | None = None,
        training: Training | None = None,
        id_base: int | None = None,
        name: str | None = None,
    ) -> None:
        self._ids = ids
        self._movie_ids = movie_ids
        self._vectors = vectors
        self.count = len(ids)
        self.index = index
        self.training = training
        self.id_base = int(ids[0]) if id_base is None and len(ids) else int(id_base or 0)
        self.name = name  # the file segment's name; None in memory
        self.entry: dict | None = None  # a file segment's manifest entry
        self.row_file: RowFile | None = None  # where a file segment reads single rows
        self.set_deleted(np.empty(0, dtype=np.int64))

    @property
    def ids(self) -> np.ndarray:
        return self._ids[: self.count]

    @property
    def movie_ids(self) -> np.ndarray:
        return self._movie_ids[: self.count]

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors[: self.count]

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])

    @property
    def max_id(self) -> int:
        return int(self._ids[self.count - 1]) if self.count else 0

    def encoded_with(self, training: Training | None) -> bool:
        """Whether this segment holds IVF codes of ``training``."""
        return (
            training is not None
            and self.index is not None
            and self.training is not None
            and self.training.tag == training.tag
        )

    @property
    def live_rows(self) -> int:
        return self.count - len(self.deleted)

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """The vectors at ``positions`` (a copy), read from the file when there is one."""
        if self.row_file is None:
            return np.asarray(self.vectors[positions])
        return self.row_file.read(positions)

    # --- tombstones -------------------------------------------------------------------------

    def set_deleted(self, deleted_ids: np.ndarray) -> None:
        """Mark rows (by face id, all of them held here) as deleted from the table."""
        self.deleted = np.unique(np.asarray(deleted_ids, dtype=np.int64))
        self._deleted_rows = np.searchsorted(self.ids, self.deleted)
        self._live_bitmap: np.ndarray | None = None

    def positions_of(self, face_ids: np.ndarray) -> np.ndarray:
        """Row positions of ``face_ids``; -1 where this segment does not hold a face."""
        positions = np.searchsorted(self.ids, face_ids)
        positions[positions >= self.count] = 0
        held = self.count > 0 and self.ids[positions] == face_ids
        return np.where(held, positions, -1)

    def live_positions(self) -> np.ndarray:
        live = np.ones(self.count, dtype=bool)
        live[self._deleted_rows] = False
        return np.flatnonzero(live)

    def rows_of_movie(self, movie_id: int) -> np.ndarray:
        """Positions of the live rows of one movie."""
        rows = np.flatnonzero(self.movie_ids == movie_id)
        if len(self.deleted) and len(rows):
            rows = rows[~np.isin(self.ids[rows], self.deleted)]
        return rows

    # --- searching --------------------------------------------------------------------------

    def scan(self, query: np.ndarray, k: int, rows: np.ndarray | None) -> np.ndarray:
        """Exact float32 scan of the live rows (or of ``rows``); positions of the best."""
        if rows is None:
            scores = self.vectors @ query
            if len(self.deleted):
                scores[self._deleted_rows] = -np.inf
            available = self.live_rows
        else:
            scores = self.vectors[rows] @ query
            available = len(rows)
        take = min(available, k + SCAN_MARGIN)
        if take <= 0:
            return np.empty(0, dtype=np.int64)
        best = np.argpartition(-scores, take - 1)[:take] if take < len(scores) else np.arange(take)
        return best if rows is None else rows[best]

    def index_candidates(self, query: np.ndarray, k: int, rows: np.ndarray | None) -> np.ndarray:
        """Positions of candidates proposed by the IVF index (``rows``: only among those)."""
        assert self.index is not None
        want = min(self.count, max(CANDIDATES_FLOOR, CANDIDATES_PER_RESULT * k))
        nlist = self.index.nlist
        probes = max(MIN_PROBES, math.ceil(nlist * PROBE_FRACTION))
        params = faiss.SearchParametersIVF()
        if rows is not None:
            # Restricted to one movie's faces: probe proportionally more lists so that as many
            # of its faces are looked at as an unrestricted search would look at.
            probes = math.ceil(probes / (len(rows) / self.count))
            bitmap = self._bitmap(rows)
        else:
            bitmap = self._live_bitmap_cached()
        if bitmap is not None:
            params.sel = faiss.IDSelectorBitmap(len(bitmap) * 8, faiss.swig_ptr(bitmap))
        params.nprobe = min(nlist, probes)
        _, found = self.index.search(query.reshape(1, -1), want, params=params)
        found = found[0]
        found = found[found >= 0]
        return np.searchsorted(self.ids, found + self.id_base)

    def _bitmap(self, rows: np.ndarray) -> np.ndarray:
        """Bits over ``id - id_base``, set for the faces at ``rows``."""
        mask = np.zeros(self.max_id - self.id_base + 1, dtype=bool)
        mask[self.ids[rows] - self.id_base] = True
        return np.packbits(mask, bitorder="little")

    def _live_bitmap_cached(self) -> np.ndarray | None:
        if not len(self.deleted):
            return None
        if self._live_bitmap is None:
            self._live_bitmap = self._bitmap(self.live_positions())
        return self._live_bitmap


class MemorySegment(Segment):
    """Rows this process loaded from the table, in arrays that grow as rows arrive."""

    def __init__(self) -> None:
        empty = np.empty(0, dtype=np.int64)
        super().__init__(empty, empty.copy(), np.empty((0, 0), dtype=np.float32))
        self.reserve = 0  # rows a rebuild expects, so that loading allocates once

    def append(self, ids: np.ndarray, movie_ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        if self.count == 0 and vectors.shape[1] != self.dim:
            self._vectors = np.empty((0, vectors.shape[1]), dtype=np.float32)
            self._ids = np.empty(0, dtype=np.int64)
            self._movie_ids = np.empty(0, dtype=np.int64)
        elif vectors.shape[1] != self.dim:
            raise ValueError(f"vectors have {vectors.shape[1]} dimensions, expected {self.dim}")
        if self.count == 0:
            self.id_base = int(ids[0])
        needed = self.count + len(ids)
        if needed > len(self._ids):
            self._grow(needed)
        rows = slice(self.count, needed)
        self._ids[rows] = ids
        self._movie_ids[rows] = movie_ids
        self._vectors[rows] = vectors
        self.count = needed
        self._live_bitmap = None

    def _grow(self, needed: int) -> None:
        """Grow the arrays geometrically so that appends stay amortised O(1)."""
        capacity = max(needed, int(len(self._ids) * 1.5), self.reserve, 1024)
        ids = np.empty(capacity, dtype=np.int64)
        movie_ids = np.empty(capacity, dtype=np.int64)
        vectors = np.empty((capacity, self.dim), dtype=np.float32)
        ids[: self.count] = self.ids
        movie_ids[: self.count] = self.movie_ids
        vectors[: self.count] = self.vectors
        self._ids, self._movie_ids, self._vectors = ids, movie_ids, vectors

    def update_index(self, *, new_rows: int, exact_max: int) -> None:
        """Train, extend or drop this segment's own IVF index to suit its size."""
        if self.count <= exact_max:
            self.index = self.training = None
            return
        training = self.training
        if (
            self.index is None
            or training is None
            or self.count > RETRAIN_GROWTH * training.trained_rows
        ):
            self.training = Training.train(self.vectors)
            self.index = self.training.encode(self.ids, self.vectors, self.id_base)
        elif new_rows:
            start = self.count - new_rows
            self.index.add_with_ids(self.vectors[start:], self.ids[start:] - self.id_base)

    def compact(self) -> None:
        """Drop the tombstoned rows from the arrays and the index."""
        if not len(self.deleted):
            return
        if self.index is not None:
            self.index.remove_ids(np.ascontiguousarray(self.deleted - self.id_base))
        keep = self.live_positions()
        self._ids = self.ids[keep].copy()
        self._movie_ids = self.movie_ids[keep].copy()
        self._vectors = self.vectors[keep].copy()
        self.count = len(keep)
        self.set_deleted(np.empty(0, dtype=np.int64))


def search_segments(
    segments: list[Segment],
    vector: np.ndarray,
    k: int,
    *,
    movie_id: int | None,
    min_score: float | None,
    exact: bool,
    exact_max: int,
) -> Neighbours:
    """The k best live rows of all segments: candidates from each, ranked together exactly.

    Up to ``exact_max`` searched rows (all live rows, or one movie's) or with ``exact``, every
    segment is scanned; above, segments with IVF codes propose candidates and the others (an
    in-memory tail) are scanned.
    """
    parts = [part for part in segments if part.live_rows]
    if not parts:
        return Neighbours.none()
    query = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
    if query.shape[0] != parts[0].dim:
        raise DimensionMismatch(query.shape[0])
    rows = [None if movie_id is None else part.rows_of_movie(movie_id) for part in parts]
    searched = sum(p.live_rows if r is None else len(r) for p, r in zip(parts, rows, strict=True))
    use_index = not exact and searched > exact_max
    found_ids, found_vectors = [], []
    for part, part_rows in zip(parts, rows, strict=True):
        if part_rows is not None and not len(part_rows):
            continue
        if use_index and part.index is not None:
            positions = np.sort(part.index_candidates(query, k, part_rows))
        else:
            positions = part.scan(query, k, part_rows)
        found_ids.append(part.ids[positions])
        found_vectors.append(part.rows(positions))
    if not found_ids:
        return Neighbours.none()
    return rank_exactly(
        query, np.concatenate(found_ids), np.concatenate(found_vectors), k, min_score
    )
