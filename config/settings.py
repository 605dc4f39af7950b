"""Settings of manage.py, the web server and the rq workers (``DJANGO_SETTINGS_MODULE``'s
default): the shared settings plus the secret key they refuse to start without.

Django signs sessions, CSRF tokens and password-reset links with ``DJANGO_SECRET_KEY``.
``scripts/demo`` writes a generated one into the local ``.env``; a deployment sets its own.
"""

from django.core.exceptions import ImproperlyConfigured

from config.settings_base import *  # noqa: F403
from config.settings_base import env

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set: set it in the environment or in .env "
        "(./scripts/demo writes a generated one for local use)."
    )
