"""Grouping appearances into people, on vectors alone (``faces.people`` reads and writes rows).

The input is *nodes*: existing people (seeds: the sum of their members' unit vectors and their
member count) and single waiting appearances. Two nodes are as close as the average
similarity of their members (average link: for unit vectors, ``sum_a · sum_b / (n_a n_b)``).

1. Nodes closer than the threshold are linked (``faces.linking``: exact faiss range search up
   to 50,000 nodes, an IVF index's nearest neighbours above), and the links' connected
   components found: only nodes of one component can end in one person.
2. Inside each component, average-link agglomeration merges the closest pair of clusters while
   it stays above the threshold. Chaining (A near B near C, A far from C) is what makes the
   mega-clusters of single-link clustering; average link stops it, because a merge needs the
   two whole groups to be close on average. A component larger than ``PART`` nodes (a star
   of a large library) is cut into parts by k-means, each part agglomerated, and the parts'
   clusters agglomerated again as nodes (recursively): bounded memory and time, and average
   link between the clusters is still exact; only merges across parts at the first level
   are not tried. Smaller components (every test, lfw_dev) get the exact agglomeration.
3. Two clusters never merge when one holds an appearance overlapping in time with one of the
   other in the same shot (two faces on screen at once are two people), nor when one holds an
   appearance someone said is not the other's person (``Nodes.cannot``), and two seeds never
   merge (people are merged by hand, not by clustering).

A final cluster holding a seed is that person; one without holds enough evidence to found a
new person when its appearances hold ``min_faces`` faces in all, and otherwise keeps waiting.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import faiss
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from faces.linking import candidate_pairs

# Nodes agglomerated at once: a component larger than this is cut into parts (its
# similarity matrix is PART² float64, 32 MB at 2000).
PART = 2000
KMEANS_ITERATIONS = 10


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
    # Pairs of nodes that may never be one person besides those on screen together: a seed
    # and an appearance someone said is not that person (``faces.models.Rejection``).
    cannot: list[tuple[int, int]] = field(default_factory=list)

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
    i, j = candidate_pairs(means, threshold)
    keep = ~(nodes.seed[i] & nodes.seed[j])
    i, j = i[keep], j[keep]
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels, minlength=count)
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.cumsum(sizes)[:-1])
    return [group for group in groups if len(group) > 1]


def _average_link(
    sums: np.ndarray,
    counts: np.ndarray,
    seeds: np.ndarray,
    pairs: list[tuple[int, int]],
    threshold: float,
) -> list[list[int]]:
    """Average-link clusters of these nodes (local indexes), ``pairs`` and two seeds never
    merged: the closest pair merges while it stays at or above ``threshold``. Each row's
    best similarity is kept, so a merge costs a row, not a scan of the whole matrix; the
    pair merged is the one a scan would pick (lowest row, then lowest column, of the
    largest value)."""
    m = len(counts)
    sums, counts, seeds = sums.astype(np.float64), counts.astype(np.float64), seeds.copy()
    blocked = np.zeros((m, m), dtype=bool)
    for a, b in pairs:
        blocked[a, b] = blocked[b, a] = True
    blocked |= seeds[:, None] & seeds[None, :]
    similarity = (sums @ sums.T) / np.outer(counts, counts)
    similarity[blocked] = -np.inf
    np.fill_diagonal(similarity, -np.inf)
    best = similarity.max(axis=1)
    clusters: list[list[int]] = [[k] for k in range(m)]
    alive = np.ones(m, dtype=bool)
    while m > 1:
        i = int(np.argmax(best))
        if best[i] < threshold:
            break
        j = int(np.argmax(similarity[i]))
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
        stale = (similarity[:, i] >= best) | (similarity[:, j] >= best)
        row = (sums @ sums[i]) / (counts * counts[i])
        row[blocked[i] | ~alive] = -np.inf
        row[i] = -np.inf
        similarity[i, :] = row
        similarity[:, i] = row
        similarity[j, :] = -np.inf
        similarity[:, j] = -np.inf
        best = np.maximum(best, row)
        stale[i] = True
        stale &= alive
        best[stale] = similarity[stale].max(axis=1)
        best[j] = -np.inf
    return [cluster for cluster, live in zip(clusters, alive, strict=True) if live]


def _local_pairs(
    members: np.ndarray, by_node: dict[int, list[int]], of: dict[int, int] | None = None
) -> list[tuple[int, int]]:
    """``forbidden`` pairs among ``members`` in local indexes (``of``: node → local index)."""
    local = of if of is not None else {int(node): k for k, node in enumerate(members)}
    pairs = []
    for node in members.tolist():
        for other in by_node.get(node, ()):
            if other in local and local[node] != local[other]:
                pairs.append((local[node], local[other]))
    return pairs


def _parts(means: np.ndarray, size: int, seed: int = 0) -> list[np.ndarray]:
    """Rows of ``means`` cut by spherical k-means into parts of about ``size``."""
    k = int(np.ceil(len(means) / size)) * 2
    kmeans = faiss.Kmeans(
        means.shape[1], k, niter=KMEANS_ITERATIONS, spherical=True, seed=seed, verbose=False
    )
    data = np.ascontiguousarray(means, dtype=np.float32)
    kmeans.train(data)
    _, labels = kmeans.index.search(data, 1)
    labels = labels[:, 0]
    return [np.flatnonzero(labels == label) for label in np.unique(labels)]


def agglomerate(
    nodes: Nodes, members: np.ndarray, threshold: float, forbidden: dict[int, list[int]]
) -> list[list[int]]:
    """Average-link clusters of the nodes ``members`` (global indexes), merges that would join
    a ``forbidden`` pair (node → the nodes it may not join) or two seeds left out."""
    if len(members) <= PART:
        pairs = _local_pairs(members, forbidden)
        local = _average_link(
            nodes.sums[members], nodes.counts[members], nodes.seed[members], pairs, threshold
        )
        return [[int(members[k]) for k in cluster] for cluster in local]
    means = nodes.sums[members] / nodes.counts[members][:, None]
    parts = _parts(means, PART)
    if len(parts) == 1:  # k-means did not cut it: halve it by order
        parts = np.array_split(np.arange(len(members)), 2)
    first: list[list[int]] = []
    for part in parts:
        first += agglomerate(nodes, members[part], threshold, forbidden)
    # The first level's clusters as nodes of their own.
    of = {node: number for number, cluster in enumerate(first) for node in cluster}
    sums = np.vstack([nodes.sums[cluster].sum(axis=0) for cluster in first])
    merged = Nodes(
        sums=sums,
        counts=np.array([nodes.counts[cluster].sum() for cluster in first]),
        faces=np.array([nodes.faces[cluster].sum() for cluster in first]),
        seed=np.array([nodes.seed[cluster].any() for cluster in first]),
        spans=[],
    )
    between: dict[int, list[int]] = defaultdict(list)
    for node in members.tolist():
        for other in forbidden.get(node, ()):
            if other in of and of[other] != of[node]:
                between[of[node]].append(of[other])
    if len(first) == len(members):  # nothing merged inside the parts: merge no further
        return first
    second = agglomerate(merged, np.arange(len(first)), threshold, between)
    return [[node for number in cluster for node in first[number]] for cluster in second]


def cluster(nodes: Nodes, threshold: float) -> list[list[int]]:
    """The clusters of more than one node (lists of node indexes); every other node stays
    alone."""
    if len(nodes) < 2:
        return []
    forbidden: dict[int, list[int]] = defaultdict(list)
    for a, b in [*conflicts(nodes), *nodes.cannot]:
        forbidden[a].append(b)
        forbidden[b].append(a)
    found: list[list[int]] = []
    for members in components(nodes, threshold):
        found += [
            group for group in agglomerate(nodes, members, threshold, forbidden) if len(group) > 1
        ]
    return found
