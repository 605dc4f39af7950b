"""Read-only admin for faces: they are made by ingest only, never typed in by hand."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from faces.models import Face


@admin.register(Face)
class FaceAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "thumbnail_image",
        "movie",
        "frame_index",
        "face_index",
        "probability_display",
        "embedder",
    )
    list_display_links = ("id", "thumbnail_image")
    list_filter = ("embedder", "movie")
    list_select_related = ("movie",)
    search_fields = ("movie__title",)
    ordering = ("movie", "frame_index", "face_index")
    list_per_page = 50
    show_full_result_count = False
    fields = (
        "thumbnail_image",
        "movie",
        "frame",
        "frame_index",
        "face_index",
        "box_display",
        "probability",
        "landmarks",
        "embedder",
        "dimension",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Face]:
        # The 2 KB embedding is never needed to show a face.
        return super().get_queryset(request).without_embeddings()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Face | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Face | None = None) -> bool:
        # Faces go away with their movie (or a re-ingest), never one by one.
        return False

    @admin.display(description="Face")
    def thumbnail_image(self, face: Face) -> str:
        if not face.thumbnail:
            return "(no thumbnail)"
        return format_html(
            '<img src="{}" alt="Face {} of frame {}" height="64" loading="lazy">',
            face.thumbnail.url,
            face.face_index,
            face.frame_index,
        )

    @admin.display(description="Probability", ordering="probability")
    def probability_display(self, face: Face) -> str:
        return f"{face.probability:.4f}"

    @admin.display(description="Box (x1, y1, x2, y2)")
    def box_display(self, face: Face) -> str:
        return ", ".join(f"{value:.0f}" for value in face.box)

    @admin.display(description="Embedding dimension")
    def dimension(self, face: Face) -> int:
        # Only the detail page shows this; it reads the deferred column for one face.
        return len(face.embedding) // 4
