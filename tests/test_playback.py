"""Whether a movie plays in a browser, decided from the probe's container and codecs, and how
those facts reach the movie: ingest, the first page that needs them, the admin action."""

from __future__ import annotations

import pytest
from django.urls import reverse

from movies.models import Movie
from movies.playback import browser_support, playback_for, record_video_format
from movies.video import probe_video
from tests.factories import make_movie
from tests.ingest_helpers import ffmpeg, needs_ffmpeg
from tests.shared_data import HAMILTON_CLIP

# (container, video codec, audio codec) -> plays, a word the note must hold ("" = no note).
PLAYABILITY = [
    (("mp4", "h264", "aac"), True, ""),
    (("mp4", "h264", ""), True, ""),
    (("mp4", "h264", "mp3"), True, ""),
    (("mp4", "vp9", "opus"), True, ""),
    (("mp4", "av1", "aac"), True, ""),
    (("webm", "vp9", "opus"), True, ""),
    (("webm", "vp8", "vorbis"), True, ""),
    (("webm", "av1", "opus"), True, ""),
    (("mp4", "h264", "ac3"), True, "AC-3"),  # the picture plays, the sound does not
    (("mp4", "h264", "eac3"), True, "E-AC-3"),
    (("matroska", "h264", "aac"), True, "Matroska"),  # Chromium reads MKV, others may not
    (("matroska", "vp9", "opus"), True, "Matroska"),
    (("mov", "h264", "aac"), True, "QuickTime"),
    (("mp4", "hevc", "aac"), False, "HEVC"),
    (("matroska", "hevc", "aac"), False, "HEVC"),
    (("mp4", "mpeg4", "aac"), False, "MPEG-4 Part 2"),
    (("webm", "h264", "aac"), False, "H.264"),  # not a WebM codec
    (("mov", "prores", "pcm_s16le"), False, "ProRes"),
    (("avi", "h264", "aac"), False, "AVI"),
    (("avi", "mpeg4", "mp3"), False, "AVI"),
    (("mpeg", "mpeg2video", "mp2"), False, "MPEG program stream"),
    (("mpegts", "h264", "aac"), False, "transport stream"),
    (("matroska", "mpeg2video", "ac3"), False, "MPEG-2"),
    (("", "", ""), False, "not known"),
]


@pytest.mark.parametrize(("formats", "plays", "word"), PLAYABILITY)
def test_playability_of_containers_and_codecs(formats, plays, word):
    support = browser_support(*formats)
    assert support.plays is plays
    assert (word in support.note) if word else support.note == ""
    if plays:
        assert support.content_type.startswith("video/")


def test_media_types_follow_the_container():
    assert browser_support("mp4", "h264", "aac").content_type == "video/mp4"
    assert browser_support("webm", "vp9", "opus").content_type == "video/webm"
    assert browser_support("matroska", "h264", "").content_type == "video/x-matroska"


# --- what the probe reads --------------------------------------------------------------------


def test_the_probe_names_container_and_codecs_of_the_hamilton_clip():
    info = probe_video(HAMILTON_CLIP)
    assert (info.container, info.codec, info.audio_codec) == ("mp4", "h264", "aac")
    # Its first picture comes 0.852 s into the file (the sound starts at once): a player shows
    # frame i at 0.852 + i / fps.
    assert info.start_seconds == pytest.approx(0.852, abs=0.001)


@needs_ffmpeg
@pytest.mark.parametrize(
    ("suffix", "container"), [(".mp4", "mp4"), (".mkv", "matroska"), (".mov", "mov")]
)
def test_the_probe_tells_containers_of_one_family_apart(clips, tmp_path, suffix, container):
    info = probe_video(clips.miranda(tmp_path, suffix))
    assert (info.container, info.codec, info.audio_codec) == (container, "h264", "")
    assert info.start_seconds == pytest.approx(0.0, abs=0.001)


@needs_ffmpeg
def test_the_probe_reads_webm_and_canonical_codec_names(tmp_path):
    path = tmp_path / "pattern.webm"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5",
        "-f", "lavfi", "-i", "sine=duration=0.5",
        "-c:v", "libvpx-vp9", "-deadline", "realtime", "-pix_fmt", "yuv420p",
        "-c:a", "libopus", str(path),
    )  # fmt: skip
    info = probe_video(path)
    assert (info.container, info.codec, info.audio_codec) == ("webm", "vp9", "opus")
    mp3 = tmp_path / "pattern.mp4"
    ffmpeg("-i", str(path), "-c:v", "copy", "-c:a", "libmp3lame", str(mp3))
    # The format's name, not the decoder's ("mp3float").
    assert probe_video(mp3).audio_codec == "mp3"


# --- movies ingested before the fields existed -----------------------------------------------


@pytest.fixture
def unprobed(db) -> Movie:
    return make_movie("Old", source_path=str(HAMILTON_CLIP))


def test_record_video_format_probes_and_stores(unprobed):
    assert record_video_format(unprobed) == ""
    stored = Movie.objects.get(pk=unprobed.pk)
    assert (stored.container, stored.video_codec, stored.audio_codec) == ("mp4", "h264", "aac")
    assert stored.video_start_seconds == pytest.approx(0.852, abs=0.001)


def test_record_video_format_says_why_it_cannot(db, tmp_path):
    movie = make_movie("Gone", source_path=str(tmp_path / "gone.mp4"))
    problem = record_video_format(movie)
    assert problem.startswith("The video file of this movie is gone")
    assert str(tmp_path / "gone.mp4") in problem  # for staff and logs
    assert Movie.objects.get(pk=movie.pk).container == ""


def test_the_first_page_that_needs_it_probes_the_file(unprobed):
    playback = playback_for(unprobed)
    assert playback.plays
    assert playback.url == reverse("movies:video", args=[unprobed.pk])
    assert Movie.objects.get(pk=unprobed.pk).container == "mp4"
    # A movie timestamp on the player's clock: the first frame shows 0.852 s in.
    assert playback.player_time(2.0) == "2.853"  # 2.85202 s, rounded up to the millisecond
    assert playback.player_time(85 / 29.97) == "3.689"  # frame 85 starts at 3.68819 s


def test_a_file_that_does_not_probe_has_no_player(db, tmp_path):
    path = tmp_path / "fake.mp4"
    path.write_bytes(b"not a video at all" * 10)
    playback = playback_for(make_movie("Fake", source_path=str(path)))
    assert not playback.plays
    assert playback.note == "The format of this movie's file cannot be read."
    assert "not a video" in playback.staff_detail


def test_a_format_browsers_do_not_play_has_no_player(db, tmp_path):
    path = tmp_path / "film.avi"
    path.write_bytes(b"x")
    movie = make_movie("Avi", source_path=str(path), container="avi", video_codec="mpeg4")
    playback = playback_for(movie)
    assert not playback.plays
    assert playback.note == "AVI files do not play in web browsers."


def test_the_admin_action_reads_the_format(staff_client, unprobed, tmp_path):
    gone = make_movie("Gone", source_path=str(tmp_path / "gone.mp4"))
    changelist = reverse("admin:movies_movie_changelist")
    response = staff_client.post(
        changelist,
        {"action": "read_video_format", "_selected_action": [unprobed.pk, gone.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "Read the video format of 1 movie." in text
    assert "Not read: Gone: The video file of this movie is gone" in text
    assert Movie.objects.get(pk=unprobed.pk).container == "mp4"
    change = staff_client.get(reverse("admin:movies_movie_change", args=[unprobed.pk]))
    assert "mp4, H.264, AAC; plays in browsers" in change.content.decode()
