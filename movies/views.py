"""Movie pages: the library, one movie's frames with faces, one frame with every face boxed.

Views only choose querysets and templates; heavy columns (embeddings) are never loaded.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.files.storage import default_storage
from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.views.generic import DetailView, ListView

from faces.models import Face
from faces.people_listing import cast as movie_cast
from faces.timeline import movie_timeline
from movies.models import Frame, Movie
from movies.playback import playback_for

# Columns a face box needs; the embedding (and landmarks) stay in the database.
FACE_BOX_FIELDS = (
    "id",
    "frame_id",
    "movie_id",
    "face_index",
    "x1",
    "y1",
    "x2",
    "y2",
    "probability",
    "embedder",
    "thumbnail",
)


class ForgivingPaginationMixin:
    """Pagination that never fails on a bad ``?page=``: a number past the end shows the last
    page, anything that is not a page number shows the first (``Paginator.get_page``)."""

    def paginate_queryset(
        self, queryset: QuerySet, page_size: int
    ) -> tuple[Paginator, Page, list, bool]:
        paginator = self.get_paginator(queryset, page_size, allow_empty_first_page=True)
        page = paginator.get_page(self.request.GET.get(self.page_kwarg))
        return paginator, page, page.object_list, page.has_other_pages()


def frames_with_faces(movie: Movie | int) -> QuerySet[Frame]:
    """Frames of a movie that have at least one face, in film order."""
    has_face = Exists(Face.objects.filter(frame_id=OuterRef("pk")))
    return Frame.objects.filter(movie=movie).filter(has_face).order_by("index")


def faces_for_boxes() -> QuerySet[Face]:
    return Face.objects.only(*FACE_BOX_FIELDS).order_by("face_index")


class MovieListView(LoginRequiredMixin, ForgivingPaginationMixin, ListView):
    """Every movie with a poster frame, its counters and its ingest status."""

    template_name = "movies/movie_list.html"
    context_object_name = "movies"
    paginate_by = 24

    def get_queryset(self) -> QuerySet[Movie]:
        first_face = Face.objects.filter(movie=OuterRef("pk")).order_by("frame_index", "face_index")
        return Movie.objects.annotate(
            poster_thumbnail=Subquery(first_face.values("frame__thumbnail")[:1]),
            poster_image=Subquery(first_face.values("frame__image")[:1]),
        ).order_by("title", "pk")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        for movie in context["movies"]:
            poster = movie.poster_thumbnail or movie.poster_image
            movie.poster_url = default_storage.url(poster) if poster else ""
        context["any_ingest_active"] = any(movie.ingest_active for movie in context["movies"])
        return context


class MovieDetailView(LoginRequiredMixin, ForgivingPaginationMixin, ListView):
    """One movie: its timeline of shots and appearances, and a paginated grid of the frames
    that have faces, faces outlined."""

    template_name = "movies/movie_detail.html"
    context_object_name = "frames"
    paginate_by = 24

    def get_queryset(self) -> QuerySet[Frame]:
        self.movie = get_object_or_404(Movie, pk=self.kwargs["pk"])
        return frames_with_faces(self.movie).prefetch_related(
            Prefetch("faces", queryset=faces_for_boxes())
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["movie"] = self.movie
        context["timeline"] = movie_timeline(self.movie)
        context["cast"] = movie_cast(self.movie.pk)
        # Why its appearances cannot be played (file gone, format), for a movie that names a file.
        has_file = bool(self.movie.upload or self.movie.source_path)
        context["playback"] = playback_for(self.movie) if has_file else None
        for frame in context["frames"]:
            frame.movie = self.movie  # Frame.name reads the movie; no query per frame.
        return context


class FrameDetailView(LoginRequiredMixin, DetailView):
    """One frame at full size with every face boxed; each face links to its search."""

    template_name = "movies/frame_detail.html"
    context_object_name = "frame"

    def get_queryset(self) -> QuerySet[Frame]:
        return Frame.objects.select_related("movie").prefetch_related(
            Prefetch("faces", queryset=faces_for_boxes())
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        frame: Frame = self.object
        with_faces = frames_with_faces(frame.movie_id).only("pk", "index")
        context["faces"] = list(frame.faces.all())
        context["movie"] = frame.movie
        context["previous_frame"] = with_faces.filter(index__lt=frame.index).last()
        context["next_frame"] = with_faces.filter(index__gt=frame.index).first()
        return context
