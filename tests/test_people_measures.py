"""The measures that ``bench_people`` reports: BCubed scores and the photo order of its video."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from faces.bench.people import bcubed, interleave, people_mixing


def test_bcubed_of_perfect_split_and_merged_clusterings():
    truth = ["a", "a", "b", "b"]
    assert bcubed([1, 1, 2, 2], truth) == (1.0, 1.0, 1.0)
    # Unassigned photos are singletons: precise, half the recall.
    assert bcubed([None, None, None, None], truth)[:2] == (1.0, 0.5)
    precision, recall, f = bcubed([1, 1, 1, 1], truth)
    assert (precision, recall) == (0.5, 1.0) and f == pytest.approx(2 / 3)
    assert people_mixing([1, 1, 1, 1], truth) == 1 and people_mixing([1, 1, 2, 2], truth) == 0


def test_photos_of_one_person_are_never_neighbours():
    photos = [("a", Path(f"a{n}")) for n in range(4)] + [("b", Path("b0")), ("c", Path("c0"))]
    photos += [("b", Path("b1")), ("c", Path("c1"))]
    order = interleave(photos)
    assert sorted(order) == sorted(photos)
    assert all(x[0] != y[0] for x, y in itertools.pairwise(order))
