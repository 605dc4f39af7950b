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


def database_config(url: str, base_dir: Path) -> dict[str, Any]:
    """Return the ``DATABASES["default"]`` entry for ``url``."""
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        name = config["NAME"]
        if name and name != ":memory:" and not Path(name).is_absolute():
            config["NAME"] = str(base_dir / name)
        if config["NAME"] != ":memory:":
            Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        config.setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
    return config
