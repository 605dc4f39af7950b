"""Grouping appearances into people, on vectors alone (``faces.people`` reads and writes rows).

The input is *nodes*: existing people (seeds: the sum of their members' unit vectors and their
member count) and single waiting appearances. Two nodes are as close as the average
similarity of their members (average link: for unit vectors, ``sum_a · sum_b / (n_a n_b)``).

1. Nodes closer than the threshold are linked, and the links' connected components found:
   only nodes of one component can end in one person.
2. Inside each component, average-link agglomeration merges the closest pair of clusters while
   it stays above the threshold. Chaining (A near B near C, A far from C) is what makes the
   mega-clusters of single-link clustering; average link stops it, because a merge needs the
   two whole groups to be close on average.
3. Two clusters never merge when one holds an appearance overlapping in time with one of the
   other in the same shot (two faces on screen at once are two people), and two seeds never
   merge (people are merged by hand, not by clustering).

A final cluster holding a seed is that person; one without holds enough evidence to found a
new person when its appearances hold ``min_faces`` faces in all, and otherwise keeps waiting.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# Rows of the similarity matrix computed at once when linking nodes (float32: a block of
# 1024 rows against 50,000 nodes is 200 MB).
BLOCK = 1024


@dataclass
class Nodes:
    """What is clustered: ``sums`` (n, d) of unit vectors, ``counts`` (members per node),
    ``faces`` (faces per node), ``seed`` (True for an existing person), and the spans of
    each node's appearances: (node, shot id, start, end)."""

    sums: np.ndarray
    counts: np.ndarray
    faces: np.ndarray
    seed: np.ndarray
    spans: list[tuple[int, int, float, float]]

    def __len__(self) -> int:
        return len(self.counts)


def conflicts(nodes: Nodes) -> set[tuple[int, int]]:
    """Pairs of nodes (low, high) that hold appearances overlapping in time in one shot."""
    by_shot: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    for node, shot, start, end in nodes.spans:
        by_shot[shot].append((node, start, end))
    pairs: set[tuple[int, int]] = set()
    for spans in by_shot.values():
        if len(spans) < 2:
            continue
        spans.sort(key=lambda span: span[1])
        for i, (node, start, end) in enumerate(spans):
            for other, other_start, _other_end in spans[i + 1 :]:
                if other_start >= end:
                    break
                if other != node and other_start < end and start < _other_end:
                    pairs.add((min(node, other), max(node, other)))
    return pairs


def components(nodes: Nodes, threshold: float) -> list[np.ndarray]:
    """Connected components (of more than one node) of the links at or above ``threshold``."""
    n = len(nodes)
    means = (nodes.sums / nodes.counts[:, None]).astype(np.float32)
    rows, cols = [], []
    for start in range(0, n, BLOCK):
        block = means[start : start + BLOCK] @ means.T
        # A hair below the threshold: float32 rounding must not lose a link that average
        # linkage (in float64) then accepts.
        i, j = np.nonzero(block >= threshold - 1e-5)
        i = i + start
        keep = (i < j) & ~(nodes.seed[i] & nodes.seed[j])
        rows.append(i[keep])
        cols.append(j[keep])
    i, j = np.concatenate(rows) if rows else [], np.concatenate(cols) if cols else []
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels, minlength=count)
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.cumsum(sizes)[:-1])
    return [group for group in groups if len(group) > 1]


def agglomerate(
    nodes: Nodes, members: np.ndarray, threshold: float, forbidden: set[tuple[int, int]]
) -> list[list[int]]:
    """Average-link clusters of the nodes ``members`` (global indexes), merges that would join
    a ``forbidden`` pair or two seeds left out."""
    m = len(members)
    sums = nodes.sums[members].astype(np.float64)
    counts = nodes.counts[members].astype(np.float64)
    seeds = nodes.seed[members].copy()
    local = {int(node): k for k, node in enumerate(members)}
    blocked = np.zeros((m, m), dtype=bool)
    for a, b in forbidden:
        if a in local and b in local:
            blocked[local[a], local[b]] = blocked[local[b], local[a]] = True
    blocked |= seeds[:, None] & seeds[None, :]
    similarity = (sums @ sums.T) / np.outer(counts, counts)
    similarity[blocked] = -np.inf
    np.fill_diagonal(similarity, -np.inf)
    clusters: list[list[int]] = [[int(node)] for node in members]
    alive = np.ones(m, dtype=bool)
    while True:
        flat = int(np.argmax(similarity))
        i, j = divmod(flat, m)
        if similarity[i, j] < threshold:
            break
        # Merge j into i.
        sums[i] += sums[j]
        counts[i] += counts[j]
        seeds[i] |= seeds[j]
        blocked[i] |= blocked[j]
        blocked[i] |= seeds[i] & seeds
        blocked[:, i] = blocked[i]
        clusters[i] += clusters[j]
        clusters[j] = []
        alive[j] = False
        row = (sums @ sums[i]) / (counts * counts[i])
        row[blocked[i] | ~alive] = -np.inf
        row[i] = -np.inf
        similarity[i, :] = row
        similarity[:, i] = row
        similarity[j, :] = -np.inf
        similarity[:, j] = -np.inf
    return [cluster for cluster, live in zip(clusters, alive, strict=True) if live]


def cluster(nodes: Nodes, threshold: float) -> list[list[int]]:
    """The clusters of more than one node (lists of node indexes); every other node stays
    alone."""
    if len(nodes) < 2:
        return []
    forbidden = conflicts(nodes)
    found: list[list[int]] = []
    for members in components(nodes, threshold):
        found += [
            group for group in agglomerate(nodes, members, threshold, forbidden) if len(group) > 1
        ]
    return found
