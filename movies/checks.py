"""Start-up checks (``manage.py check``, run by every management command and the dev server)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register

from movies.registration import import_dirs
from movies.video_files import import_internal_prefixes


@register()
def check_video_locations(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Behind nginx, every import folder needs an internal location, or its movies cannot play."""
    if settings.FACEFINDER_MEDIA_SERVING != "x-accel":
        return []
    mapped = import_internal_prefixes()
    return [
        Warning(
            f"The import folder {folder} has no nginx internal location: the player cannot "
            "play the movies added from it.",
            hint=f"Add {folder}=/protected-import/<name>/ to FACEFINDER_IMPORT_INTERNAL_PREFIXES "
            "and the matching internal location to nginx (README, Serving media in production).",
            id="movies.W001",
        )
        for folder in import_dirs()
        if folder not in mapped
    ]
