"""Choose the vector backend for the database in use: one interface, one implementation each."""

from __future__ import annotations

import threading

from django.db import connection

from search.backends.base import VectorBackend

_backends: dict[str, VectorBackend] = {}
_lock = threading.Lock()


def get_backend() -> VectorBackend:
    """The backend for ``connection.vendor``, one instance per process.

    SingleStoreDB computes similarity in SQL (``search/backends/singlestore.py``); every other
    database uses the in-process backend of ``search/backends/embedded.py``.
    """
    vendor = connection.vendor
    with _lock:
        if vendor not in _backends:
            _backends[vendor] = _make_backend(vendor)
        return _backends[vendor]


def _make_backend(vendor: str) -> VectorBackend:
    if vendor == "singlestore":
        from search.backends.singlestore import SingleStoreBackend

        return SingleStoreBackend()
    from search.backends.embedded import EmbeddedBackend

    return EmbeddedBackend()


def forget_cached_vectors() -> None:
    """Make every backend forget what it holds in memory (tests roll back and reuse ids)."""
    with _lock:
        backends = list(_backends.values())
    for backend in backends:
        forget = getattr(backend, "forget", None)
        if forget is not None:
            forget()
