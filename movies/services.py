"""Ingest: from a movie file to stored frames and embedded faces.

The one code path for the admin actions, the rq job and the ``ingest`` command.

No transactions are assumed (SingleStoreDB has none), so correctness comes from keys and
idempotent writes. Per batch of sampled frames the order is: image files (deterministic
names, overwritten) → Frame rows → Face rows → the movie's checkpoint ``next_frame_index``.
Everything below the checkpoint is complete; on every (re)start whatever lies at or past it
(a batch cut short by a kill) is removed first, rows and files, and the work goes on from there.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from faces.embedders import EmbedderError, get_embedder
from faces.models import Face, pack_vector
from faces.pipeline import DetectedFace, analyse_images
from movies.models import Frame, Movie
from movies.storage import (
    delete_frame_images,
    delete_upload,
    face_thumbnail_path,
    write_frame_images,
)
from movies.timing import NullTimer, StageTimer
from movies.video import (
    FrameSampler,
    SampledFrame,
    VideoError,
    VideoInfo,
    prefetched,
    probe_video,
)

logger = logging.getLogger(__name__)

INGEST_QUEUE = "ingest"
# A running ingest writes its checkpoint at least this often; a "running" movie that has been
# silent for longer lost its worker (killed) and may be started again.
STALE_RUNNING_SECONDS = 600


class IngestError(Exception):
    """A movie cannot be ingested as asked; the message is one line, fit for a user."""


class ImportPathError(IngestError):
    """A server path outside settings.FACEFINDER_IMPORT_DIRS, or not a file."""


class QueueUnavailable(IngestError):
    """Redis did not take the job; nothing was queued."""


class AlreadyQueued(IngestError):
    """The movie already has a live job or is being ingested right now."""


@dataclass(frozen=True)
class IngestProgress:
    movie_id: int
    title: str
    next_frame_index: int
    total_frames: int | None
    frames_sampled: int
    faces_found: int


@dataclass
class IngestReport:
    movie_id: int
    title: str
    status: str
    frames_sampled: int = 0
    faces_found: int = 0
    frames_added: int = 0
    faces_added: int = 0
    resumed_from: int = 0
    seconds: float = 0.0
    error: str = ""
    already_done: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in (Movie.Status.DONE, Movie.Status.CANCELLED)

    @property
    def message(self) -> str:
        if self.status == Movie.Status.FAILED:
            return f"failed: {self.error}"
        if self.status == Movie.Status.CANCELLED:
            return f"cancelled after {self.frames_sampled} sampled frames (resumable)"
        if self.already_done:
            return (
                f"already ingested ({self.frames_sampled} frames, {self.faces_found} faces); "
                "re-ingest from scratch to redo it"
            )
        resumed = f" (resumed at frame {self.resumed_from})" if self.resumed_from else ""
        if self.faces_found == 0:
            return f"done: {self.frames_sampled} frames sampled, no faces found{resumed}"
        return f"done: {self.frames_sampled} frames sampled, {self.faces_found} faces{resumed}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[IngestProgress], None]


# --- registering movies ----------------------------------------------------------------------


def import_dirs() -> list[Path]:
    """The folders below which staff may name server files (relative ones from BASE_DIR)."""
    folders = []
    for raw in settings.FACEFINDER_IMPORT_DIRS:
        folder = Path(raw).expanduser()
        if not folder.is_absolute():
            folder = Path(settings.BASE_DIR) / folder
        folders.append(folder.resolve())
    return folders


def resolve_import_path(raw: str) -> Path:
    """The real path of a server file that staff may import, or ImportPathError.

    Symlinks and ``..`` are resolved first, so a link inside an import folder cannot reach a
    file outside it. A relative path is taken relative to each import folder in turn.
    """
    raw = (raw or "").strip()
    if not raw:
        raise ImportPathError("no path given")
    folders = import_dirs()
    given = Path(raw).expanduser()
    candidates = [given] if given.is_absolute() else [folder / given for folder in folders]
    for candidate in candidates:
        real = candidate.resolve()
        if not any(real.is_relative_to(folder) for folder in folders):
            continue
        if not real.is_file():
            raise ImportPathError(f"not a file: {real}")
        return real
    allowed = ", ".join(str(folder) for folder in folders) or "(none configured)"
    raise ImportPathError(f"only files below the import folders may be added: {allowed}")


def register_movie(
    *,
    path: Path | None = None,
    upload: UploadedFile | None = None,
    title: str = "",
    sample_every: int | None = None,
    embedder: str | None = None,
    min_face: float | None = None,
) -> tuple[Movie, bool]:
    """The Movie for a server file or an upload; ``(movie, created)``.

    The same bytes added twice are the same movie (SHA-256), whatever the file is called.
    ``path`` is not checked against the import folders here (the command runs as the server's
    operator); the admin form does that with resolve_import_path().
    """
    if (path is None) == (upload is None):
        raise ValueError("give exactly one of path or upload")
    if path is not None:
        path = Path(path).expanduser().resolve()
        checksum, size = _file_checksum(path)
        name = path.name
    else:
        checksum, size = _upload_checksum(upload)
        name = Path(upload.name or "upload").name
    existing = Movie.objects.filter(checksum=checksum).order_by("pk").first()
    if existing is not None:
        return existing, False
    movie = Movie(
        title=(title or "").strip() or title_from_file_name(name),
        source_path=str(path) if path is not None else "",
        file_name=name,
        size_bytes=size,
        checksum=checksum,
        sample_every=sample_every or settings.FACEFINDER_SAMPLE_EVERY,
        embedder=embedder or settings.FACEFINDER_EMBEDDER,
        min_face=min_face if min_face is not None else settings.FACEFINDER_MIN_FACE,
    )
    if upload is not None:
        upload.seek(0)
        movie.upload.save(name, upload, save=False)
    movie.save()
    return movie, True


def title_from_file_name(name: str) -> str:
    stem = Path(name).stem.replace("_", " ").replace(".", " ").strip()
    stem = re.sub(r"\s+", " ", stem)
    return (stem[:1].upper() + stem[1:]) if stem else "Untitled"


def _file_checksum(path: Path) -> tuple[str, int]:
    if not path.exists():
        raise IngestError(f"file not found: {path}")
    if not path.is_file():
        raise IngestError(f"not a file: {path}")
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(block)
    except OSError as exc:
        raise IngestError(f"cannot read {path} ({exc.strerror or exc})") from exc
    return digest.hexdigest(), path.stat().st_size


def _upload_checksum(upload: UploadedFile) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


# --- ingest ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """What one ingest run does, fixed before the first frame."""

    embedder: str
    min_face: float
    min_probability: float
    sample_every: int
    batch_size: int
    info: VideoInfo

    def recorded_settings(self) -> dict[str, Any]:
        return {
            "sample_every": self.sample_every,
            "embedder": self.embedder,
            "min_face": self.min_face,
            "min_probability": self.min_probability,
        }


def ingest_movie(
    movie_id: int,
    *,
    from_scratch: bool = False,
    progress: ProgressCallback | None = None,
    timer: StageTimer | None = None,
    expect_status: str | None = None,
) -> IngestReport:
    """Sample, detect, embed and store a movie; resumes from its checkpoint.

    Returns a report; a bad file, an unknown embedder or missing weights give a ``failed``
    report (the movie is marked failed with the reason) rather than an exception. Unexpected
    errors mark the movie failed too and are re-raised; the checkpoint stays, so the next run
    resumes. ``expect_status`` (used by the rq job) starts only if the movie is still in that
    status, so a job cancelled while it waited does nothing.
    """
    timer = timer or NullTimer()
    started = time.monotonic()
    movie = Movie.objects.get(pk=movie_id)
    if movie.status == Movie.Status.DONE and not from_scratch and expect_status is None:
        report = _report(movie, Movie.Status.DONE, started, timer)
        report.already_done = True
        return report
    if not _claim(movie, expect_status):
        movie.refresh_from_db()
        return _report(movie, status=movie.status, started=started, timer=timer)
    if from_scratch:
        clear_ingest(movie)
    resumed_from = movie.next_frame_index
    try:
        plan = _plan(movie, timer)
        if not from_scratch:  # from scratch, clear_ingest already removed everything
            discard_after_checkpoint(movie)
        _reset_counts(movie)
        report = _run_batches(movie, plan, progress=progress, timer=timer, started=started)
    except VideoError as exc:
        # The file itself is unusable: nothing of it may stay behind.
        clear_ingest(movie)
        return _fail(movie, str(exc), started=started, timer=timer)
    except (IngestError, EmbedderError) as exc:
        return _fail(movie, str(exc), started=started, timer=timer)
    except BaseException as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        _fail(movie, f"{type(exc).__name__}: {first_line}".rstrip(": "), started, timer)
        raise
    report.resumed_from = resumed_from
    return report


def _claim(movie: Movie, expect_status: str | None) -> bool:
    """Mark the movie running; with ``expect_status`` only if it still has that status."""
    values = {
        "status": Movie.Status.RUNNING,
        "last_error": "",
        "ingest_started_at": timezone.now(),
        "ingest_finished_at": None,
        "updated_at": timezone.now(),
    }
    rows = Movie.objects.filter(pk=movie.pk)
    if expect_status is not None:
        rows = rows.filter(status=expect_status)
    if not rows.update(**values):
        return False
    for name, value in values.items():
        setattr(movie, name, value)
    return True


def _plan(movie: Movie, timer: StageTimer) -> _Plan:
    embedder = movie.embedder or settings.FACEFINDER_EMBEDDER
    min_face = movie.min_face if movie.min_face is not None else settings.FACEFINDER_MIN_FACE
    if not min_face or min_face <= 0:
        raise IngestError(f"minimum face size must be positive, got {min_face}")
    if movie.sample_every < 1:
        raise IngestError("the sampling interval must be at least 1")
    try:
        video_path = movie.path
    except NotImplementedError as exc:  # an upload kept in remote storage (S3)
        raise IngestError(
            "the uploaded video is in remote media storage, which ingest cannot read; "
            "add the movie by a server path instead"
        ) from exc
    with timer.stage("probe"):
        info = probe_video(video_path)
    plan = _Plan(
        embedder=embedder,
        min_face=float(min_face),
        min_probability=float(settings.FACEFINDER_MIN_PROBABILITY),
        sample_every=int(movie.sample_every),
        batch_size=max(1, int(settings.FACEFINDER_FRAME_BATCH)),
        info=info,
    )
    _check_same_settings(movie, plan)
    with timer.stage("load models"):
        get_embedder(embedder)  # unknown name or missing weights fail here, before any work
    Movie.objects.filter(pk=movie.pk).update(
        embedder=embedder,
        min_face=plan.min_face,
        ingest_settings=plan.recorded_settings(),
        fps=info.fps,
        frame_count=info.estimated_frames,
        duration_seconds=info.duration_seconds,
        width=info.width,
        height=info.height,
    )
    movie.refresh_from_db()
    return plan


def has_stored_frames(movie: Movie) -> bool:
    """Whether an ingest has stored (or started storing) frames of this movie."""
    return movie.next_frame_index > 0 or Frame.objects.filter(movie=movie).exists()


def change_ingest_settings(movie: Movie, wanted: dict[str, Any], *, from_scratch: bool) -> None:
    """Give a known movie new sampling settings (``None`` values keep the current ones).

    Fine while nothing is stored, or before a from-scratch run; otherwise the stored frames
    would mix two settings, and IngestError says so.
    """
    changes = {
        key: value
        for key, value in wanted.items()
        if value is not None and getattr(movie, key) != value
    }
    if not changes:
        return
    if has_stored_frames(movie) and not from_scratch:
        described = ", ".join(f"{k} {getattr(movie, k)!r} → {v!r}" for k, v in changes.items())
        raise IngestError(
            f"“{movie}” is already stored with other settings ({described}); "
            "ingest it again from scratch to use the new ones"
        )
    Movie.objects.filter(pk=movie.pk).update(**changes)
    for key, value in changes.items():
        setattr(movie, key, value)


def _check_same_settings(movie: Movie, plan: _Plan) -> None:
    started = has_stored_frames(movie)
    recorded = movie.ingest_settings or {}
    if not started or not recorded:
        return
    wanted = plan.recorded_settings()
    changed = [
        f"{key} {recorded.get(key)!r} → {value!r}"
        for key, value in wanted.items()
        if recorded.get(key) != value
    ]
    if changed:
        raise IngestError(
            "settings changed since this movie was partly ingested ("
            + ", ".join(changed)
            + "); re-ingest it from scratch"
        )


def _reset_counts(movie: Movie) -> None:
    """Counters from the rows themselves, so a resumed run never counts a batch twice."""
    Movie.objects.filter(pk=movie.pk).update(
        frames_sampled=Frame.objects.filter(movie=movie).count(),
        faces_found=Face.objects.filter(movie=movie).count(),
    )
    movie.refresh_from_db()


def _run_batches(
    movie: Movie,
    plan: _Plan,
    *,
    progress: ProgressCallback | None,
    timer: StageTimer,
    started: float,
) -> IngestReport:
    sampler = FrameSampler(
        movie.path, plan.info, every=plan.sample_every, start=movie.next_frame_index
    )
    frames_added = faces_added = 0
    _notify(progress, movie, plan)
    # The next batch decodes in the background while this one is in the networks.
    with closing(prefetched(sampler, depth=plan.batch_size)) as frames:
        for batch in _batches(frames, plan.batch_size, timer):
            if _cancel_requested(movie.pk):
                return _cancelled(movie, started, timer, frames_added, faces_added)
            faces_added += _ingest_batch(movie, plan, batch, timer)
            frames_added += len(batch)
            _notify(progress, movie, plan)
    with timer.stage("store"):
        _finish(movie, sampler.frames_read)
    _notify(progress, movie, plan)
    return _report(movie, Movie.Status.DONE, started, timer, frames_added, faces_added)


def _ingest_batch(movie: Movie, plan: _Plan, batch: list[SampledFrame], timer: StageTimer) -> int:
    """Analyse and store one batch of sampled frames, then move the checkpoint past it."""
    with timer.stage("convert"):
        images_rgb = [cv2.cvtColor(f.image_bgr, cv2.COLOR_BGR2RGB) for f in batch]
    with timer.stage("analyse"):
        results = analyse_images(
            images_rgb,
            embedder=plan.embedder,
            min_face=plan.min_face,
            min_probability=plan.min_probability,
        )
    with timer.stage("store"):
        faces_in_batch = _store_batch(movie, plan, batch, results)
        _checkpoint(movie, plan, batch[-1].index + 1, len(batch), faces_in_batch)
    return faces_in_batch


def _cancelled(
    movie: Movie, started: float, timer: StageTimer, frames_added: int, faces_added: int
) -> IngestReport:
    _reload_or_forget(movie)
    return _report(movie, Movie.Status.CANCELLED, started, timer, frames_added, faces_added)


def _batches(
    sampler: Iterable[SampledFrame], size: int, timer: StageTimer
) -> Iterator[list[SampledFrame]]:
    """Lists of up to ``size`` sampled frames; decoding time goes to the "decode" stage."""
    frames = iter(sampler)
    while True:
        batch: list[SampledFrame] = []
        with timer.stage("decode"):
            for frame in frames:
                batch.append(frame)
                if len(batch) == size:
                    break
        if not batch:
            return
        yield batch
        if len(batch) < size:
            return


def _cancel_requested(movie_id: int) -> bool:
    status = Movie.objects.filter(pk=movie_id).values_list("status", flat=True).first()
    return status != Movie.Status.RUNNING


def _store_batch(
    movie: Movie, plan: _Plan, batch: list[SampledFrame], results: list[list[DetectedFace]]
) -> int:
    """Files, then Frame rows, then Face rows for one batch; returns the number of faces."""
    frames = []
    for sampled, faces in zip(batch, results, strict=True):
        frames.append(_frame_row(movie.pk, sampled, faces))
    Frame.objects.bulk_create(frames)
    # Ids are read back rather than taken from bulk_create: not every backend returns them.
    frame_ids = dict(
        Frame.objects.filter(movie=movie, index__in=[f.index for f in batch]).values_list(
            "index", "pk"
        )
    )
    rows = [
        _face_row(movie, frame_ids[sampled.index], sampled.index, face_index, face, plan)
        for sampled, faces in zip(batch, results, strict=True)
        for face_index, face in enumerate(faces)
    ]
    Face.objects.bulk_create(rows)
    return len(rows)


def _frame_row(movie_id: int, sampled: SampledFrame, faces: list[DetectedFace]) -> Frame:
    """The Frame row of a sampled frame, once its images are stored."""
    image_name, thumbnail_name = write_frame_images(
        movie_id, sampled.index, sampled.image_bgr, [face.detection.box for face in faces]
    )
    height, width = sampled.image_bgr.shape[:2]
    return Frame(
        movie_id=movie_id,
        index=sampled.index,
        timestamp=sampled.timestamp,
        width=width,
        height=height,
        image=image_name,
        thumbnail=thumbnail_name,
    )


def _face_row(
    movie: Movie,
    frame_id: int,
    frame_index: int,
    face_index: int,
    face: DetectedFace,
    plan: _Plan,
) -> Face:
    x1, y1, x2, y2 = (float(v) for v in face.detection.box)
    return Face(
        movie=movie,
        frame_id=frame_id,
        frame_index=frame_index,
        face_index=face_index,
        x1=x1,
        y1=y1,
        x2=x2,
        y2=y2,
        probability=float(face.detection.probability),
        landmarks=[[float(x), float(y)] for x, y in face.detection.landmarks],
        embedder=plan.embedder,
        embedding=pack_vector(face.vector),
        thumbnail=face_thumbnail_path(movie.pk, frame_index, face_index),
    )


def _checkpoint(movie: Movie, plan: _Plan, next_index: int, frames: int, faces: int) -> None:
    total = plan.info.estimated_frames
    progress = min(0.99, next_index / total) if total else 0.0
    Movie.objects.filter(pk=movie.pk).update(
        next_frame_index=next_index,
        frames_sampled=F("frames_sampled") + frames,
        faces_found=F("faces_found") + faces,
        progress=progress,
        updated_at=timezone.now(),
    )
    movie.next_frame_index = next_index
    movie.frames_sampled += frames
    movie.faces_found += faces
    movie.progress = progress


def _finish(movie: Movie, frames_read: int) -> None:
    values = {
        "status": Movie.Status.DONE,
        "progress": 1.0,
        "next_frame_index": frames_read,
        "frame_count": frames_read,
        "frames_sampled": Frame.objects.filter(movie=movie).count(),
        "faces_found": Face.objects.filter(movie=movie).count(),
        "ingest_finished_at": timezone.now(),
        "updated_at": timezone.now(),
        "last_error": "",
    }
    Movie.objects.filter(pk=movie.pk).update(**values)
    for name, value in values.items():
        setattr(movie, name, value)


def _fail(movie: Movie, reason: str, started: float, timer: StageTimer) -> IngestReport:
    reason = " ".join(reason.split()) or "unknown error"
    logger.warning("ingest of movie %s (%s) failed: %s", movie.pk, movie.title, reason)
    Movie.objects.filter(pk=movie.pk).update(
        status=Movie.Status.FAILED,
        last_error=reason,
        ingest_finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    _reload_or_forget(movie)
    report = _report(movie, Movie.Status.FAILED, started, timer)
    report.error = reason
    return report


def _reload_or_forget(movie: Movie) -> None:
    """Reload the movie's row; if it was deleted while being ingested, delete what we wrote."""
    try:
        movie.refresh_from_db()
    except Movie.DoesNotExist:
        forget_deleted_movie(movie.pk)


def _report(
    movie: Movie,
    status: str,
    started: float,
    timer: StageTimer,
    frames_added: int = 0,
    faces_added: int = 0,
) -> IngestReport:
    return IngestReport(
        movie_id=movie.pk,
        title=movie.title,
        status=status,
        frames_sampled=movie.frames_sampled,
        faces_found=movie.faces_found,
        frames_added=frames_added,
        faces_added=faces_added,
        seconds=time.monotonic() - started,
        error=movie.last_error if status == Movie.Status.FAILED else "",
        timings=dict(timer.seconds),
    )


def _notify(progress: ProgressCallback | None, movie: Movie, plan: _Plan) -> None:
    if progress is None:
        return
    progress(
        IngestProgress(
            movie_id=movie.pk,
            title=movie.title,
            next_frame_index=movie.next_frame_index,
            total_frames=plan.info.estimated_frames,
            frames_sampled=movie.frames_sampled,
            faces_found=movie.faces_found,
        )
    )


# --- removing what ingest wrote ----------------------------------------------------------------


def discard_after_checkpoint(movie: Movie) -> None:
    """Remove rows and image files at or past the checkpoint (a batch cut short)."""
    checkpoint = movie.next_frame_index
    Face.objects.filter(movie=movie, frame_index__gte=checkpoint).delete()
    Frame.objects.filter(movie=movie, index__gte=checkpoint).delete()
    delete_frame_images(movie.pk, from_index=checkpoint)


def clear_ingest(movie: Movie) -> None:
    """Forget everything ingest stored for the movie: rows, files, checkpoint and counters."""
    forget_deleted_movie(movie.pk)
    values = {
        "next_frame_index": 0,
        "frames_sampled": 0,
        "faces_found": 0,
        "progress": 0.0,
        "ingest_settings": {},
    }
    Movie.objects.filter(pk=movie.pk).update(**values)
    for name, value in values.items():
        setattr(movie, name, value)


def forget_deleted_movie(movie_id: int) -> None:
    """Delete the rows and files an ingest wrote for a movie (the uploaded video stays).

    Also for a movie deleted under a running ingest: SingleStoreDB enforces no foreign keys, so
    such rows could otherwise stay."""
    Face.objects.filter(movie_id=movie_id).delete()
    Frame.objects.filter(movie_id=movie_id).delete()
    delete_movie_files(movie_id)


def delete_movie_files(movie_id: int, *, upload_name: str = "") -> None:
    """Remove the movie's frame, thumbnail and face images (and the uploaded video named)."""
    delete_frame_images(movie_id)
    if upload_name:
        delete_upload(upload_name)


def on_movie_deleted(movie: Movie) -> None:
    """After a movie row is gone (admin, bulk delete, ORM): its files go too, after commit."""
    movie_id, upload_name = movie.pk, movie.upload.name if movie.upload else ""
    transaction.on_commit(lambda: delete_movie_files(movie_id, upload_name=upload_name))


# --- jobs --------------------------------------------------------------------------------------


def enqueue_ingest(movie: Movie, *, from_scratch: bool = False) -> str:
    """Queue an ingest job on the "ingest" queue; returns its id.

    The movie is marked queued before the job exists (a fast worker must find it so) and put
    back as it was when Redis does not answer, which raises QueueUnavailable.
    """
    import django_rq
    from redis.exceptions import RedisError

    movie.refresh_from_db()
    if movie.status == Movie.Status.DONE and not from_scratch:
        raise AlreadyQueued(
            f"“{movie}” is already ingested; use “Re-ingest from scratch” to redo it"
        )
    _refuse_if_busy(movie)
    job_id = f"ingest-{movie.pk}-{uuid.uuid4().hex[:12]}"
    before = {"status": movie.status, "job_id": movie.job_id, "last_error": movie.last_error}
    Movie.objects.filter(pk=movie.pk).update(
        status=Movie.Status.QUEUED, job_id=job_id, last_error="", updated_at=timezone.now()
    )
    try:
        queue = django_rq.get_queue(INGEST_QUEUE)
        queue.enqueue(
            "movies.jobs.run_ingest_job",
            movie.pk,
            from_scratch=from_scratch,
            job_id=job_id,
            description=f"{'Re-ingest from scratch' if from_scratch else 'Ingest'}: {movie}",
        )
    except RedisError as exc:
        Movie.objects.filter(pk=movie.pk).update(**before)
        movie.refresh_from_db()
        raise QueueUnavailable(
            f"the job queue (Redis) is not reachable, nothing was queued: {exc}"
        ) from exc
    movie.refresh_from_db()
    return job_id


def _refuse_if_busy(movie: Movie) -> None:
    if movie.status == Movie.Status.QUEUED and _job_is_live(movie.job_id):
        raise AlreadyQueued(f"“{movie}” is already queued")
    if movie.status == Movie.Status.RUNNING:
        silent_for = (timezone.now() - movie.updated_at).total_seconds()
        if silent_for < STALE_RUNNING_SECONDS:
            raise AlreadyQueued(
                f"“{movie}” is being ingested right now (if its worker died, cancel it first)"
            )


def _job_is_live(job_id: str) -> bool:
    """Whether rq still holds the job as waiting or running (False when unknown)."""
    return _job_status(job_id) in {"queued", "started", "deferred", "scheduled"}


def _fetch_job(job_id: str):
    """The rq job with this id, or None when rq does not know it or Redis cannot be reached."""
    if not job_id:
        return None
    import django_rq
    from redis.exceptions import RedisError
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        return Job.fetch(job_id, connection=django_rq.get_connection(INGEST_QUEUE))
    except (NoSuchJobError, RedisError):
        return None


def _job_status(job_id: str) -> str | None:
    from redis.exceptions import RedisError

    job = _fetch_job(job_id)
    try:
        return job.get_status(refresh=True) if job is not None else None
    except RedisError:
        return None


def cancel_ingest(movie: Movie) -> bool:
    """Stop a queued or running ingest; returns False when there was nothing to cancel.

    A queued job is taken off the queue; a running one sees the flag before its next batch
    and stops there, keeping its checkpoint ("Ingest" resumes it).
    """
    from redis.exceptions import RedisError
    from rq.exceptions import InvalidJobOperation

    cancelled = Movie.objects.filter(
        pk=movie.pk, status__in=[Movie.Status.QUEUED, Movie.Status.RUNNING]
    ).update(status=Movie.Status.CANCELLED, updated_at=timezone.now())
    movie.refresh_from_db()
    if not cancelled:
        return False
    job = _fetch_job(movie.job_id)
    try:
        if job is not None and job.get_status(refresh=True) == "queued":
            job.cancel()
    except (InvalidJobOperation, RedisError):
        pass  # the status flag alone stops the job: it starts only from "queued"
    return True
