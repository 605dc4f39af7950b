"""Saved searches and uploaded query photos in the admin: for support, mostly read-only."""

from django.contrib import admin

from search.models import QueryPhoto, SavedSearch


@admin.register(SavedSearch)
class SavedSearchAdmin(admin.ModelAdmin):
    list_display = [
        "name", "owner", "kind", "face", "photo", "appearance", "person", "k", "movie",
        "min_score", "group", "updated_at",
    ]  # fmt: skip
    list_filter = ["kind", "updated_at"]
    search_fields = ["name", "owner__username"]
    list_select_related = ["owner", "movie"]
    raw_id_fields = ["owner", "face", "photo", "appearance", "person", "movie"]
    readonly_fields = ["kind", "created_at", "updated_at"]


@admin.register(QueryPhoto)
class QueryPhotoAdmin(admin.ModelAdmin):
    """Photos are created by uploads only; the admin may look and delete."""

    list_display = ["__str__", "owner", "embedder", "face_count", "width", "height", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["original_name", "owner__username"]
    exclude = ["embeddings"]
    readonly_fields = [
        "owner",
        "image",
        "width",
        "height",
        "original_name",
        "embedder",
        "faces",
        "created_at",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("embeddings")

    def has_add_permission(self, request) -> bool:
        return False
