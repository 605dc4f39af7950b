"""Settings of the test suite (``DJANGO_SETTINGS_MODULE`` in ``pyproject.toml``).

The shared settings on the process environment alone: pytest never goes through an entry
point, so no developer's ``.env`` is read (nor by the ``manage.py`` children of tests, which
inherit this module's name: see ``config/environment.py``).
"""

from config.settings_base import *  # noqa: F403

SECRET_KEY = "facefinder-test-suite-only"  # noqa: S105 (signs nothing outside the tests)
# Tests create users by the hundred; Django's default hasher spends a million PBKDF2 rounds on
# each password.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Counters in this process, emptied before every test (tests/conftest.py); tests of the Redis
# cache itself point it at a Redis database of their own.
CACHES = {
    **CACHES,  # noqa: F405
    "throttle": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "throttle",
    },
}
