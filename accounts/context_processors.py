from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def site_context(request: HttpRequest) -> dict[str, Any]:
    """Template context every page needs: whether to offer a sign-up link."""
    return {"signup_open": settings.FACEFINDER_ALLOW_SIGNUP}
