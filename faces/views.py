"""Appearance pages: one face followed through a shot, its frames, its place on the movie's
timeline, and the player opened at its start. Login required, like every page."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.views.generic import ListView

from faces import corrections
from faces.models import Appearance, Face
from faces.timeline import movie_timeline, span_label
from movies.playback import playback_for
from movies.views import FACE_BOX_FIELDS, ForgivingPaginationMixin

FRAME_FIELDS = ("frame__index", "frame__timestamp", "frame__width", "frame__height")
FRAME_FIELDS += ("frame__image", "frame__thumbnail")


class AppearanceDetailView(LoginRequiredMixin, ForgivingPaginationMixin, ListView):
    """One appearance: span, player, timeline with it marked, and its faces frame by frame
    (paginated), each boxed on its frame beside the other faces of that frame."""

    template_name = "faces/appearance_detail.html"
    context_object_name = "faces"
    paginate_by = 24

    def get_queryset(self) -> QuerySet[Face]:
        self.appearance = get_object_or_404(
            Appearance.objects.without_embeddings().select_related("movie", "shot", "person"),
            pk=self.kwargs["pk"],
        )
        return (
            Face.objects.filter(appearance=self.appearance)
            .select_related("frame")
            .only(*FACE_BOX_FIELDS, "appearance_id", *FRAME_FIELDS)
            .order_by("frame_index", "face_index")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        appearance: Appearance = self.appearance
        movie = appearance.movie
        faces = list(context["faces"])
        others = _other_faces(faces)
        for face in faces:
            face.frame.movie = movie  # Frame.name reads the movie; no query per frame.
            face.others = others.get(face.frame_id, [])
        playback = playback_for(movie)
        context.update(
            faces=faces,
            appearance=appearance,
            movie=movie,
            span=span_label(appearance.start_seconds, appearance.end_seconds),
            representative=_representative(appearance),
            playback=playback,
            player_start=playback.player_time(appearance.start_seconds),
            timeline=movie_timeline(movie, marked=appearance.pk),
            can_correct=self.request.user.has_perm(corrections.PERMISSION),
            **_neighbours(appearance),
        )
        return context


def _other_faces(faces: list[Face]) -> dict[int, list[Face]]:
    """The other faces of the frames shown, by frame id (one query)."""
    shown = {face.pk for face in faces}
    others: dict[int, list[Face]] = defaultdict(list)
    rows = Face.objects.filter(frame_id__in={face.frame_id for face in faces}).only(
        *FACE_BOX_FIELDS
    )
    for face in rows.exclude(pk__in=shown).order_by("face_index"):
        others[face.frame_id].append(face)
    return others


def _representative(appearance: Appearance) -> Face | None:
    """The appearance's representative face with its frame (the player's poster)."""
    if appearance.representative_face_id is None:
        return None
    return (
        Face.objects.filter(pk=appearance.representative_face_id)
        .select_related("frame")
        .only(*FACE_BOX_FIELDS, *FRAME_FIELDS)
        .first()
    )


def _neighbours(appearance: Appearance) -> dict[str, Appearance | None]:
    """The appearances of the same movie just before and after this one in time."""
    same_movie = Appearance.objects.filter(movie_id=appearance.movie_id).only(
        "pk", "start_seconds", "end_seconds"
    )
    at, pk = appearance.start_seconds, appearance.pk
    before = Q(start_seconds__lt=at) | Q(start_seconds=at, pk__lt=pk)
    after = Q(start_seconds__gt=at) | Q(start_seconds=at, pk__gt=pk)
    return {
        "previous_appearance": same_movie.filter(before).order_by("-start_seconds", "-pk").first(),
        "next_appearance": same_movie.filter(after).order_by("start_seconds", "pk").first(),
    }
