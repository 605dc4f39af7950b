"""Protected media: frame images and thumbnails are served to logged-in users only.

The generic ``/media/`` view (wired in config/urls.py as ``media``) serves only what ingest
writes for every user to see (frame images, frame thumbnails, face crops: the pattern
``movies.storage.SHARED_MEDIA``). Other media has an owner or is not meant for
pages: uploaded query photos go through ``search:photo-image``, which checks the owner, and
uploaded movie files are not served at all. Both views hand the bytes over with
``send_media_file``.

``settings.FACEFINDER_MEDIA_SERVING`` picks how the bytes reach the client:

* ``"django"`` (default): the app streams the file with ``FileResponse``. Fine for development
  and small sites.
* ``"x-accel"``: the app checks the login and the path, then answers with an
  ``X-Accel-Redirect`` header naming ``FACEFINDER_MEDIA_INTERNAL_PREFIX + path``; nginx serves the
  file from an ``internal`` location, so a Python worker is never tied up sending bytes::

      location /protected-media/ {
          internal;
          alias /srv/facefinder/var/media/;   # MEDIA_ROOT, with the trailing slash
      }

Either way the response is privately cacheable (``Cache-Control: private``) and, in "django"
mode, carries ``ETag`` and ``Last-Modified`` and answers conditional requests with 304, so a
browser downloads each stored JPEG once.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from movies.storage import SHARED_MEDIA


def resolve_media_path(name: str) -> Path:
    """The file under MEDIA_ROOT that ``name`` names, or Http404.

    Rejects anything that could leave MEDIA_ROOT: ``..`` parts, absolute paths, backslashes, NUL
    bytes, and symlinks pointing outside (the resolved path must still lie below the root).
    """
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        raise Http404("No such file.")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise Http404("No such file.")
    root = Path(settings.MEDIA_ROOT).resolve()
    candidate = root.joinpath(*parts).resolve()
    if not candidate.is_relative_to(root) or candidate == root:
        raise Http404("No such file.")
    if not candidate.is_file():
        raise Http404("No such file.")
    return candidate


def _cache_private(response: HttpResponseBase) -> HttpResponseBase:
    patch_cache_control(response, private=True, max_age=settings.FACEFINDER_MEDIA_MAX_AGE)
    return response


@require_safe
@login_required
def serve_protected_media(request: HttpRequest, path: str) -> HttpResponseBase:
    """Serve one ingest image to a logged-in user; 404 for anything else."""
    if not SHARED_MEDIA.fullmatch(path):
        raise Http404("No such file.")
    return send_media_file(request, path)


def send_media_file(request: HttpRequest, name: str) -> HttpResponseBase:
    """Answer with the media file ``name`` (already authorised by the caller), privately cached."""
    file_path = resolve_media_path(name)
    content_type, encoding = mimetypes.guess_type(file_path.name)
    content_type = content_type or "application/octet-stream"

    if settings.FACEFINDER_MEDIA_SERVING == "x-accel":
        response = HttpResponse(content_type=content_type)
        prefix = settings.FACEFINDER_MEDIA_INTERNAL_PREFIX.rstrip("/") + "/"
        response["X-Accel-Redirect"] = prefix + quote(name)
        return _cache_private(response)

    stat = file_path.stat()
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    last_modified = int(stat.st_mtime)
    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if not_modified is not None:
        not_modified["ETag"] = etag
        return _cache_private(not_modified)

    response = FileResponse(file_path.open("rb"), content_type=content_type)
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    return _cache_private(response)
