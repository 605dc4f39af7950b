"""People pages: the grid of people (``/people/``) and one person (``/people/<id>/``), their
appearances movie by movie. Login required, like every page; the rows come from
``faces.people_listing``, which the JSON API and the ``people`` command share."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.generic import ListView, TemplateView

from faces.correction_views import PERMISSION, history_rows
from faces.models import Person
from faces.people_listing import (
    PeopleFilters,
    appearances_by_movie,
    extras,
    faces_with_frames,
    people,
    with_counts,
)
from faces.timeline import MIN_GAP_PERCENT, AppearanceMark, Timeline, placed_timeline, span_label
from movies.models import Movie
from movies.views import ForgivingPaginationMixin


class PeopleListView(LoginRequiredMixin, ForgivingPaginationMixin, ListView):
    """Every person (hidden ones only when asked), most screen time first, searchable by name."""

    template_name = "faces/people_list.html"
    context_object_name = "people"
    paginate_by = 24

    def get_queryset(self) -> QuerySet[Person]:
        self.filters = PeopleFilters(self.request.GET)
        if not self.filters.is_valid():
            return Person.objects.none()
        return people(**self.filters.values())

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = list(context["people"])
        more = extras([person.pk for person in page])
        faces = faces_with_frames(list(more.representative.values()))
        for person in page:
            person.face = faces.get(more.representative[person.pk])
            person.embedders = more.embedders[person.pk]
        params = self.request.GET.copy()
        params.pop("page", None)
        context.update(people=page, filters=self.filters, query_string=params.urlencode())
        return context


class PersonDetailView(LoginRequiredMixin, TemplateView):
    """One person: counts, and per movie every appearance with its span, best frame and links."""

    template_name = "faces/person_detail.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        row = Person.objects.filter(pk=kwargs["pk"]).first()
        if row is not None and row.merged_into_id is not None:
            survivor = row.survivor()
            messages.info(request, f"{row} was merged into {survivor}: this is their page now.")
            return HttpResponseRedirect(survivor.get_absolute_url())
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        person = with_counts(self.kwargs["pk"])
        if person is None:
            person = _corrected_without_appearances(self.kwargs["pk"])
        movies = appearances_by_movie(person)
        face_ids = [a.representative_face_id for _m, _t, rows in movies for a in rows]
        faces = faces_with_frames(face_ids)
        more = extras([person.pk])
        films = Movie.objects.in_bulk([movie_id for movie_id, _t, _rows in movies])
        shown = []
        for movie_id, title, rows in movies:
            for appearance in rows:
                appearance.face = faces.get(appearance.representative_face_id)
                appearance.span = span_label(appearance.start_seconds, appearance.end_seconds)
            seconds = sum(a.duration_seconds for a in rows)
            shown.append(
                {
                    "movie_id": movie_id,
                    "title": title,
                    "appearances": rows,
                    "seconds": seconds,
                    "timeline": person_timeline(films[movie_id], rows),
                }
            )
        context.update(
            person=person,
            movies=shown,
            face=faces.get(more.representative[person.pk]),
            embedders=more.embedders[person.pk],
            can_correct=self.request.user.has_perm(PERMISSION),
            history=history_rows(person, self.request.user.has_perm(PERMISSION)),
        )
        if context["can_correct"]:
            context["others"] = (
                Person.objects.current().exclude(pk=person.pk).exclude(name="").order_by("name")
            )[:500]
        return context


def _corrected_without_appearances(pk: int) -> Person:
    """An unnamed person left with no appearance is no one (404), unless someone corrected
    them: then their page stays, to show their history and undo it."""
    person = Person.objects.filter(pk=pk, corrected=True).first()
    if person is None:
        raise Http404(f"There is no person {pk}.")
    person.appearance_count = person.movie_count = 0
    person.screen_seconds = 0.0
    return person


def person_timeline(movie: Movie, appearances: list) -> Timeline | None:
    """Where the person's appearances fall in ``movie``: the movie page's strip, one mark per
    appearance, each a link to its page."""
    marks = [
        (
            appearance.start_seconds,
            appearance.end_seconds,
            AppearanceMark(
                left=0.0,
                width=0.0,
                label=appearance.span,
                appearance_id=appearance.pk,
                url=appearance.get_absolute_url(),
            ),
        )
        for appearance in appearances
    ]
    return placed_timeline(movie, marks, noun="appearance", min_gap=MIN_GAP_PERCENT)
