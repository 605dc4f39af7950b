"""Admin for faces and appearances (read-only: made by ingest, never typed in by hand) and
people (named, annotated and hidden by staff; made by clustering)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.files.storage import default_storage
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from faces import correction_history, corrections
from faces.corrections import CorrectionRefused
from faces.jobs import enqueue_cluster
from faces.models import Appearance, Correction, Face, Person
from faces.people_listing import people
from faces.timeline import span_label
from movies.display import hms
from movies.errors import QueueUnavailable


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


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    """People are made by clustering (``faces.people``); staff name, annotate or hide them."""

    list_display = (
        "id",
        "face_image",
        "name_display",
        "hidden",
        "appearance_count",
        "movie_count",
        "screen_time",
    )
    list_display_links = ("id", "face_image", "name_display")
    list_filter = ("hidden",)
    search_fields = ("name", "note")
    list_per_page = 50
    fields = (
        "name",
        "note",
        "hidden",
        "appearance_count",
        "movie_count",
        "screen_time",
        "merged_into",
        "correction_history",
    )
    readonly_fields = (
        "appearance_count",
        "movie_count",
        "screen_time",
        "merged_into",
        "correction_history",
    )
    actions = ("recluster_people",)

    def save_model(self, request: HttpRequest, obj: Person, form, change: bool) -> None:
        """A name or hidden changed here is a correction like any other (recorded, undoable,
        kept by re-clustering); the note is saved as it is."""
        if not change:
            return super().save_model(request, obj, form, change)
        Person.objects.filter(pk=obj.pk).update(note=obj.note)
        person = Person.objects.get(pk=obj.pk)
        try:
            if "name" in form.changed_data:
                corrections.rename(person, obj.name, by=request.user, via="admin")
            if "hidden" in form.changed_data:
                corrections.set_hidden(person, obj.hidden, by=request.user, via="admin")
        except CorrectionRefused as refused:
            self.message_user(request, str(refused), messages.ERROR)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Person]:
        # The crop of the face of the person's appearance with most faces, in the same query.
        best = Appearance.objects.filter(person=OuterRef("pk")).order_by("-face_count", "pk")
        return people(hidden=None).annotate(
            face_crop=Subquery(best.values("representative_face__thumbnail")[:1])
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        """A person merged into someone is edited as that someone (their links, the correction
        history's included, lead there) rather than answered "doesn't exist"."""
        merged = None
        if object_id.isdigit() and self.has_view_or_change_permission(request):
            merged = Person.objects.filter(pk=object_id, merged_into__isnull=False).first()
        if merged is not None:
            survivor = merged.survivor()
            self.message_user(request, f"{merged} was merged into {survivor}.", messages.INFO)
            return redirect("admin:faces_person_change", survivor.pk)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Face")
    def face_image(self, person: Person) -> str:
        if not person.face_crop:
            return "(no face crop)"
        return format_html(
            '<img src="{}" alt="Face of {}" height="48" loading="lazy">',
            default_storage.url(person.face_crop),
            person.display_name,
        )

    @admin.display(description="Name", ordering="name")
    def name_display(self, person: Person) -> str:
        return person.name or "(unnamed)"

    @admin.display(description="Appearances", ordering="appearance_count")
    def appearance_count(self, person: Person) -> int:
        return person.appearance_count

    @admin.display(description="Movies", ordering="movie_count")
    def movie_count(self, person: Person) -> int:
        return person.movie_count

    @admin.display(description="Screen time", ordering="screen_seconds")
    def screen_time(self, person: Person) -> str:
        return hms(person.screen_seconds or 0.0)

    @admin.display(description="Corrections")
    def correction_history(self, person: Person) -> str:
        rows = correction_history.history(person)[:50]
        if not rows:
            return "(none)"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a> — {} ({}), {}{}</li>',
                (
                    (
                        reverse("admin:faces_correction_change", args=[row.pk]),
                        row.summary,
                        row.user or "someone",
                        row.via,
                        row.created_at.strftime("%Y-%m-%d %H:%M"),
                        " — undone" if row.undone else "",
                    )
                    for row in rows
                ),
            ),
        )

    @admin.action(
        permissions=["change"],
        description="Re-cluster unnamed people (every embedder; the selection is not used)",
    )
    def recluster_people(self, request: HttpRequest, queryset: QuerySet[Person]) -> None:
        try:
            job_id = enqueue_cluster()
        except QueueUnavailable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            f"Queued a re-cluster of unnamed people ({job_id}, queue “ingest”). Named people "
            "keep their appearances; unnamed ones that persist keep their ids.",
            messages.SUCCESS,
        )


@admin.register(Appearance)
class AppearanceAdmin(admin.ModelAdmin):
    """Read-only: appearances are made by ingest and rebuilt by ``appearances rebuild``."""

    list_display = ("id", "movie", "embedder", "span", "face_count", "person")
    list_filter = ("embedder", "movie")
    list_select_related = ("movie", "person")
    list_per_page = 50
    show_full_result_count = False
    fields = (
        "movie",
        "embedder",
        "shot",
        "span",
        "first_frame_index",
        "last_frame_index",
        "face_count",
        "representative_face",
        "person",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Appearance]:
        return super().get_queryset(request).without_embeddings()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Appearance | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Appearance | None = None) -> bool:
        return False

    @admin.display(description="On screen")
    def span(self, appearance: Appearance) -> str:
        return span_label(appearance.start_seconds, appearance.end_seconds)


@admin.register(Correction)
class CorrectionAdmin(admin.ModelAdmin):
    """The history of corrections (``faces.corrections``), read-only; the action undoes the
    selected ones, each while it is still the latest of the people it touched."""

    list_display = ("created_at", "user", "via", "action", "summary", "undone")
    list_filter = ("action", "via")
    list_select_related = ("user", "person", "other_person", "undone_by")
    search_fields = ("summary",)
    list_per_page = 50
    fields = (
        "created_at",
        "user",
        "via",
        "action",
        "summary",
        "person",
        "other_person",
        "before",
        "after",
        "undone_at",
        "undone_by",
        "undone_via",
    )
    readonly_fields = fields
    actions = ("undo_corrections",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Correction | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Correction | None = None) -> bool:
        return False  # the history is what undo reads; it is never edited

    def has_undo_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(corrections.PERMISSION)

    @admin.display(boolean=True, description="Undone")
    def undone(self, correction: Correction) -> bool:
        return correction.undone

    @admin.action(permissions=["undo"], description="Undo the selected corrections")
    def undo_corrections(self, request: HttpRequest, queryset: QuerySet[Correction]) -> None:
        # Newest first: undoing the latest lets an earlier one of the same people follow.
        done = 0
        for correction in queryset.order_by("-pk"):
            try:
                correction_history.undo(correction, by=request.user, via="admin")
            except CorrectionRefused as refused:
                self.message_user(
                    request, f"Not undone: {correction.summary}: {refused}", messages.ERROR
                )
            else:
                done += 1
        if done:
            self.message_user(request, f"Undid {done} correction(s).", messages.SUCCESS)
