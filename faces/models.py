"""Faces found in frames, each with the embedding of one named embedder; appearances: one
face followed across the sampled frames of one shot; people: appearances grouped by who is in
them (``faces.people``); and each embedder's calibrated same-person threshold."""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models
from django.urls import reverse

from movies.models import Frame, Movie, Shot


class FaceQuerySet(models.QuerySet):
    def without_embeddings(self) -> FaceQuerySet:
        """Lists never need the 2 KB vectors."""
        return self.defer("embedding")


class Face(models.Model):
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="faces")
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="faces")
    # Natural key (movie, frame_index, face_index): the frame index is copied here so that the
    # unique key contains the movie (SingleStoreDB shards faces by movie).
    frame_index = models.IntegerField()
    face_index = models.IntegerField()
    # Box in frame pixels.
    x1 = models.FloatField()
    y1 = models.FloatField()
    x2 = models.FloatField()
    y2 = models.FloatField()
    probability = models.FloatField()
    # Five MTCNN landmarks as [[x, y], ...] in frame pixels.
    landmarks = models.JSONField(default=list, blank=True)
    embedder = models.CharField(max_length=64, db_index=True)
    # Little-endian float32, L2-normalised; length = 4 * the embedder's dimension.
    embedding = models.BinaryField()
    thumbnail = models.ImageField(max_length=255, blank=True)
    # Variance of the Laplacian of the face's grey crop at 64 x 64 (faces.quality), from the
    # decoded frame at ingest; null for faces stored before it was recorded.
    sharpness = models.FloatField(null=True, blank=True)
    # The appearance this face belongs to; null until its shot has ended (appearances are
    # written shot by shot) or for movies ingested before appearances existed.
    appearance = models.ForeignKey(
        "Appearance", on_delete=models.SET_NULL, null=True, blank=True, related_name="faces"
    )

    objects = FaceQuerySet.as_manager()

    class Meta:
        ordering = ["movie", "frame_index", "face_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["movie", "frame_index", "face_index"], name="face_unique_natural_key"
            ),
        ]
        indexes = [models.Index(fields=["embedder", "movie"], name="face_embedder_movie")]

    def __str__(self) -> str:
        return f"Face {self.pk}"

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)


class PersonQuerySet(models.QuerySet):
    def current(self) -> PersonQuerySet:
        """People not merged into someone else."""
        return self.filter(merged_into=None)

    def kept(self) -> PersonQuerySet:
        """People re-clustering keeps as they are: named or corrected ones."""
        return self.filter(models.Q(corrected=True) | ~models.Q(name=""))


class Person(models.Model):
    """Someone who appears in the library: a group of appearances (``faces.people`` makes and
    keeps them). Unnamed people come and go with re-clustering; a named one is kept with its
    appearances. ``hidden`` leaves the person out of the people page unless asked for."""

    name = models.CharField(max_length=200, blank=True, db_index=True)
    note = models.TextField(blank=True)
    hidden = models.BooleanField(default=False)
    # Someone corrected this person (``faces.corrections``: named, hidden, merged, split, an
    # appearance taken away): re-clustering keeps them as they are, adding members but never
    # rebuilding or deleting them.
    corrected = models.BooleanField(default=False)
    # Merged into another person: this row stays so that its old links (pages, saved
    # searches, the history) lead to the survivor, and so that the merge can be undone.
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.name or f"Unnamed person {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("faces:person", args=[self.pk])

    @property
    def display_name(self) -> str:
        return self.name or "Unnamed"

    def survivor(self) -> Person:
        """Whom someone merged this person into (following merges), else this person."""
        person, seen = self, {self.pk}
        while person.merged_into_id is not None and person.merged_into_id not in seen:
            seen.add(person.merged_into_id)
            person = Person.objects.get(pk=person.merged_into_id)
        return person


class PersonCentroid(models.Model):
    """A person's members of one embedder summed: the sum of their unit vectors (little-endian
    float64) and how many there are, so that a new movie is assigned against people's means
    without reading their appearances. ``faces.centroids`` keeps it: written with every
    assignment and re-cluster, and checked against the members' count (an appearance deleted
    with its movie or a rebuild leaves it stale, and it is summed again)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="centroids")
    embedder = models.CharField(max_length=64)
    vector_sum = models.BinaryField()
    count = models.IntegerField()
    face_count = models.IntegerField()

    class Meta:
        # Not unique: SingleStoreDB enforces a unique key only when it holds the shard key (id
        # here); one row per (embedder, person) is kept by ``faces.centroids`` under the
        # embedder's people lock.
        indexes = [models.Index(fields=["embedder", "person"], name="centroid_embedder_person")]

    def __str__(self) -> str:
        return f"{self.embedder} centroid of person {self.person_id}"


class PeopleLock(models.Model):
    """Who is assigning or re-clustering an embedder's people now (``faces.locks``): claimed by
    a conditional UPDATE with an owner token and an expiry, so that two ingests finishing at
    once never both found the same people, and a holder that died frees it when it expires."""

    # The primary key, like EmbedderCalibration's: the unique key holds the shard key.
    embedder = models.CharField(max_length=64, primary_key=True)
    owner = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.embedder}: {self.owner or 'free'}"


class EmbedderCalibration(models.Model):
    """An embedder's same-person threshold, measured by ``manage.py calibrate_embedder`` on
    labelled photos (``faces.calibration``). A row here overrides the figure shipped in code;
    kept in the database so that every web server and worker reads the same one."""

    # The primary key: SingleStoreDB enforces a unique key only when it holds the shard key.
    embedder = models.CharField(max_length=64, primary_key=True)
    threshold = models.FloatField()  # cosine similarity at or above which: likely the same
    false_accept_rate = models.FloatField()
    true_accept_rate = models.FloatField()
    target_false_accept_rate = models.FloatField()
    genuine_pairs = models.IntegerField()
    impostor_pairs = models.IntegerField()
    photos = models.IntegerField()
    people = models.IntegerField()
    source = models.CharField(max_length=500, blank=True)  # the labelled folder
    measured_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.embedder}: {self.threshold:.4f}"


# Ids per statement: a statement's parameters are limited, and short ones hold no lock long.
UPDATE_CHUNK = 2000


class AppearanceQuerySet(models.QuerySet):
    def without_embeddings(self) -> AppearanceQuerySet:
        return self.defer("embedding")

    def set_person(self, ids: list[int], person_id: int | None) -> None:
        """Give the appearances ``ids`` (of these) to ``person_id``, a chunk of ids at a time."""
        for start in range(0, len(ids), UPDATE_CHUNK):
            self.filter(pk__in=ids[start : start + UPDATE_CHUNK]).update(person_id=person_id)


class Appearance(models.Model):
    """One face followed across consecutive sampled frames of one shot.

    ``start_seconds`` is the time of its first sampled frame; ``end_seconds`` that of its last
    sampled frame plus the sampling interval, clipped to the end of its shot, so that an
    appearance of a single sampled frame still has a length. ``embedding`` is the unit mean of
    its faces' unit vectors, packed like ``Face.embedding``.
    """

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="appearances")
    embedder = models.CharField(max_length=64)
    shot = models.ForeignKey(Shot, on_delete=models.CASCADE, related_name="appearances")
    # Natural key (movie, first_frame_index, first_face_index): the appearance's first face,
    # which belongs to no other appearance.
    first_frame_index = models.IntegerField()
    first_face_index = models.IntegerField()
    last_frame_index = models.IntegerField()
    start_seconds = models.FloatField()
    end_seconds = models.FloatField()
    face_count = models.IntegerField()
    representative_face = models.ForeignKey(
        Face, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Little-endian float32, L2-normalised mean of the faces' vectors.
    embedding = models.BinaryField()
    # Who this is (``faces.people``); null while the appearance waits for enough evidence.
    person = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="appearances"
    )

    objects = AppearanceQuerySet.as_manager()

    class Meta:
        ordering = ["movie", "first_frame_index", "first_face_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["movie", "first_frame_index", "first_face_index"],
                name="appearance_unique_natural_key",
            ),
        ]
        indexes = [
            models.Index(fields=["embedder", "movie"], name="appearance_embedder_movie"),
        ]

    def __str__(self) -> str:
        return f"Appearance {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("faces:appearance", args=[self.pk])

    @property
    def duration_seconds(self) -> float:
        return self.end_seconds - self.start_seconds


class AppearanceKey(models.Model):
    """Where an appearance was, by what outlives its row (``faces.keys``): the movie, its time
    span, and its representative face's time and box in fractions of the frame. Appearances
    are rebuilt with new ids by a re-ingest, a rebuild or a re-embedding; these find their
    successors (the way PhotoPrism's ``faces migrate`` keeps names)."""

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="+")
    start_seconds = models.FloatField()
    end_seconds = models.FloatField()
    at_seconds = models.FloatField()
    box_left = models.FloatField()
    box_top = models.FloatField()
    box_right = models.FloatField()
    box_bottom = models.FloatField()

    class Meta:
        abstract = True


class PendingMember(AppearanceKey):
    """An appearance of ``person`` whose row was deleted to be built again (``faces.keys``
    writes one per member before a movie's appearances go): when the movie's new appearances
    are written, the one in its place joins the person again, and this row goes."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="pending")

    class Meta:
        indexes = [models.Index(fields=["movie"], name="pendingmember_movie")]

    def __str__(self) -> str:
        return f"Pending member of person {self.person_id} in movie {self.movie_id}"


class Rejection(AppearanceKey):
    """Not this person: ``appearance`` is never assigned to ``person`` automatically again.
    Kept by its key too: when the appearance is built again, its successor is linked."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="rejections")
    appearance = models.ForeignKey(
        Appearance, on_delete=models.SET_NULL, null=True, blank=True, related_name="rejections"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["movie"], name="rejection_movie")]

    def __str__(self) -> str:
        return f"Appearance {self.appearance_id} is not person {self.person_id}"


class Correction(models.Model):
    """One correction of people by someone (``faces.corrections``): who, when, what, and what
    was there before, which is what undoing it puts back."""

    class Action(models.TextChoices):
        NAME = "name", "named"
        HIDE = "hide", "hidden"
        UNHIDE = "unhide", "shown again"
        MERGE = "merge", "merged"
        SPLIT = "split", "split"
        REJECT = "reject", "not this person"

    action = models.CharField(max_length=16, choices=Action.choices)
    # The person corrected (a merge's survivor, a split's source).
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="corrections")
    # The other person of a merge (merged away) or a split (where the appearances went).
    other_person = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=32, default="web")  # web, api, admin, command
    summary = models.CharField(max_length=500)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    undone_via = models.CharField(max_length=32, blank=True)  # as ``via``, once undone

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.summary

    @property
    def undone(self) -> bool:
        return self.undone_at is not None


def pack_vector(vector: np.ndarray) -> bytes:
    """Pack a vector as little-endian float32 bytes (what SingleStoreDB's JSON_ARRAY_PACK makes)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def unpack_vector(blob: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype="<f4")
