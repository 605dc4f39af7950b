"""``python manage.py cleanup_photos``: delete uploaded photos that no saved search uses.

Each upload already cleans up; run this from cron too, so photos of an idle site go as well.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from search.photos import delete_expired_photos


class Command(BaseCommand):
    help = (
        "Delete uploaded query photos older than FACEFINDER_PHOTO_TTL_SECONDS that no saved "
        "search uses (row and file)."
    )

    def handle(self, *args, **options) -> None:
        deleted = delete_expired_photos()
        ttl = settings.FACEFINDER_PHOTO_TTL_SECONDS
        self.stdout.write(f"deleted {deleted} unsaved photo(s) older than {ttl} s")
