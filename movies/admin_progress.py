"""The movie list's progress poller: a small staff-only JSON view that the list page asks for
the status and progress of the movies it shows, so that bars move without a reload.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.urls import path

from movies.models import Movie

MAX_POLLED = 200


def movie_progress(movie: Movie) -> dict[str, Any]:
    """What the progress poller shows for one movie."""
    return {
        "id": movie.pk,
        "status": movie.status,
        "status_display": movie.get_status_display(),
        "progress": round(movie.progress, 4),
        "frames_sampled": movie.frames_sampled,
        "faces_found": movie.faces_found,
        "last_error": movie.last_error,
        "active": movie.ingest_active,
    }


class ProgressPolling:
    """``MovieAdmin``'s progress URL (``admin:movies_movie_progress``) and its view."""

    def get_urls(self) -> list:
        progress = path(
            "progress/",
            self.admin_site.admin_view(self.progress_view),
            name="movies_movie_progress",
        )
        return [progress, *super().get_urls()]

    def progress_view(self, request: HttpRequest) -> JsonResponse:
        """``?ids=1,2,3`` → status and progress of those movies (staff with view permission)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        # [0-9] rather than isdigit(): that also accepts digits int() refuses ("²"); at most
        # 18 of them, since a larger number is no movie's id and overflows the database's ints.
        parts = (part.strip() for part in request.GET.get("ids", "").split(","))
        ids = [int(part) for part in parts if re.fullmatch(r"[0-9]{1,18}", part)]
        rows = Movie.objects.filter(pk__in=ids[:MAX_POLLED]).only(
            "status", "progress", "frames_sampled", "faces_found", "last_error", "title"
        )
        return JsonResponse({"movies": [movie_progress(movie) for movie in rows]})
