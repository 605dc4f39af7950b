"""Frames are decoded ahead in a background thread; errors and early stops must behave as in a
plain loop."""

from __future__ import annotations

import threading

import pytest

from movies.video import VideoError, prefetched


def test_items_arrive_in_order():
    assert list(prefetched(iter(range(50)), depth=3)) == list(range(50))


def test_an_error_while_producing_reaches_the_consumer_after_the_good_items():
    def frames():
        yield 1
        yield 2
        raise VideoError("frame 3 cannot be decoded")

    received = []
    with pytest.raises(VideoError, match="frame 3"):
        for item in prefetched(frames(), depth=4):
            received.append(item)
    assert received == [1, 2]


def test_stopping_early_stops_the_producer():
    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    threads_before = set(threading.enumerate())
    items = prefetched(endless(), depth=2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    # close() returns once the producer has stopped: no thread is left, and it got no further
    # than a full buffer (2) plus the item it held when told to stop.
    assert set(threading.enumerate()) - threads_before == set()
    assert len(produced) <= 3 + 2 + 1
