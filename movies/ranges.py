"""HTTP byte ranges (RFC 9110, sections 13.1.5 and 14): what part of a file a request asks for.

The choices this server makes where the RFC leaves one:

* A malformed ``bytes`` range (``bytes=abc``, ``bytes=5-1``, ``bytes=``) is rejected with 416,
  as is a set of ranges none of which is satisfiable (RFC 9110 14.2 allows ignoring or
  rejecting the former; the latter is the RFC's 416).
* A request for several ranges (``bytes=0-9,20-29``) gets the whole file with 200: the RFC lets
  a server ignore Range, browsers' media players never ask for several, and no
  ``multipart/byteranges`` body has to be built.
* A range unit other than ``bytes`` is ignored (the RFC's MUST), so is Range on any method but
  GET (HEAD answers like a GET without Range), and so is a range whose ``If-Range`` no longer
  matches the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.http import parse_http_date_safe

_INT_RANGE = re.compile(r"([0-9]+)-([0-9]*)")
_SUFFIX_RANGE = re.compile(r"-([0-9]+)")


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end`` of a file, both included."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class RangeNotSatisfiable(Exception):
    """The Range header is malformed or asks only for bytes the file does not have (416)."""


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The one range of a ``size``-byte file that ``header`` asks for.

    None means "send the whole file" (no Range, another unit, several ranges, an empty file);
    RangeNotSatisfiable means 416.
    """
    if not header:
        return None
    unit, equals, specs = header.partition("=")
    if not equals:
        raise RangeNotSatisfiable("no range unit")
    if unit.strip(" \t").lower() != "bytes":
        return None
    # A list: elements separated by commas with optional spaces; empty elements are allowed.
    parts = [part.strip(" \t") for part in specs.split(",")]
    parts = [part for part in parts if part]
    if not parts:
        raise RangeNotSatisfiable("no range")
    ranges = [_parse_spec(part) for part in parts]
    if size == 0:
        return None
    satisfiable = [_clip(first, last, size) for first, last in ranges]
    satisfiable = [byte_range for byte_range in satisfiable if byte_range is not None]
    if not satisfiable:
        raise RangeNotSatisfiable("no range within the file")
    if len(ranges) > 1:
        return None
    return satisfiable[0]


def _parse_spec(spec: str) -> tuple[int | None, int | None]:
    """(first, last) of ``first-last`` or ``first-``; (None, length) of a suffix ``-length``."""
    if match := _INT_RANGE.fullmatch(spec):
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else None
        if last is not None and last < first:
            raise RangeNotSatisfiable(f"range {spec} ends before it starts")
        return first, last
    if match := _SUFFIX_RANGE.fullmatch(spec):
        return None, int(match.group(1))
    raise RangeNotSatisfiable(f"malformed range {spec!r}")


def _clip(first: int | None, last: int | None, size: int) -> ByteRange | None:
    """The bytes of the file a parsed range covers, or None when it covers none."""
    if first is None:  # a suffix: the last ``last`` bytes
        if not last:
            return None
        return ByteRange(max(0, size - last), size - 1)
    if first >= size:
        return None
    return ByteRange(first, size - 1 if last is None else min(last, size - 1))


def if_range_matches(header: str | None, *, etag: str, last_modified: int) -> bool:
    """Whether a request's ``If-Range`` lets its Range apply (true when there is none).

    An entity tag must match strongly (a weak ``W/`` tag never does); a date must equal the
    file's Last-Modified.
    """
    if not header:
        return True
    header = header.strip()
    if header.startswith(("W/", '"')):
        return header == etag
    return parse_http_date_safe(header) == last_modified
