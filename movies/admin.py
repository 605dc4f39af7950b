"""Admin for movies and frames: add a movie, queue or cancel its ingest, watch it progress.

The actions live in ``movies.admin_actions`` and the list's progress poller in
``movies.admin_progress``; ``MovieAdmin`` mixes both in and holds the forms, the add flow and
the list's columns.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from faces.models import Face
from movies.admin_actions import MovieActions
from movies.admin_progress import ProgressPolling
from movies.display import hms
from movies.forms import MovieAddForm, MovieChangeForm
from movies.models import Frame, Movie
from movies.playback import codec_label, movie_support
from movies.registration import add_movie, movie_with_checksum, update_movie

# The form fields that run an ingest (they need the ingest permission: movies.admin_actions).
RUN_INGEST_FIELDS = ("ingest_now", "from_scratch")


# What the change page shows of the ingest itself, read-only.
INGEST_FIELDS = (
    "frames_sampled",
    "faces_found",
    "next_frame_index",
    "ingest_settings",
    "job_id",
    "ingest_started_at",
    "ingest_finished_at",
    "created_at",
    "updated_at",
)


@admin.register(Movie)
class MovieAdmin(MovieActions, ProgressPolling, admin.ModelAdmin):
    list_display = (
        "title",
        "status_display",
        "progress_display",
        "frames_sampled",
        "faces_found",
        "resolution",
        "duration_display",
        "sample_every",
        "embedder",
        "updated_at",
    )
    list_filter = ("status", "embedder")
    search_fields = ("title", "file_name", "checksum")
    actions = (
        "ingest",
        "reingest_from_scratch",
        "cancel",
        "rebuild_appearances",
        "read_video_format",
    )
    readonly_fields = (
        "status_display",
        "progress_display",
        "last_error",
        "source_display",
        "size_bytes",
        "checksum",
        "fps",
        "frame_count",
        "duration_display",
        "resolution",
        "video_format",
        *INGEST_FIELDS,
    )
    fieldsets = (
        (None, {"fields": ("title", "status_display", "progress_display", "last_error")}),
        ("Sampling", {"fields": ("sample_every", "embedder", "min_face", "from_scratch")}),
        (
            "File",
            {"fields": ("source_display", "size_bytes", "checksum", "fps", "frame_count")},
        ),
        ("Video", {"fields": ("duration_display", "resolution", "video_format")}),
        ("Ingest", {"fields": INGEST_FIELDS}),
    )
    add_fieldsets = (
        (None, {"fields": ("upload", "server_path", "title")}),
        ("Sampling", {"fields": ("sample_every", "embedder", "min_face", "ingest_now")}),
    )

    class Media:
        css = {"all": ("movies/admin/ingest_progress.css",)}
        js = ("movies/admin/ingest_progress.js",)

    # --- forms -----------------------------------------------------------------------------

    def get_form(self, request: HttpRequest, obj: Movie | None = None, **kwargs: Any) -> Any:
        kwargs["form"] = MovieAddForm if obj is None else MovieChangeForm
        form = super().get_form(request, obj, **kwargs)
        if not self.has_ingest_permission(request):
            # modelform_factory made this class for this request: its base_fields are its own.
            for name in RUN_INGEST_FIELDS:
                form.base_fields.pop(name, None)
        return form

    def get_fieldsets(self, request: HttpRequest, obj: Movie | None = None) -> Any:
        fieldsets = self.add_fieldsets if obj is None else self.fieldsets
        if self.has_ingest_permission(request):
            return fieldsets
        kept = [
            (name, [field for field in options["fields"] if field not in RUN_INGEST_FIELDS])
            for name, options in fieldsets
        ]
        return [(name, {"fields": fields}) for name, fields in kept]

    def get_readonly_fields(self, request: HttpRequest, obj: Movie | None = None) -> Any:
        return () if obj is None else self.readonly_fields

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The add page runs outside a transaction (Django's wraps the whole view in one).

        An add reads the upload's body, hashes the file and moves it into media storage: with
        SQLite (``IMMEDIATE``), a transaction holds the write lock from its start, and a
        worker's batch write would wait past the busy timeout behind a multi-gigabyte add.
        ``movies.registration.add_movie`` makes its own short writes.
        """
        if object_id is None and not connection.in_atomic_block:
            return self._changeform_view(request, object_id, form_url, extra_context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Movie, form: Any, change: bool) -> None:
        """Save through the services: a change writes only the fields the form changed (never
        the progress fields a running ingest keeps writing) under the settings rule; a new
        movie registers its file (``obj`` stays unsaved when the file is already known)."""
        data = form.cleaned_data
        # The ingest fields exist only in the forms of users who may run ingests.
        may_ingest = self.has_ingest_permission(request)
        from_scratch = may_ingest and bool(data.get("from_scratch"))
        if change:
            update_movie(obj, form.changes(), from_scratch=from_scratch)
            if from_scratch:
                self._enqueue_on_commit(request, obj, from_scratch=True)
            return
        add_movie(obj, path=data["server_path"] or None, upload=data.get("upload") or None)
        if obj.pk is not None and may_ingest and data.get("ingest_now"):
            self._enqueue_on_commit(request, obj, from_scratch=False)

    def _enqueue_on_commit(self, request: HttpRequest, movie: Movie, *, from_scratch: bool) -> None:
        """Queue once the movie's row is committed: a fast worker must find it."""
        transaction.on_commit(lambda: self._enqueue(request, [movie], from_scratch=from_scratch))

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """Frames and faces are parts of their movie (read-only in their own admins): whoever
        may delete a movie deletes them with it."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        parts = {str(Frame._meta.verbose_name), str(Face._meta.verbose_name)}
        return deleted, counts, {p for p in perms_needed if str(p) not in parts}, protected

    def log_addition(self, request: HttpRequest, obj: Movie, message: Any) -> Any:
        if obj.pk is None:  # the file was already in the library: nothing was added
            return None
        return super().log_addition(request, obj, message)

    def response_add(
        self, request: HttpRequest, obj: Movie, post_url_continue: str | None = None
    ) -> HttpResponse:
        if obj.pk is not None:
            return super().response_add(request, obj, post_url_continue)
        known = movie_with_checksum(obj.checksum)
        change_url = reverse("admin:movies_movie_change", args=[known.pk])
        self.message_user(
            request,
            format_html(
                "This file is already in the library as <a href='{}'>{}</a>; nothing was added.",
                change_url,
                known,
            ),
            messages.WARNING,
        )
        return HttpResponseRedirect(change_url)

    @admin.display(description="Status", ordering="status")
    def status_display(self, movie: Movie) -> str:
        title = movie.last_error if movie.status == Movie.Status.FAILED else ""
        error = (
            format_html('<div class="ingest-error">{}</div>', movie.last_error)
            if movie.last_error
            else mark_safe('<div class="ingest-error" hidden></div>')
        )
        # The poller (ingest_progress.js) reads these; it polls while any movie is active.
        return format_html(
            '<span class="ingest-status ingest-status-{}" data-ingest-movie="{}" '
            'data-ingest-url="{}" data-ingest-status="{}" data-ingest-active="{}" '
            'title="{}">{}</span>{}',
            movie.status,
            movie.pk,
            reverse("admin:movies_movie_progress"),
            movie.status,
            "true" if movie.ingest_active else "false",
            title,
            movie.get_status_display(),
            error,
        )

    @admin.display(description="Progress", ordering="progress")
    def progress_display(self, movie: Movie) -> str:
        percent = round(100 * movie.progress)
        return format_html(
            '<span class="ingest-progress" data-ingest-progress="{}">'
            '<progress max="100" value="{}" aria-label="Ingest progress of {}">{}%</progress> '
            '<span class="ingest-progress-text">{}%</span></span>',
            movie.pk,
            percent,
            movie.title,
            percent,
            percent,
        )

    @admin.display(description="Resolution")
    def resolution(self, movie: Movie) -> str:
        return f"{movie.width}x{movie.height}" if movie.width and movie.height else "-"

    @admin.display(description="Duration", ordering="duration_seconds")
    def duration_display(self, movie: Movie) -> str:
        return hms(movie.duration_seconds) if movie.duration_seconds else "-"

    @admin.display(description="Source")
    @admin.display(description="Format")
    def video_format(self, movie: Movie) -> str:
        """Container and codecs, and whether browsers play them (movies.playback)."""
        if not movie.container:
            return "not read yet (action “Read the video format”)"
        codecs = [codec_label(movie.video_codec)]
        codecs += [codec_label(movie.audio_codec)] if movie.audio_codec else ["no sound"]
        support = movie_support(movie)
        verdict = "plays in browsers" if support.plays else "does not play in browsers"
        note = f": {support.note}" if support.note else ""
        return f"{movie.container}, {', '.join(codecs)}; {verdict}{note}"

    def source_display(self, movie: Movie) -> str:
        if movie.upload:
            return f"upload: {movie.upload.name}"
        return movie.source_path or "-"


@admin.register(Frame)
class FrameAdmin(admin.ModelAdmin):
    """Frames are made by ingest only: read-only here, deleted with their movie."""

    list_display = ("thumbnail_image", "movie", "index", "timestamp_display", "face_count")
    list_display_links = ("thumbnail_image", "index")
    list_filter = ("movie",)
    list_select_related = ("movie",)
    list_per_page = 50
    show_full_result_count = False
    ordering = ("movie", "index")
    fields = (
        "image_display",
        "movie",
        "index",
        "timestamp_display",
        "width",
        "height",
        "image",
        "thumbnail",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Frame]:
        return super().get_queryset(request).annotate(face_total=Count("faces"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Frame | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Frame | None = None) -> bool:
        return False

    @admin.display(description="Frame")
    def thumbnail_image(self, frame: Frame) -> str:
        image = frame.thumbnail or frame.image
        if not image:
            return "(no image)"
        return format_html(
            '<img src="{}" alt="Frame {}" height="72" loading="lazy">', image.url, frame.index
        )

    @admin.display(description="Image")
    def image_display(self, frame: Frame) -> str:
        if not frame.image:
            return "(no image)"
        return format_html(
            '<img src="{}" alt="Frame {}" style="max-width: 100%; height: auto" width="{}">',
            frame.image.url,
            frame.index,
            min(frame.width or 640, 960),
        )

    @admin.display(description="Time", ordering="timestamp")
    def timestamp_display(self, frame: Frame) -> str:
        return hms(frame.timestamp, digits=2)

    @admin.display(description="Faces", ordering="face_total")
    def face_count(self, frame: Frame) -> int:
        return getattr(frame, "face_total", 0)
