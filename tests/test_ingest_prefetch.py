"""Frames are decoded ahead in a background thread; errors and early stops must behave as in a
plain loop."""

from __future__ import annotations

import threading
import time

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

    threads_before = threading.active_count()
    items = prefetched(endless(), depth=2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    time.sleep(0.3)
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count, "the producer kept going after close()"
    assert threading.active_count() == threads_before
