"""Failed logins, counted by django-axes on the throttle cache (settings: ``AXES_*``).

Every login form (the site's and the admin's) authenticates through ``AxesStandaloneBackend``;
after ``FACEFINDER_LOGIN_FAILURE_LIMIT`` wrong passwords for one account from one address, that
account cannot log in from there for ``FACEFINDER_LOGIN_COOLOFF_MINUTES``, and each attempt in
the meantime starts the wait again. ``lockout_response`` is the page that says so.

When the cache is down logins fail closed: ``FailClosedCacheHandler`` refuses every login
attempt, and the page says that logging in is unavailable for a moment (503), instead of a 500
or a login that nobody counts.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_cache, get_cool_off
from django.http import HttpRequest, HttpResponse

from config.throttle import CACHE_ERRORS, throttle_unavailable, too_many_requests

logger = logging.getLogger(__name__)

# Set on a request whose login was refused because the cache did not answer.
UNAVAILABLE_FLAG = "facefinder_throttle_unavailable"


class FailClosedCacheHandler(AxesCacheHandler):
    """Axes' cache handler, refusing the login when the cache cannot be read or written."""

    def __init__(self) -> None:
        """Axes keeps one handler for the process; the cache is looked up at each use instead
        of once here, so that it follows the settings (tests point it elsewhere)."""

    @property
    def cache(self):
        return get_cache()

    def is_allowed(self, request: HttpRequest, credentials: dict | None = None) -> bool:
        try:
            return super().is_allowed(request, credentials)
        except CACHE_ERRORS as error:
            self._refuse(request, error)
            return False

    def user_login_failed(self, sender: Any, credentials: dict, request=None, **kwargs) -> None:
        try:
            super().user_login_failed(sender, credentials, request, **kwargs)
        except CACHE_ERRORS as error:
            if request is not None:
                self._refuse(request, error)

    def user_logged_in(self, sender: Any, request: HttpRequest, user, **kwargs) -> None:
        try:
            super().user_logged_in(sender, request, user, **kwargs)
        except CACHE_ERRORS as error:
            # The login was counted as allowed a moment ago; only clearing its failures failed.
            logger.error("throttle cache unavailable (%s): failed logins not reset", error)

    @staticmethod
    def _refuse(request: HttpRequest, error: Exception) -> None:
        logger.error("throttle cache unavailable (%s): refusing a login", error)
        setattr(request, UNAVAILABLE_FLAG, True)
        request.axes_locked_out = True


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """What a refused login answers (``AXES_LOCKOUT_CALLABLE``): 429 with when to try again, or
    503 when the failures cannot be counted."""
    if getattr(request, UNAVAILABLE_FLAG, False):
        return throttle_unavailable(request, "Logging in")
    wait = int(get_cool_off(request).total_seconds())
    return too_many_requests(
        request,
        "Too many failed log-ins for this account from your address. Each further attempt "
        "before the wait is over starts it again.",
        wait,
    )
