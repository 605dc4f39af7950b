"""Whether a browser can play a movie's file as it is stored, and what a page says about it.

Nothing is ever transcoded: a movie either plays as stored, or its pages say why not and show
its frames instead. The decision comes from what the probe recorded on the movie (container and
codecs, ``movies.video.probe_video``); a movie ingested before those fields existed is probed
the first time a page asks (``playback_for``), or by the admin action *Read video format*.

What plays was tried file by file in Debian's Chromium 156 (``<video>``, software decoding):
H.264, VP8, VP9 and AV1 video with AAC, MP3, Opus, Vorbis or FLAC sound play in MP4 and WebM,
and also in Matroska and QuickTime files, which other browsers may refuse; AC-3 sound is
silent; HEVC and MPEG-4 Part 2 give sound without picture; AVI, MPEG-TS and MPEG-PS files do
not open at all. The appearance page's player also checks in the browser itself
(``static/js/player.js``): a file that fails there says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from movies.models import Movie
from movies.video import VideoError, probe_video
from movies.video_files import VideoUnavailable, video_location

# Per container: its name for people, its media type, the video codecs a browser decodes in it,
# and the caveat shown beside the player (containers only some browsers read).
_CONTAINERS: dict[str, tuple[str, str, frozenset[str], str]] = {
    "mp4": ("MP4", "video/mp4", frozenset({"h264", "vp9", "av1"}), ""),
    "webm": ("WebM", "video/webm", frozenset({"vp8", "vp9", "av1"}), ""),
    "matroska": (
        "Matroska (MKV)",
        "video/x-matroska",
        frozenset({"h264", "vp8", "vp9", "av1"}),
        "Matroska (MKV) files play in Chromium-based browsers; other browsers may refuse them.",
    ),
    "mov": (
        "QuickTime (MOV)",
        "video/quicktime",
        frozenset({"h264"}),
        "QuickTime (MOV) files play in Chromium-based browsers and Safari; others may refuse them.",
    ),
}
_OTHER_CONTAINERS = {
    "avi": "AVI",
    "mpegts": "MPEG transport stream (TS)",
    "mpeg": "MPEG program stream (MPG)",
    "asf": "Windows Media (ASF/WMV)",
    "flv": "Flash video (FLV)",
}
_AUDIO_CODECS = frozenset({"aac", "mp3", "opus", "vorbis", "flac"})
_CODEC_NAMES = {
    "h264": "H.264",
    "hevc": "HEVC (H.265)",
    "vp8": "VP8",
    "vp9": "VP9",
    "av1": "AV1",
    "mpeg4": "MPEG-4 Part 2",
    "mpeg2video": "MPEG-2",
    "mpeg1video": "MPEG-1",
    "prores": "ProRes",
    "ac3": "AC-3",
    "eac3": "E-AC-3",
    "dts": "DTS",
    "truehd": "Dolby TrueHD",
    "mp2": "MPEG audio layer 2",
}
_WHY_NOT = {
    "hevc": "HEVC (H.265) video plays only where the device decodes it in hardware, which a "
    "browser cannot count on.",
}


@dataclass(frozen=True)
class BrowserSupport:
    """Whether a file plays in a browser's ``<video>``; ``note`` is one line for a person: why
    it does not play, or the caveat when it plays (only some browsers, no sound)."""

    plays: bool
    note: str = ""
    content_type: str = ""


def codec_label(codec: str) -> str:
    return _CODEC_NAMES.get(codec, codec.upper() if codec else "unknown")


def browser_support(container: str, video_codec: str, audio_codec: str) -> BrowserSupport:
    """The decision for one container and pair of codecs (as ``probe_video`` names them)."""
    if not container:
        return BrowserSupport(False, "The format of this movie's file is not known.")
    if container not in _CONTAINERS:
        label = _OTHER_CONTAINERS.get(container, container)
        return BrowserSupport(False, f"{label} files do not play in web browsers.")
    label, content_type, video_codecs, caveat = _CONTAINERS[container]
    if video_codec not in video_codecs:
        why = _WHY_NOT.get(video_codec) or (
            f"{codec_label(video_codec)} video does not play in web browsers."
        )
        return BrowserSupport(False, why, content_type)
    if audio_codec and audio_codec not in _AUDIO_CODECS:
        silent = f"Its sound ({codec_label(audio_codec)}) does not play in web browsers: the "
        return BrowserSupport(
            True, f"{silent}picture plays without it. {caveat}".strip(), content_type
        )
    return BrowserSupport(True, caveat, content_type)


def movie_support(movie: Movie) -> BrowserSupport:
    return browser_support(movie.container, movie.video_codec, movie.audio_codec)


def record_video_format(movie: Movie) -> str:
    """Probe the movie's file and store its container and codecs; returns "" or the reason the
    file could not be probed (one line, with the server path: for staff and logs)."""
    try:
        info = probe_video(video_location(movie).path)
    except (VideoUnavailable, VideoError) as exc:
        return str(exc) + (f" ({exc.detail})" if getattr(exc, "detail", "") else "")
    values = {
        "container": info.container,
        "video_codec": info.codec,
        "audio_codec": info.audio_codec,
        "video_start_seconds": info.start_seconds,
    }
    Movie.objects.filter(pk=movie.pk).update(**values)
    for field, value in values.items():
        setattr(movie, field, value)
    return ""


@dataclass(frozen=True)
class Playback:
    """What a page shows for a movie's video: a player (``url``), or the reason there is none.

    ``player_time(seconds)`` is where the player shows the frame of a movie timestamp.

    ``note`` is for everyone; ``staff_detail`` (a server path, a setting to fix) only for staff.
    """

    url: str = ""
    content_type: str = ""
    note: str = ""
    staff_detail: str = ""
    start_offset: float = 0.0

    @property
    def plays(self) -> bool:
        return bool(self.url)

    def player_time(self, seconds: float) -> str:
        """A movie timestamp (counted from the first frame) on the player's clock, as the
        ``#t=`` media fragment and ``currentTime`` take it: rounded up to the millisecond,
        since a player shows the last frame that starts at or before the time it is given."""
        return f"{math.ceil(round((seconds + self.start_offset) * 1000, 6)) / 1000:.3f}"


def playback_for(movie: Movie) -> Playback:
    """The player or the reason for none: the file must be there (and, behind nginx, mapped to
    an internal location), and its format must play in a browser."""
    try:
        location = video_location(movie)
        if settings.FACEFINDER_MEDIA_SERVING == "x-accel":
            location.internal_uri()
    except VideoUnavailable as exc:
        return Playback(note=str(exc), staff_detail=exc.detail)
    if not movie.container:
        problem = record_video_format(movie)
        if problem:
            return Playback(
                note="The format of this movie's file cannot be read.", staff_detail=problem
            )
    support = movie_support(movie)
    if not support.plays:
        return Playback(note=support.note)
    return Playback(
        url=reverse("movies:video", args=[movie.pk]),
        content_type=support.content_type,
        note=support.note,
        start_offset=movie.video_start_seconds,
    )
