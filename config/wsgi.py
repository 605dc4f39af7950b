"""WSGI entry point."""

import os

from django.core.wsgi import get_wsgi_application

from config.environment import load_dotenv

load_dotenv()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
