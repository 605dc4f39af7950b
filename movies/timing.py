"""A small wall-clock timer per named stage, passed through ingest (and into
faces.pipeline.analyse_images) for benchmarks."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimer:
    """Adds up seconds per stage: ``with timer.stage("decode"): ...``.

    Not thread-safe: stages are timed on the thread that runs the ingest.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started


class NullTimer(StageTimer):
    """The default when nobody measures: same interface, no bookkeeping."""

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        yield
