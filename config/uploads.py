"""Request bodies: each view's size limit, enforced while the body streams in.

Django counts form fields against ``DATA_UPLOAD_MAX_MEMORY_SIZE`` but lets uploaded files grow
without bound, writing them to a temporary file before any view can look at their size. Here
every multipart body gets an upload handler, first in line, that knows its view's limit:

- the upload views of ``UPLOAD_LIMITS`` accept their files' limit (a setting) plus room for the
  form's fields;
- every other view accepts ``DATA_UPLOAD_MAX_MEMORY_SIZE`` in all (2.5 MB, Django's default).

A body whose declared length is over the limit is refused before a byte of it is read; one that
grows past it anyway (the length is only a claim) is cut off at that chunk. Either way nothing
reaches a temporary file and the client gets a 413 page that names the limit. The web server in
front should refuse such bodies first (README: nginx's ``client_max_body_size``).

A view with an upload form adds its URL name and limit setting to ``UPLOAD_LIMITS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve
from django.utils.datastructures import MultiValueDict


@dataclass(frozen=True)
class UploadLimit:
    setting: str  # the largest file in bytes
    hint: str = ""  # what to do instead, shown when the file is refused


UPLOAD_LIMITS: dict[str, UploadLimit] = {
    "admin:movies_movie_add": UploadLimit(
        "FACEFINDER_MAX_UPLOAD_BYTES",
        "Large movies are better added by server path: copy the file into an import folder "
        "and give its path instead of uploading it.",
    ),
    "search:photo": UploadLimit(
        "FACEFINDER_MAX_PHOTO_BYTES", "Scale the photo down or crop it to the face."
    ),
}


def body_limit(view_name: str | None) -> tuple[int, UploadLimit | None]:
    """The most bytes a multipart body to this view may hold, and its upload limit if any."""
    fields = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    upload = UPLOAD_LIMITS.get(view_name or "")
    if upload is None:
        return fields, None
    return int(getattr(settings, upload.setting)) + fields, upload


class BodyLimitHandler(FileUploadHandler):
    """Stops a multipart body that is, or grows, larger than ``limit`` bytes."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.refused_size: int | None = None  # set when the body was refused

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > self.limit:
            self.refused_size = content_length
            return QueryDict(encoding=encoding), MultiValueDict()  # nothing is parsed or read
        return None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.refused_size = self.received
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class RequestBodyLimitMiddleware:
    """Puts a ``BodyLimitHandler`` first on every multipart request and answers 413 when it
    refuses the body (before the view, and before the CSRF check reads the body)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.content_type.startswith("multipart/"):
            return self.get_response(request)
        try:
            view_name = resolve(request.path_info).view_name
        except Resolver404:
            view_name = None
        limit, upload = body_limit(view_name)
        handler = BodyLimitHandler(request, limit)
        request.upload_handlers.insert(0, handler)
        request.POST  # noqa: B018 (parse now, through the handler)
        if handler.refused_size is not None:
            return too_large(request, handler.refused_size, upload)
        return self.get_response(request)


def too_large(request: HttpRequest, size: int, upload: UploadLimit | None) -> HttpResponse:
    if upload is not None:
        allowed = int(getattr(settings, upload.setting))
        message = f"This page accepts files of at most {filesizeformat(allowed)}."
    else:
        message = (
            f"This page accepts at most {filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)} "
            "of form data."
        )
    return render(
        request,
        "upload_too_large.html",
        {"size": filesizeformat(size), "message": message, "hint": upload.hint if upload else ""},
        status=413,
    )
