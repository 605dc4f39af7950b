"""The local ``.env`` file, read by the entry points before Django loads settings.

``manage.py``, ``config/wsgi.py`` and ``config/asgi.py`` call ``load_dotenv()`` so that a local
``.env`` (ignored by git; ``scripts/demo`` writes one) fills in what the real environment does
not set. The settings modules themselves only read ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

PROJECT_SETTINGS = "config.settings"
DOTENV = Path(__file__).resolve().parent.parent / ".env"


def load_dotenv(path: Path = DOTENV) -> None:
    """Copy into ``os.environ`` the variables of ``path`` that it does not hold yet.

    Only for the project's own settings: a process started with another settings module (the
    test suite's ``config.settings_test``, whose name pytest-django puts into the environment
    that every ``manage.py`` child of a test inherits) runs on its environment alone, so that
    no developer's ``.env`` can change a test.
    """
    if os.environ.get("DJANGO_SETTINGS_MODULE", PROJECT_SETTINGS) != PROJECT_SETTINGS:
        return
    environ.Env.read_env(path, overwrite=False)
