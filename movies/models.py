"""Movies and the frames sampled from them."""

from __future__ import annotations

from pathlib import Path

from django.db import models
from django.urls import reverse

from movies.storage import movie_upload_to


class Movie(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Ingesting"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    title = models.CharField(max_length=255)
    # Exactly one of these two names the video: an uploaded file in media storage, or a file on
    # the server below one of settings.FACEFINDER_IMPORT_DIRS.
    upload = models.FileField(upload_to=movie_upload_to, blank=True, max_length=500)
    source_path = models.CharField(max_length=1000, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    checksum = models.CharField("SHA-256", max_length=64, blank=True, db_index=True)

    fps = models.FloatField(null=True, blank=True)
    frame_count = models.IntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)

    sample_every = models.PositiveIntegerField(
        default=25, help_text="Keep every Nth frame of the video."
    )
    embedder = models.CharField(max_length=64, blank=True)
    min_face = models.FloatField(
        null=True,
        blank=True,
        help_text="Smallest face: a fraction of the frame height (< 1) or pixels (>= 1).",
    )

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    # Ingest checkpoint: every frame with index < next_frame_index is fully stored.
    next_frame_index = models.IntegerField(default=0)
    frames_sampled = models.IntegerField(default=0)
    faces_found = models.IntegerField(default=0)
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    last_error = models.TextField(blank=True)
    job_id = models.CharField(max_length=64, blank=True)
    # The settings the stored frames were made with (sample_every, embedder, min_face,
    # min_probability): a resumed ingest must use the same ones.
    ingest_settings = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ingest_started_at = models.DateTimeField(null=True, blank=True)
    ingest_finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("movies:detail", args=[self.pk])

    @property
    def path(self) -> Path:
        """The video file on local disk."""
        if self.upload:
            return Path(self.upload.path)
        return Path(self.source_path)


class Frame(models.Model):
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="frames")
    index = models.IntegerField(help_text="Position of the frame in the video, from 0.")
    timestamp = models.FloatField(help_text="Seconds from the start of the video.")
    width = models.IntegerField()
    height = models.IntegerField()
    image = models.ImageField(max_length=255, width_field="width", height_field="height")
    thumbnail = models.ImageField(max_length=255, blank=True)

    class Meta:
        ordering = ["movie", "index"]
        constraints = [
            models.UniqueConstraint(fields=["movie", "index"], name="frame_unique_movie_index"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("movies:frame", args=[self.pk])

    @property
    def name(self) -> str:
        """The seed's ``<file name>_<n>`` form, with the real frame index as n."""
        return f"{self.movie.file_name or self.movie.title}_{self.index}"
