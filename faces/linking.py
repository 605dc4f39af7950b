"""Candidate links for clustering (``faces.clustering.components``): pairs of nodes whose mean
vectors are at least the threshold apart, found with faiss instead of a dense all-pairs scan.

- Up to ``EXACT_LIMIT`` nodes: every such pair, exactly (``IndexFlatIP.range_search`` in blocks
  of queries), what the dense scan found; every test and the lfw_dev measure take this path.
- Above: each node's ``NEIGHBOURS`` nearest neighbours in an inverted-file index
  (``IndexIVFFlat``, ``nlist`` ~ 4·sqrt(n) lists, ``NPROBE`` of them searched), kept when at
  or above the threshold. Links only decide which nodes may end in one person (the connected
  components); the grouping inside a component is average link on exact vectors. A node close
  to more than ``NEIGHBOURS`` others keeps links to its nearest, which are in its component
  anyway; what IVF can lose is a neighbour in a list it did not probe. ``recall`` measures
  that against the exact search on a sample (``manage.py bench_people --scale`` prints it).
"""

from __future__ import annotations

import faiss
import numpy as np

EXACT_LIMIT = 50_000
NEIGHBOURS = 16
NPROBE = 16
QUERY_BLOCK = 4096
TRAIN_SAMPLE = 100_000
# A hair below the threshold: float32 rounding must not lose a link that average linkage (in
# float64) then accepts.
SLACK = 1e-5


def _ivf(means: np.ndarray, seed: int = 0) -> faiss.IndexIVFFlat:
    n, dimension = means.shape
    nlist = int(4 * np.sqrt(n))
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = means[rng.choice(n, min(n, max(TRAIN_SAMPLE, 40 * nlist)), replace=False)]
    index.train(sample)
    index.add(means)
    index.nprobe = NPROBE
    return index


def candidate_pairs(means: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of rows of ``means`` (float32, unit-ish) linked at ``threshold``."""
    means = np.ascontiguousarray(means, dtype=np.float32)
    n = len(means)
    rows, cols = [], []
    if n <= EXACT_LIMIT:
        index = faiss.IndexFlatIP(means.shape[1])
        index.add(means)
        for start in range(0, n, QUERY_BLOCK):
            limits, _scores, found = index.range_search(
                means[start : start + QUERY_BLOCK], threshold - SLACK
            )
            counts = np.diff(limits.astype(np.int64))
            rows.append(np.repeat(np.arange(start, start + len(counts)), counts))
            cols.append(found)
    else:
        index = _ivf(means)
        k = min(NEIGHBOURS + 1, n)
        for start in range(0, n, QUERY_BLOCK):
            scores, found = index.search(means[start : start + QUERY_BLOCK], k)
            keep = (scores >= threshold - SLACK) & (found >= 0)
            rows.append(np.nonzero(keep)[0] + start)
            cols.append(found[keep])
    i = np.concatenate(rows).astype(np.int64) if rows else np.empty(0, np.int64)
    j = np.concatenate(cols).astype(np.int64) if cols else np.empty(0, np.int64)
    low, high = np.minimum(i, j), np.maximum(i, j)
    keep = low < high
    return low[keep], high[keep]


def recall(means: np.ndarray, threshold: float, sample: int = 2000, seed: int = 0) -> float:
    """Of the links at ``threshold`` that exact search finds for a sample of nodes (each
    node's ``NEIGHBOURS`` nearest above the threshold), the share the IVF index finds."""
    means = np.ascontiguousarray(means, dtype=np.float32)
    rng = np.random.default_rng(seed)
    queries = means[rng.choice(len(means), min(sample, len(means)), replace=False)]
    k = min(NEIGHBOURS + 1, len(means))
    exact = faiss.IndexFlatIP(means.shape[1])
    exact.add(means)
    true_scores, true_ids = exact.search(queries, k)
    _scores, found = _ivf(means).search(queries, k)
    wanted = found_count = 0
    for row in range(len(queries)):
        truth = set(true_ids[row][true_scores[row] >= threshold - SLACK].tolist())
        wanted += len(truth)
        found_count += len(truth & set(found[row].tolist()))
    return found_count / wanted if wanted else 1.0
