"""Movies and the frames sampled from them."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from movies.storage import movie_upload_to

# The sampling settings' checks, run by the admin's forms (model validation), the ingest
# command's options and the ingest itself.
validate_sample_every = MinValueValidator(
    1, "The sampling interval must be 1 or more (1 keeps every frame)."
)


def validate_min_face(value: float) -> None:
    """The smallest face is pixels (>= 1) or a fraction of the frame height (< 1)."""
    if not (math.isfinite(value) and value > 0):
        raise ValidationError(
            "The smallest face must be above 0: pixels (120) or a fraction of the frame "
            "height (0.1).",
            code="min_face",
        )


class MovieQuerySet(models.QuerySet):
    """The ingest's state changes, one UPDATE each, on ``Movie.objects.filter(pk=...)``.

    Each returns the number of rows it changed; the caller reloads its instance afterwards
    (``refresh_from_db``). Filtering first makes a change conditional: ``.filter(status=...)``.
    """

    def active(self) -> MovieQuerySet:
        """Movies whose ingest is queued or running."""
        return self.filter(status__in=self.model.ACTIVE_STATUSES)

    def queue(self, job_id: str) -> int:
        return self._change(status=self.model.Status.QUEUED, job_id=job_id, last_error="")

    def unqueue(self, *, status: str, job_id: str, last_error: str) -> int:
        """Put back what ``queue`` replaced (the job never reached the queue)."""
        return self._change(status=status, job_id=job_id, last_error=last_error)

    def claimable(self, stale_before: datetime) -> MovieQuerySet:
        """Movies no live run holds: no run token, or a heartbeat older than ``stale_before``
        (the run that holds it died)."""
        return self.filter(
            models.Q(run_token="")
            | models.Q(heartbeat_at__isnull=True)
            | models.Q(heartbeat_at__lt=stale_before)
        )

    def owned_by(self, token: str) -> MovieQuerySet:
        """The movie as long as the run with this token holds it."""
        return self.filter(run_token=token)

    def claim(self, token: str) -> int:
        """Mark running, held by the run with this token: an ingest run starts."""
        now = timezone.now()
        return self._change(
            status=self.model.Status.RUNNING,
            run_token=token,
            heartbeat_at=now,
            last_error="",
            ingest_started_at=now,
            ingest_finished_at=None,
        )

    def beat(self) -> int:
        """The holding run is alive (on ``owned_by(token)``)."""
        return self.update(heartbeat_at=timezone.now())

    def release(self) -> int:
        """The holding run ends without finishing (cancelled, or stopped by an error)."""
        return self.update(run_token="", heartbeat_at=None)

    def checkpoint(self, *, next_frame_index: int, frames: int, faces: int, progress: float) -> int:
        """Every frame below ``next_frame_index`` is stored; the counters grow by the batch."""
        return self._change(
            next_frame_index=next_frame_index,
            frames_sampled=models.F("frames_sampled") + frames,
            faces_found=models.F("faces_found") + faces,
            progress=progress,
            heartbeat_at=timezone.now(),
        )

    def finish(self, *, frame_count: int, frames_sampled: int, faces_found: int) -> int:
        return self._change(
            status=self.model.Status.DONE,
            progress=1.0,
            next_frame_index=frame_count,
            frame_count=frame_count,
            frames_sampled=frames_sampled,
            faces_found=faces_found,
            last_error="",
            ingest_finished_at=timezone.now(),
            run_token="",
            heartbeat_at=None,
        )

    def fail(self, reason: str, *, release: bool = True) -> int:
        """Failed with the reason; ``release`` also frees the movie of the run that held it."""
        freed = {"run_token": "", "heartbeat_at": None} if release else {}
        return self._change(
            status=self.model.Status.FAILED,
            last_error=reason,
            ingest_finished_at=timezone.now(),
            **freed,
        )

    def cancel(self) -> int:
        """Cancel the queued or running ones; a running ingest stops before its next batch
        (and gives up its run token then)."""
        return self.active()._change(status=self.model.Status.CANCELLED)

    def reset_ingest(self) -> int:
        """Back to nothing stored: checkpoint, counters, progress and recorded settings."""
        return self._change(
            next_frame_index=0, frames_sampled=0, faces_found=0, progress=0.0, ingest_settings={}
        )

    def _change(self, **values: object) -> int:
        # update() skips auto_now: updated_at is set here.
        return self.update(**values, updated_at=timezone.now())


class Movie(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Ingesting"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # An ingest job is waiting for a worker or running.
    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    title = models.CharField(max_length=255)
    # Exactly one of these two names the video: an uploaded file in media storage, or a file on
    # the server below one of settings.FACEFINDER_IMPORT_DIRS.
    upload = models.FileField(upload_to=movie_upload_to, blank=True, max_length=500)
    source_path = models.CharField(max_length=1000, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    checksum = models.CharField("SHA-256", max_length=64, blank=True, db_index=True)
    # The file's modification time (ns) when its checksum was last taken: an unchanged size and
    # time mean an unchanged file, so an ingest does not hash it again (movies.checksums).
    file_mtime_ns = models.BigIntegerField(null=True, blank=True)

    fps = models.FloatField(null=True, blank=True)
    frame_count = models.IntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)
    # What the probe read (movies.video.VideoInfo): the container's short name ("mp4", "webm",
    # "matroska", ...) and FFmpeg's codec names; all "" until the file was probed, audio_codec
    # "" too for a file without sound. movies.playback decides from them whether it plays.
    container = models.CharField(max_length=32, blank=True)
    video_codec = models.CharField(max_length=32, blank=True)
    audio_codec = models.CharField(max_length=32, blank=True)
    # Frame timestamps count from the first frame; a player counts from the file's zero, where
    # the first frame shows at this time (VideoInfo.start_seconds).
    video_start_seconds = models.FloatField(default=0.0)

    sample_every = models.PositiveIntegerField(
        default=25,
        validators=[validate_sample_every],
        help_text="Keep every Nth frame of the video.",
    )
    # One of faces.embedders.EMBEDDER_NAMES.
    embedder = models.CharField(max_length=64, blank=True)
    min_face = models.FloatField(
        null=True,
        blank=True,
        validators=[validate_min_face],
        help_text="Smallest face: a fraction of the frame height (< 1) or pixels (>= 1).",
    )

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    # Ingest checkpoint: every frame with index < next_frame_index is fully stored.
    next_frame_index = models.IntegerField(default=0)
    # The stored frames and faces: counted from the rows when an ingest run starts and ends,
    # grown by each checkpoint in between, so a running ingest shows its complete batches.
    frames_sampled = models.IntegerField(default=0)
    faces_found = models.IntegerField(default=0)
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    last_error = models.TextField(blank=True)
    job_id = models.CharField(max_length=64, blank=True)
    # The ingest run that holds the movie (movies.runs): every batch write checks it, and a run
    # whose token is gone stops. A live run refreshes heartbeat_at every few seconds; a token
    # with an old heartbeat belongs to a dead run, which a new run may take over.
    run_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The settings the stored frames were made with (sample_every, embedder, min_face,
    # min_probability): a resumed ingest must use the same ones.
    ingest_settings = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ingest_started_at = models.DateTimeField(null=True, blank=True)
    ingest_finished_at = models.DateTimeField(null=True, blank=True)

    objects = MovieQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]
        # Queueing, re-running and cancelling ingests: re-ingesting from scratch deletes the
        # movie's frames, faces and the saved searches on them, so viewing or editing a movie
        # does not imply it.
        permissions = [("ingest_movie", "Can run ingests")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("movies:detail", args=[self.pk])

    @property
    def ingest_active(self) -> bool:
        """Whether an ingest job is queued or running."""
        return self.status in self.ACTIVE_STATUSES

    @property
    def path(self) -> Path:
        """The video file on local disk."""
        if self.upload:
            return Path(self.upload.path)
        return Path(self.source_path)


class MovieChecksum(models.Model):
    """The unique index of movies by file contents: one row per checksum, naming its movie.

    A table of its own rather than a unique key on ``Movie.checksum``: on SingleStoreDB the
    movies table is sharded by ``id`` and a unique key must contain the shard key, while this
    table is sharded by its primary key, the checksum (docs/singlestore.md). Every backend uses
    it the same way: the add that inserts the row first owns the file (movies.registration).
    """

    checksum = models.CharField("SHA-256", max_length=64, primary_key=True)
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.checksum[:12]}… → movie {self.movie_id}"


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


class Shot(models.Model):
    """A run of frames between two cuts, as the cut detector found them in the video itself.

    Frames ``first_frame`` to ``last_frame`` (both included); ``end_seconds`` is the end of the
    last frame, ``(last_frame + 1) / fps``, so that consecutive shots meet without a gap.
    """

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="shots")
    index = models.IntegerField(help_text="Position of the shot in the movie, from 0.")
    first_frame = models.IntegerField()
    last_frame = models.IntegerField()
    start_seconds = models.FloatField()
    end_seconds = models.FloatField()

    class Meta:
        ordering = ["movie", "index"]
        constraints = [
            models.UniqueConstraint(fields=["movie", "index"], name="shot_unique_movie_index"),
        ]

    def __str__(self) -> str:
        return f"Shot {self.index} of {self.movie_id} (frames {self.first_frame}-{self.last_frame})"

    @property
    def frame_count(self) -> int:
        return self.last_frame - self.first_frame + 1
