"""The clustering's scale paths: the row-best average link picks the same merges as a scan
of the whole matrix, a component too large to agglomerate at once is cut and put back
together, and IVF links find the components the exact search finds."""

from __future__ import annotations

import numpy as np

from faces import clustering, linking
from faces.bench.people import bcubed, synthetic_nodes
from faces.clustering import Nodes, cluster


def _scan_average_link(sums, counts, seeds, pairs, threshold):
    """The reference: merge the pair a scan of the whole matrix finds, while above."""
    m = len(counts)
    sums, counts, seeds = sums.astype(float), counts.astype(float), seeds.copy()
    blocked = np.zeros((m, m), dtype=bool)
    for a, b in pairs:
        blocked[a, b] = blocked[b, a] = True
    clusters = [[k] for k in range(m)]
    alive = np.ones(m, dtype=bool)
    while True:
        similarity = (sums @ sums.T) / np.outer(counts, counts)
        forbid = blocked | (seeds[:, None] & seeds[None, :]) | ~alive[:, None] | ~alive[None, :]
        similarity[forbid] = -np.inf
        np.fill_diagonal(similarity, -np.inf)
        i, j = divmod(int(np.argmax(similarity)), m)
        if similarity[i, j] < threshold:
            return sorted(sorted(c) for c, live in zip(clusters, alive, strict=True) if live)
        sums[i] += sums[j]
        counts[i] += counts[j]
        seeds[i] |= seeds[j]
        blocked[i] |= blocked[j]
        blocked[:, i] = blocked[i]
        clusters[i] += clusters[j]
        alive[j] = False


def test_row_best_average_link_merges_what_a_full_scan_merges():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(6, 16))
    for trial in range(5):
        vectors = centres[rng.integers(0, 6, 60)] + 0.5 * rng.normal(size=(60, 16))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        seeds = np.zeros(60, dtype=bool)
        seeds[rng.choice(60, 4, replace=False)] = True
        pairs = [tuple(p) for p in rng.choice(60, (10, 2)).tolist() if p[0] != p[1]]
        got = clustering._average_link(vectors, np.ones(60), seeds, pairs, 0.8)
        assert sorted(sorted(c) for c in got) == _scan_average_link(
            vectors, np.ones(60), seeds, pairs, 0.8
        ), trial


def test_a_component_larger_than_a_part_is_cut_and_put_back_together(monkeypatch):
    """One person's 400 appearances in parts of 50: the parts' clusters merge again, and two
    appearances on screen together still end apart."""
    rng = np.random.default_rng(5)
    person = rng.normal(size=32)
    vectors = person + 0.15 * rng.normal(size=(400, 32))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    nodes = Nodes(
        sums=vectors,
        counts=np.ones(400),
        faces=np.full(400, 3),
        seed=np.zeros(400, dtype=bool),
        spans=[(i, i, 0.0, 1.0) for i in range(400)] + [(7, 7, 0.0, 1.0), (9, 7, 0.5, 1.5)],
    )
    exact = max(len(g) for g in cluster(nodes, 0.9))
    monkeypatch.setattr(clustering, "PART", 50)
    groups = cluster(nodes, 0.9)
    members = sorted(n for g in groups for n in g)
    assert len(members) == len(set(members))
    assert not any(7 in g and 9 in g for g in groups)
    assert exact > 300 and max(len(g) for g in groups) >= exact - 10  # far more than a part


def test_the_large_path_stays_close_to_the_exact_one(monkeypatch):
    nodes, _labels = synthetic_nodes(4000)
    exact = cluster(nodes, 0.9275)
    monkeypatch.setattr(clustering, "PART", 200)
    cut = cluster(nodes, 0.9275)

    def people(groups):
        found: list[int | None] = [None] * 4000
        for number, group in enumerate(groups):
            for node in group:
                found[node] = number
        return found

    truth = [str(n) for n in people(exact)]
    precision, _recall, f = bcubed(people(cut), truth)
    assert precision > 0.99 and f > 0.95


def test_ivf_links_find_the_components_exact_search_finds(monkeypatch):
    nodes, _ = synthetic_nodes(6000)
    exact = {tuple(c.tolist()) for c in clustering.components(nodes, 0.9275)}
    monkeypatch.setattr(linking, "EXACT_LIMIT", 1000)
    means = nodes.sums / nodes.counts[:, None]
    assert linking.recall(means, 0.9275) > 0.95
    approximate = {tuple(c.tolist()) for c in clustering.components(nodes, 0.9275)}
    shared = sum(len(c) for c in exact & approximate)
    assert shared / sum(len(c) for c in exact) > 0.9
