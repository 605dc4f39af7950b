"""Who may sign up: ``settings.FACEFINDER_SIGNUP``, closed by ``FACEFINDER_ALLOW_SIGNUP=false``."""

from __future__ import annotations

from django.conf import settings

APPROVAL, OPEN, CLOSED = "approval", "open", "closed"


def signup_mode() -> str:
    """ "approval" (new accounts wait for a staff member), "open" or "closed"."""
    if not settings.FACEFINDER_ALLOW_SIGNUP:
        return CLOSED
    return settings.FACEFINDER_SIGNUP
