"""Turn ``DATABASE_URL`` into Django's ``DATABASES["default"]``.

django-environ knows sqlite, postgres and mysql URLs but not ``singlestoredb://``; the
SingleStoreDB mapping lives here so that settings stay declarative.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ

SQLITE_OPTIONS = {
    # WAL lets the web server read while a worker writes; the busy timeout makes a writer wait
    # for the other instead of failing with "database is locked".
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}

SINGLESTORE_SCHEMES = ("singlestoredb://", "singlestore://")
# django_singlestore plus Facefinder's table layout (vendor "singlestore"); see config/singlestore.
SINGLESTORE_ENGINE = "config.singlestore"


def database_config(url: str, base_dir: Path) -> dict[str, Any]:
    """Return the ``DATABASES["default"]`` entry for ``url``.

    Nothing is created here: the SQLite file's folder is made by whoever sets up the machine
    (``scripts/demo`` makes ``var/``).
    """
    if url.startswith(SINGLESTORE_SCHEMES):
        return singlestore_config(url)
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        name = config["NAME"]
        if name and name != ":memory:" and not Path(name).is_absolute():
            config["NAME"] = str(base_dir / name)
        config.setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
    return config


def singlestore_config(url: str) -> dict[str, Any]:
    """``singlestoredb://user:password@host:3306/database?option=value`` (options go to the
    ``singlestoredb`` client, e.g. ``ssl_ca=/path/ca.pem``)."""
    config = environ.Env.db_url_config(url, engine=SINGLESTORE_ENGINE)
    config.setdefault("OPTIONS", {})
    if not config.get("NAME"):
        where = url.split("@")[-1]
        raise environ.ImproperlyConfigured(f"DATABASE_URL ...@{where} names no database.")
    return config
