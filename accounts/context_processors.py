from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.signup import CLOSED, signup_mode


def site_context(request: HttpRequest) -> dict[str, Any]:
    """Template context every page needs: whether to offer a sign-up link."""
    return {"signup_open": signup_mode() != CLOSED}
