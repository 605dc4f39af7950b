"""``/movies/<id>/video/``: a movie's video file for the player, to logged-in users only.

The file is named by the movie's id, never by a path in the URL. In "django" serving mode the
app answers byte ranges itself (``movies.ranges``: 206 with Content-Range, 416 with
``Content-Range: bytes */size``), with the validators and conditional requests of the other
media (ETag, Last-Modified, 304, 412). In "x-accel" mode it only checks the login and the
file, and hands the file to nginx by an X-Accel-Redirect (``movies.video_files``); nginx then
answers Range and conditional requests itself.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from movies.models import Movie
from movies.playback import movie_support
from movies.ranges import ByteRange, RangeNotSatisfiable, if_range_matches, requested_range
from movies.video_files import VideoUnavailable, video_location

logger = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024


@require_safe
@login_required
def serve_movie_video(request: HttpRequest, pk: int) -> HttpResponseBase:
    movie = get_object_or_404(Movie, pk=pk)
    try:
        location = video_location(movie)
        internal_uri = (
            location.internal_uri() if settings.FACEFINDER_MEDIA_SERVING == "x-accel" else ""
        )
    except VideoUnavailable as exc:
        logger.warning("video of movie %s not served: %s (%s)", movie.pk, exc, exc.detail)
        raise Http404(str(exc)) from None
    content_type = (
        movie_support(movie).content_type
        or mimetypes.guess_type(location.path.name)[0]
        or "application/octet-stream"
    )
    if internal_uri:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = internal_uri
        return _cache_private(response)
    return _send_file(request, location.path, content_type)


def _send_file(request: HttpRequest, path: Path, content_type: str) -> HttpResponseBase:
    stat = path.stat()
    size = stat.st_size
    etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
    last_modified = int(stat.st_mtime)
    validators = {"ETag": etag, "Last-Modified": http_date(last_modified)}

    precondition = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if precondition is not None:  # 304 Not Modified or 412 Precondition Failed
        precondition["ETag"] = etag
        return _cache_private(precondition)

    byte_range = None
    if request.method == "GET" and if_range_matches(
        request.headers.get("If-Range"), etag=etag, last_modified=last_modified
    ):
        try:
            byte_range = requested_range(request.headers.get("Range"), size)
        except RangeNotSatisfiable:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return _with_headers(response, validators)

    if request.method == "HEAD":
        response = HttpResponse(content_type=content_type)
        response["Content-Length"] = str(size)
    elif byte_range is None:
        response = FileResponse(path.open("rb"), content_type=content_type)
    else:
        response = StreamingHttpResponse(
            _read(path, byte_range), status=206, content_type=content_type
        )
        response["Content-Length"] = str(byte_range.length)
        response["Content-Range"] = byte_range.content_range(size)
    return _with_headers(response, validators)


def _with_headers(response: HttpResponseBase, validators: dict[str, str]) -> HttpResponseBase:
    response["Accept-Ranges"] = "bytes"
    for name, value in validators.items():
        response[name] = value
    return _cache_private(response)


def _cache_private(response: HttpResponseBase) -> HttpResponseBase:
    patch_cache_control(response, private=True, max_age=settings.FACEFINDER_MEDIA_MAX_AGE)
    return response


def _read(path: Path, byte_range: ByteRange) -> Iterator[bytes]:
    """The bytes of ``byte_range``, a chunk at a time; the file closes when the response does."""
    with path.open("rb") as handle:
        handle.seek(byte_range.start)
        left = byte_range.length
        while left > 0:
            chunk = handle.read(min(CHUNK_BYTES, left))
            if not chunk:  # the file shrank under us: end early rather than pad
                return
            left -= len(chunk)
            yield chunk
