"""The movie admin's actions: queue, re-run and cancel ingests, rebuild shots and appearances,
read the video format. Each calls the services (``movies.jobs``, ``movies.playback``) and only
reports what happened; ``MovieAdmin`` mixes them in.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from faces.rebuild import RebuildError
from movies.errors import AlreadyQueued, QueueUnavailable
from movies.jobs import cancel_ingest, enqueue_ingest, enqueue_rebuild
from movies.models import Movie
from movies.playback import record_video_format

# The permission (Movie.Meta.permissions) that running ingests needs.
INGEST_PERMISSION = "ingest_movie"


class MovieActions:
    """Admin actions of ``MovieAdmin`` (a ``ModelAdmin``: ``message_user``, ``opts``)."""

    def has_ingest_permission(self, request: HttpRequest) -> bool:
        """Whether the user may queue, re-run or cancel ingests (``movies.ingest_movie``):
        the actions below, the add form's "ingest now" and the change form's "from scratch"."""
        return request.user.has_perm(f"{self.opts.app_label}.{INGEST_PERMISSION}")

    @admin.action(
        permissions=["ingest"], description="Ingest selected movies (resume where they stopped)"
    )
    def ingest(self, request: HttpRequest, queryset: QuerySet[Movie]) -> None:
        self._enqueue(request, list(queryset), from_scratch=False)

    @admin.action(permissions=["ingest"], description="Re-ingest selected movies from scratch")
    def reingest_from_scratch(self, request: HttpRequest, queryset: QuerySet[Movie]) -> None:
        self._enqueue(request, list(queryset), from_scratch=True)

    @admin.action(permissions=["ingest"], description="Cancel the ingest of selected movies")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Movie]) -> None:
        cancelled, idle = [], []
        for movie in queryset:
            (cancelled if cancel_ingest(movie) else idle).append(str(movie))
        if cancelled:
            self.message_user(
                request,
                f"Cancelled: {', '.join(cancelled)}. A running ingest stops after its current "
                "batch and keeps what it stored; “Ingest” resumes it.",
                messages.SUCCESS,
            )
        if idle:
            self.message_user(
                request,
                f"Not queued or running, nothing to cancel: {', '.join(idle)}.",
                messages.INFO,
            )

    @admin.action(
        permissions=["ingest"], description="Rebuild shots and appearances of selected movies"
    )
    def rebuild_appearances(self, request: HttpRequest, queryset: QuerySet[Movie]) -> None:
        queued = []
        for movie in queryset:
            try:
                enqueue_rebuild(movie)
            except QueueUnavailable as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return
            except RebuildError as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            queued.append(str(movie))
        if queued:
            self.message_user(
                request,
                f"Queued a rebuild of the shots and appearances of: {', '.join(queued)}. It "
                "needs the video files (shots are found in the video) and reuses the faces.",
                messages.SUCCESS,
            )

    @admin.action(
        permissions=["change"],
        description="Read the video format of selected movies (for the player)",
    )
    def read_video_format(self, request: HttpRequest, queryset: QuerySet[Movie]) -> None:
        problems = [
            f"{movie}: {problem}" for movie in queryset if (problem := record_video_format(movie))
        ]
        read = queryset.count() - len(problems)
        if read:
            self.message_user(
                request,
                f"Read the video format of {read} movie{'s' if read != 1 else ''}.",
                messages.SUCCESS,
            )
        for problem in problems:
            self.message_user(request, f"Not read: {problem}.", messages.ERROR)

    def _enqueue(self, request: HttpRequest, movies: list[Movie], *, from_scratch: bool) -> None:
        queued, skipped = [], []
        for movie in movies:
            try:
                enqueue_ingest(movie, from_scratch=from_scratch)
            except QueueUnavailable as exc:
                self.message_user(
                    request,
                    f"Nothing more was queued: {exc}. Start Redis and try again.",
                    messages.ERROR,
                )
                break
            except AlreadyQueued as exc:
                skipped.append(str(exc))
                continue
            queued.append(str(movie))
        if queued:
            what = "re-ingest from scratch" if from_scratch else "ingest"
            self.message_user(
                request,
                f"Queued {len(queued)} movie{'s' if len(queued) != 1 else ''} for {what} "
                f"(queue “ingest”): {', '.join(queued)}.",
                messages.SUCCESS,
            )
        for reason in skipped:
            self.message_user(request, f"Not queued: {reason}.", messages.WARNING)
