"""Saved searches and the photos people upload to search with.

An uploaded photo is kept only while a saved search uses it: ``search.photos`` deletes unsaved
photos after ``FACEFINDER_PHOTO_TTL_SECONDS`` and deleting the last saved search of a photo
deletes the photo (row and file; the receivers are in ``search.signals``).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import numpy as np
from django.conf import settings
from django.db import models
from django.urls import reverse

from faces.models import Appearance, Face, Person, unpack_vector
from movies.models import Movie


def query_photo_path(photo: QueryPhoto, filename: str) -> str:
    """An unguessable name below a per-user folder; the file is served only to its owner."""
    return f"search/photos/{photo.owner_id}/{uuid.uuid4().hex}.jpg"


class QueryPhoto(models.Model):
    """A photo uploaded to search by, with the faces found in it (computed once, at upload)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="query_photos"
    )
    # Stored as a JPEG, upright and scaled down; boxes below are in its pixels.
    image = models.ImageField(upload_to=query_photo_path, max_length=255)
    width = models.IntegerField()
    height = models.IntegerField()
    original_name = models.CharField(max_length=255, blank=True)
    embedder = models.CharField(max_length=64)
    # One entry per detected face, in detection order: {"box": [x1, y1, x2, y2],
    # "probability": p} in pixels of the stored image.
    faces = models.JSONField(default=list, blank=True)
    # The faces' unit vectors, row after row, little-endian float32 (len = 4 * dim * faces).
    embeddings = models.BinaryField(blank=True, default=b"")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.original_name or f"Photo {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("search:photo-faces", args=[self.pk])

    @property
    def face_count(self) -> int:
        return len(self.faces)

    def vector(self, face_index: int) -> np.ndarray:
        """The unit vector of face ``face_index`` (IndexError when there is no such face)."""
        if not 0 <= face_index < self.face_count:
            raise IndexError(face_index)
        rows = unpack_vector(self.embeddings).reshape(self.face_count, -1)
        return rows[face_index]

    def box(self, face_index: int) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = self.faces[face_index]["box"]
        return (x1, y1, x2, y2)

    def get_image_url(self) -> str:
        return reverse("search:photo-image", args=[self.pk])


class Grouping(models.TextChoices):
    """How a results page gathers the faces found (``search.services``)."""

    APPEARANCE = "appearance", "by appearance"
    DUPLICATE = "duplicate", "by near-duplicate"


class SavedSearch(models.Model):
    """A search kept under a name: a stored face, one face of an uploaded photo, an
    appearance or a person, plus filters.

    Exactly one of ``face``, ``photo``, ``appearance`` and ``person`` is set when it is saved,
    and ``kind`` records which (set by ``save``). Deleting a movie deletes its faces and with
    them the saved searches that asked about them (there is nothing left to re-run). An
    appearance is another matter: rebuilding a movie's appearances replaces them all, so a
    search saved with one keeps its name and filters with ``appearance`` emptied, and says that
    its appearance is gone (``query_gone``) instead of vanishing from its owner's list. So does
    a person search when its person is deleted; one whose person was renamed runs as before,
    and one whose person was merged into another runs on the survivor (``Person.survivor``
    at run time, so that undoing the merge brings the search back to its person).
    """

    class Kind(models.TextChoices):
        FACE = "face", "face"
        PHOTO = "photo", "photo"
        APPEARANCE = "appearance", "appearance"
        PERSON = "person", "person"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(max_length=120)
    face = models.ForeignKey(
        Face, null=True, blank=True, on_delete=models.CASCADE, related_name="saved_searches"
    )
    photo = models.ForeignKey(
        QueryPhoto, null=True, blank=True, on_delete=models.CASCADE, related_name="saved_searches"
    )
    photo_face_index = models.IntegerField(null=True, blank=True)
    appearance = models.ForeignKey(
        Appearance,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="saved_searches",
    )
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="saved_searches"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FACE)
    k = models.PositiveIntegerField(default=20)
    movie = models.ForeignKey(
        Movie, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    min_score = models.FloatField(null=True, blank=True)
    group = models.CharField(max_length=16, choices=Grouping.choices, default=Grouping.APPEARANCE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name_plural = "saved searches"

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # The kind follows the query it was saved with, and stays when its appearance or
        # person goes.
        if self.person_id is not None:
            self.kind = self.Kind.PERSON
        elif self.appearance_id is not None:
            self.kind = self.Kind.APPEARANCE
        elif self.photo_id is not None:
            self.kind = self.Kind.PHOTO
        elif self.face_id is not None:
            self.kind = self.Kind.FACE
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("search:saved-run", args=[self.pk])

    @property
    def is_photo_search(self) -> bool:
        return self.photo_id is not None

    @property
    def is_appearance_search(self) -> bool:
        return self.kind == self.Kind.APPEARANCE

    @property
    def is_person_search(self) -> bool:
        return self.kind == self.Kind.PERSON

    @property
    def query_gone(self) -> bool:
        """Its appearance no longer exists (the movie's appearances were rebuilt or removed),
        or its person was deleted."""
        if self.is_person_search:
            return self.person_id is None
        return self.is_appearance_search and self.appearance_id is None

    def current_person(self) -> Person | None:
        """The person a person search runs on: its own, or whom they were merged into."""
        return self.person.survivor() if self.person_id is not None else None

    def filter_params(self) -> dict[str, str]:
        params = {"k": str(self.k)}
        if self.movie_id:
            params["movie"] = str(self.movie_id)
        if self.min_score is not None:
            params["min_score"] = f"{self.min_score:g}"
        if self.group != Grouping.APPEARANCE:
            params["group"] = self.group
        return params

    def get_results_url(self) -> str | None:
        """The results page this search re-runs on, with its filters; None when its query is
        gone (``query_gone``)."""
        if self.query_gone:
            return None
        if self.is_person_search:
            base = reverse("search:person", args=[self.current_person().pk])
        elif self.is_appearance_search:
            base = reverse("search:appearance", args=[self.appearance_id])
        elif self.is_photo_search:
            base = reverse("search:photo-results", args=[self.photo_id, self.photo_face_index])
        else:
            base = reverse("search:face", args=[self.face_id])
        return f"{base}?{urlencode({**self.filter_params(), 'saved': self.pk})}"
