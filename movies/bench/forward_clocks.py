"""Wall time inside the torch networks' forward passes, for ``bench_ingest``'s breakdown."""

from __future__ import annotations

import threading
import time
from typing import Any


class BusyClock:
    """Wall seconds during which at least one call is inside (calls on threads may overlap)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._active = 0
        self._since = 0.0
        self._lock = threading.Lock()

    def enter(self, *_: Any) -> None:
        with self._lock:
            if self._active == 0:
                self._since = time.perf_counter()
            self._active += 1

    def leave(self, *_: Any) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self.seconds += time.perf_counter() - self._since


class ForwardPassClocks:
    """Wall time inside the forward passes of the torch networks, from forward hooks.

    MTCNN's three nets always; the embedder's network when it is a torch module (facenet;
    dlib's descriptor has no hook, so its forward passes are not split out). Loads the models.
    """

    def __init__(self, embedder: str) -> None:
        from faces.detection import _mtcnn_nets
        from faces.embedders import get_embedder

        self.clocks = {"detector": BusyClock()}
        nets = _mtcnn_nets()
        for module in (nets.pnet, nets.rnet, nets.onet):
            self._hook(module, self.clocks["detector"])
        model = get_embedder(embedder)
        if hasattr(model, "model"):
            self.clocks["embedder"] = BusyClock()
            self._hook(model.model, self.clocks["embedder"])

    @staticmethod
    def _hook(module: Any, clock: BusyClock) -> None:
        module.register_forward_pre_hook(clock.enter)
        module.register_forward_hook(clock.leave)

    def seconds(self) -> dict[str, float]:
        return {name: clock.seconds for name, clock in self.clocks.items()}
