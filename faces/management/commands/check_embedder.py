"""Tell whether an embedder can load here: ``python manage.py check_embedder [NAME]``.

Exit 0 with "ok: NAME (DIM-d) on DEVICE" when it loads; exit 1 with the one-line reason on
stderr otherwise (scripts/demo uses this to choose a working default).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from faces.detection import device
from faces.embedders import EMBEDDER_NAMES, EmbedderError, get_embedder


class Command(BaseCommand):
    help = "Load a face embedder and say whether it works (exit status 1 when it does not)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "name",
            nargs="?",
            help=f"one of {', '.join(EMBEDDER_NAMES)} (default: settings.FACEFINDER_EMBEDDER)",
        )

    def handle(self, *args, name: str | None = None, **options) -> None:
        name = name or settings.FACEFINDER_EMBEDDER
        try:
            embedder = get_embedder(name)
            on = device()
        except (EmbedderError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc), returncode=1) from exc
        self.stdout.write(f"ok: {embedder.name} ({embedder.dimension}-d) on {on}")
