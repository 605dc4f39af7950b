"""Settings of the test suite (``DJANGO_SETTINGS_MODULE`` in ``pyproject.toml``).

The shared settings on the process environment alone: pytest never goes through an entry
point, so no developer's ``.env`` is read (nor by the ``manage.py`` children of tests, which
inherit this module's name: see ``config/environment.py``).
"""

import atexit
import shutil
import tempfile
from pathlib import Path

from config.settings_base import *  # noqa: F403

SECRET_KEY = "facefinder-test-suite-only"  # noqa: S105 (signs nothing outside the tests)
# Tests create users by the hundred; Django's default hasher spends a million PBKDF2 rounds on
# each password.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The test client and the live server speak plain HTTP.
HTTPS = False
SECURE_PROXY_SSL_HEADER = None
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# Static files come from the apps' folders, as in development: no `collectstatic`, no
# STATIC_ROOT for WhiteNoise to look at, no manifest of hashed names.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Counters in this process, emptied before every test (tests/conftest.py); tests of the Redis
# cache itself point it at a Redis database of their own.
CACHES = {
    **CACHES,  # noqa: F405
    "throttle": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "throttle",
    },
}

# The test database on SQLite is a file, as in use, not Django's in-memory default: that one is
# shared between threads through SQLite's shared cache, whose table locks fail at once with
# "database table is locked" instead of waiting out the busy timeout, so tests of two things
# at once (an ingest and a worker, two assignments) would fail by chance. A folder per test
# process (helpers run suites side by side), removed with its WAL files when the process ends.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    _test_database_dir = tempfile.mkdtemp(prefix="facefinder-test-")
    atexit.register(shutil.rmtree, _test_database_dir, ignore_errors=True)
    DATABASES["default"]["TEST"] = {"NAME": str(Path(_test_database_dir) / "db.sqlite3")}  # noqa: F405
