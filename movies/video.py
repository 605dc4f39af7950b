"""Reading video files: probe what a file holds, then sample every Nth frame.

PyAV reads the container (streams, codec, the exact frame count when the container indexes
it) so that a bad file gets a precise one-line reason, and decodes. Every frame is decoded
once; only the sampled ones are converted to BGR at full size, and, when cuts are detected,
every frame is also scaled and converted to a small copy for the cut detector in one swscale
step (``movies.shots``). Scalers are kept per sampler, since setting one up costs more than
scaling a small frame.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from movies.shots import CutDetector, detector_size

T = TypeVar("T")

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mkv", ".webm", ".avi", ".mov", ".mpg", ".mpeg", ".ts", ".wmv", ".flv"}
)
# FFmpeg demuxers that read single pictures: a photo renamed to .mp4 opens as one of these.
_IMAGE_FORMATS = ("image2", "_pipe")
# Containers without a frame index (Matroska, WebM) only give an estimate from the duration,
# which may include a longer audio track: a decode this much shorter is a truncated file.
_ESTIMATE_TOLERANCE = 0.85


class VideoError(Exception):
    """The file cannot be used as a video; the message is one line, fit for a user."""


@dataclass(frozen=True)
class VideoInfo:
    # The container by its usual short name: "mp4", "mov", "webm", "matroska", "avi",
    # "mpegts", ... (``container_name``); with the codecs it decides whether a browser can play
    # the file (movies.playback).
    container: str
    # Codecs by FFmpeg's canonical names ("h264", "hevc", "vp9", "av1"; "aac", "opus");
    # audio_codec is "" when the file has no sound.
    codec: str
    audio_codec: str
    width: int
    height: int
    fps: float
    # Exact count from the container's index (MP4, MOV, AVI); None for Matroska/WebM.
    frame_count: int | None
    duration_seconds: float | None
    # When the first frame is shown on the file's own timeline, which a browser's player
    # counts in: frame ``i`` plays at ``start_seconds + i / fps`` (often 0; an MP4 may hold its
    # video back behind a second of sound).
    start_seconds: float = 0.0

    @property
    def estimated_frames(self) -> int | None:
        """The exact count when known, else duration x fps (Matroska reports no count)."""
        if self.frame_count:
            return self.frame_count
        if self.duration_seconds and self.fps:
            return max(1, round(self.duration_seconds * self.fps))
        return None


@dataclass(frozen=True)
class SampledFrame:
    index: int
    timestamp: float  # seconds from the start (index / fps)
    image_bgr: np.ndarray
    # Frames after the previous sampled frame, up to this one, where a new shot starts (only
    # when the sampler detects cuts).
    cuts: tuple[int, ...] = ()


def probe_video(path: Path) -> VideoInfo:
    """What the file holds, or a VideoError with a one-line reason."""
    path = Path(path)
    _check_file(path)
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        reason = (getattr(exc, "strerror", None) or str(exc)).strip().rstrip(".").lower()
        raise VideoError(f"not a video FFmpeg can read ({reason})") from exc
    with container:
        format_name = container.format.name or "unknown"
        streams = list(container.streams)
        videos = [s for s in streams if s.type == "video"]
        if any(marker in format_name for marker in _IMAGE_FORMATS):
            codec = videos[0].codec_context.name if videos else format_name
            raise VideoError(f"a still image ({codec}), not a video")
        if not videos:
            kinds = ", ".join(sorted({s.type for s in streams})) or "none"
            raise VideoError(f"no video stream (streams found: {kinds})")
        stream = videos[0]
        audios = [s for s in streams if s.type == "audio"]
        width, height = stream.codec_context.width, stream.codec_context.height
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        duration = None
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        info = VideoInfo(
            container=container_name(path, format_name, container.metadata),
            codec=_codec_name(stream),
            audio_codec=_codec_name(audios[0]) if audios else "",
            width=int(width or 0),
            height=int(height or 0),
            fps=fps,
            frame_count=int(stream.frames) if stream.frames and stream.frames > 0 else None,
            duration_seconds=duration,
            start_seconds=_start_seconds(stream),
        )
    if not info.width or not info.height:
        raise VideoError(f"the video stream ({info.codec}) has no picture size")
    if info.fps <= 0:
        raise VideoError(f"the video stream ({info.codec}) has no frame rate")
    return info


def container_name(path: Path, format_name: str, metadata: dict[str, str]) -> str:
    """The container's short name from FFmpeg's demuxer name, which covers families.

    One demuxer reads MP4 and QuickTime (told apart by the major brand ``qt``), one reads
    Matroska and WebM (told apart by the DocType in the file's EBML header); otherwise the
    demuxer's first name ("avi", "mpegts", "mpeg", "asf").
    """
    names = format_name.split(",")
    if "mp4" in names:
        return "mov" if metadata.get("major_brand", "").strip() == "qt" else "mp4"
    if "matroska" in names:
        return "webm" if _ebml_doctype(path) == "webm" else "matroska"
    return names[0]


def _ebml_doctype(path: Path) -> str:
    """The DocType element (ID 0x4282) of a Matroska file's EBML header: "matroska" or "webm"."""
    with Path(path).open("rb") as handle:
        header = handle.read(256)
    at = header.find(b"\x42\x82")
    if at < 0 or at + 3 > len(header):
        return ""
    size_byte = header[at + 2]
    # The element size is an EBML variable-length integer; a DocType fits its one-byte form.
    if not size_byte & 0x80:
        return ""
    size = size_byte & 0x7F
    return header[at + 3 : at + 3 + size].decode("ascii", "replace")


def _start_seconds(stream: av.stream.Stream) -> float:
    if stream.start_time is None or not stream.time_base:
        return 0.0
    return max(0.0, float(stream.start_time * stream.time_base))


def _codec_name(stream: av.stream.Stream) -> str:
    """FFmpeg's name of the stream's format ("av1", "mp3"), not of the decoder that reads it
    ("libdav1d", "mp3float")."""
    codec = stream.codec_context.codec
    return codec.canonical_name or codec.name


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoError(f"file not found: {path}")
    if not path.is_file():
        raise VideoError(f"not a file: {path}")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise VideoError(f"cannot read the file ({exc.strerror or exc})") from exc
    if size == 0:
        raise VideoError("empty file (0 bytes)")


class FrameSampler:
    """Frames ``start, ...`` whose index is a multiple of ``every``, in order, decoded by PyAV.

    Every frame is decoded (codec threads on) and only sampled frames are converted to BGR at
    full size. With ``cuts=True`` every frame also goes, as a small copy made in the same
    scaling step (``movies.shots.detector_size``), through a cut detector: each sampled frame
    carries the cuts found since the sampled frame before it, and ``trailing_cuts`` holds those
    after the last one. ``warmup_from`` (at most ``start``) is where the detector starts
    seeing frames on a resumed run (``movies.shots.warmup_start``); cuts before ``start`` are
    not reported.

    Starting past 0 seeks to the key frame before and decodes from there, counting frames by
    their timestamps; when the timestamps cannot place a frame, it decodes from the first frame
    instead. At the end the decoded length is checked against the container, so a truncated file
    is an error (VideoError) and never a silently short movie. ``frames_read`` is the number of
    frames in the video once iteration has finished.
    """

    def __init__(
        self,
        path: Path,
        info: VideoInfo,
        *,
        every: int,
        start: int = 0,
        cuts: bool = False,
        warmup_from: int | None = None,
    ) -> None:
        if every < 1:
            raise ValueError("every must be at least 1")
        self.path = Path(path)
        self.info = info
        self.every = every
        self.start = max(0, start)
        self.detect_cuts = cuts
        self.first_decoded = self.start if warmup_from is None else min(self.start, warmup_from)
        self.first_decoded = max(0, self.first_decoded)
        self.frames_read = 0
        self.trailing_cuts: list[int] = []

    def __iter__(self) -> Iterator[SampledFrame]:
        detect = _cut_finder(self.info) if self.detect_cuts else None
        full = VideoReformatter()
        pending: list[int] = []
        last = -1
        for index, frame in _decoded_frames(self.path, self.first_decoded):
            last = index
            if detect is not None:
                cut = detect(index, frame)
                if cut is not None and cut >= self.start:
                    pending.append(cut)
            if index >= self.start and index % self.every == 0:
                image = np.ascontiguousarray(full.reformat(frame, format="bgr24").to_ndarray())
                yield SampledFrame(
                    index=index,
                    timestamp=index / self.info.fps,
                    image_bgr=image,
                    cuts=tuple(pending),
                )
                pending = []
        self.trailing_cuts = pending
        self.frames_read = max(last + 1, self.first_decoded)
        _check_complete(self.info, self.frames_read)


def find_cuts(path: Path, info: VideoInfo) -> tuple[list[int], int]:
    """Every cut of the video (frames where a shot starts) and its number of frames, from one
    decode pass that converts nothing at full size (for movies whose frames are stored)."""
    detect = _cut_finder(info)
    cuts: list[int] = []
    last = -1
    for index, frame in _decoded_frames(Path(path), 0):
        last = index
        cut = detect(index, frame)
        if cut is not None:
            cuts.append(cut)
    _check_complete(info, last + 1)
    return cuts, last + 1


def _cut_finder(info: VideoInfo):
    """A function of (index, decoded frame) that feeds a new cut detector with a small copy of
    each frame, made in one scaling step, and returns the cut found there or None."""
    detector = CutDetector(info.fps)
    width, height = detector_size(info.width, info.height)
    scaler = VideoReformatter()

    def detect(index: int, frame: av.VideoFrame) -> int | None:
        copy = scaler.reformat(
            frame, width=width, height=height, format="bgr24", interpolation="FAST_BILINEAR"
        ).to_ndarray()
        return detector.process(index, copy)

    return detect


def _decoded_frames(path: Path, first: int) -> Iterator[tuple[int, av.VideoFrame]]:
    """(index, frame) for every frame from ``first`` to the end."""
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise VideoError(f"PyAV cannot open this video for decoding ({exc})") from exc
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame and slice threads, as many as the CPU has
        index, frames = _positioned(container, stream, first)
        try:
            for frame in frames:
                if index >= first:
                    yield index, frame
                index += 1
        except av.error.FFmpegError as exc:
            raise VideoError(f"frame {index} cannot be decoded (damaged video?)") from exc


def _positioned(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, first: int
) -> tuple[int, Iterator[av.VideoFrame]]:
    """The decoded frames from the key frame at or before ``first`` (from the start when
    ``first`` is 0 or the timestamps cannot place the frame), and the index of the first."""
    if first > 0:
        rate = stream.average_rate or stream.guessed_rate
        origin = stream.start_time or 0
        if rate and stream.time_base:
            target = origin + int(Fraction(first) / Fraction(rate) / stream.time_base)
            container.seek(target, stream=stream, backward=True, any_frame=False)
            frames = container.decode(stream)
            head = next(frames, None)
            if head is not None and head.pts is not None:
                index = round((head.pts - origin) * stream.time_base * rate)
                if 0 <= index <= first:
                    return index, itertools.chain([head], frames)
        container.seek(origin, stream=stream, backward=True, any_frame=False)
    return 0, container.decode(stream)


def _check_complete(info: VideoInfo, frames_decoded: int) -> None:
    if info.frame_count:
        # An indexed container knows its length; one frame of slack for edit lists.
        if frames_decoded < info.frame_count - 1:
            raise VideoError(
                f"truncated or damaged: only {frames_decoded} of {info.frame_count} frames "
                "could be decoded"
            )
    elif info.estimated_frames and frames_decoded < info.estimated_frames * _ESTIMATE_TOLERANCE:
        raise VideoError(
            f"truncated or damaged: only {frames_decoded} of about {info.estimated_frames} "
            "frames could be decoded"
        )
    if frames_decoded == 0:
        raise VideoError("no frame could be decoded")


def prefetched(items: Iterable[T], depth: int) -> Iterator[T]:
    """The items of ``items``, produced by a background thread up to ``depth`` ahead.

    Ingest decodes the next frames (PyAV releases the GIL while decoding and scaling) while
    the networks work on the current batch. An exception raised while producing is re-raised
    here, in order; closing this generator early (cancel, error) stops the producer and waits
    for it.
    """
    buffer: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                if not _put(buffer, item, stop):
                    return
            _put(buffer, done, stop)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            _put(buffer, _Raised(exc), stop)

    producer = threading.Thread(target=produce, name="ingest-decode", daemon=True)
    producer.start()
    try:
        while True:
            item = buffer.get()
            if item is done:
                return
            if isinstance(item, _Raised):
                raise item.exception
            yield item
    finally:
        stop.set()
        producer.join()


class _Raised:
    def __init__(self, exception: BaseException) -> None:
        self.exception = exception


def _put(buffer: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` unless the consumer stopped; False when it did."""
    while not stop.is_set():
        try:
            buffer.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
