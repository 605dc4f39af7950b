"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

from config.environment import load_dotenv

load_dotenv()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
