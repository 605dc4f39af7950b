"""Rate limits on the throttle cache (``CACHES["throttle"]``, Redis in production) and the pages
that say when to try again.

Failed logins are counted by django-axes (``accounts.lockout``) in the same cache. The other
throttled actions are not failed logins, so axes cannot count them: sign-ups and password-reset
requests (per client address, and per e-mail address for resets) and photo searches (per user,
because each runs the face networks in the web process). Each is a ``RateLimit``: a counter per
client and fixed window that Redis increments atomically, so every web server shares it.

When the cache cannot be reached the limits fail closed: the action is refused with a 503 page
that says so, never a 500 and never an unthrottled pass.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

THROTTLE_CACHE = "throttle"
# What a cache backend raises when its server is down or unreachable.
CACHE_ERRORS = (RedisError, OSError)
# Retry-After of a refusal because the cache is down: a guess, since nobody knows.
UNAVAILABLE_RETRY_SECONDS = 60


class ThrottleUnavailable(Exception):
    """The throttle cache cannot be reached; the throttled action must not go ahead."""


@dataclass(frozen=True)
class RateLimit:
    """At most ``settings.<setting>`` actions named ``name`` per client per ``window`` seconds."""

    name: str
    setting: str
    window: int = 3600

    @property
    def limit(self) -> int:
        return int(getattr(settings, self.setting))

    def hit(self, client: object) -> int | None:
        """Count one action of ``client``; seconds to wait when it is one too many, else None.

        Raises ``ThrottleUnavailable`` when the cache does not answer.
        """
        now = time.time()
        window_start = int(now // self.window) * self.window
        digest = hashlib.sha256(str(client).encode()).hexdigest()[:32]
        key = f"{self.name}:{digest}:{window_start}"
        cache = caches[THROTTLE_CACHE]
        try:
            cache.add(key, 0, timeout=self.window)
            count = cache.incr(key)
        except CACHE_ERRORS as error:
            logger.error("throttle cache unavailable (%s): refusing %s", error, self.name)
            raise ThrottleUnavailable(str(error)) from error
        except ValueError:  # the key expired between add() and incr(): a new window began
            return None
        if count > self.limit:
            return max(1, int(window_start + self.window - now))
        return None


SIGNUPS = RateLimit("signup", "FACEFINDER_SIGNUPS_PER_HOUR")
PASSWORD_RESETS = RateLimit("password-reset", "FACEFINDER_PASSWORD_RESETS_PER_HOUR")
PHOTO_SEARCHES = RateLimit("photo-search", "FACEFINDER_PHOTO_SEARCHES_PER_HOUR")


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind ``FACEFINDER_PROXY_COUNT`` proxies the
    address the outermost of them saw (that many entries from the right of X-Forwarded-For;
    entries further left are the client's own claims and are ignored)."""
    proxies = settings.FACEFINDER_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR", "")
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies]


def minutes(seconds: int) -> str:
    count = max(1, -(-seconds // 60))
    return f"{count} minute{'s' if count != 1 else ''}"


def too_many_requests(request: HttpRequest, message: str, retry_after: int) -> HttpResponse:
    """The 429 page: what was refused and when to try again (also in ``Retry-After``)."""
    response = render(
        request,
        "throttled.html",
        {"heading": "Too many attempts", "message": message, "retry_in": minutes(retry_after)},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def throttle_unavailable(request: HttpRequest, action: str) -> HttpResponse:
    """The 503 page of an ``action`` ("Logging in") refused because its counter cannot be
    reached."""
    response = render(
        request,
        "throttled.html",
        {
            "heading": "Temporarily unavailable",
            "message": f"{action} is unavailable for a moment: the service that counts "
            "attempts does not answer, and without it the site cannot protect its accounts.",
            "retry_in": minutes(UNAVAILABLE_RETRY_SECONDS),
        },
        status=503,
    )
    response["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
    return response


def check_limits(
    request: HttpRequest, limits: list[tuple[RateLimit, object]], *, action: str, message: str
) -> HttpResponse | None:
    """Count the request against each (limit, client); the refusal page when one is exceeded
    (``message``) or the cache is down (naming ``action``), else None."""
    waits = []
    try:
        for limit, client in limits:
            wait = limit.hit(client)
            if wait is not None:
                waits.append(wait)
    except ThrottleUnavailable:
        return throttle_unavailable(request, action)
    if waits:
        return too_many_requests(request, message, max(waits))
    return None
