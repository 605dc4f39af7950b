"""Accounts waiting for approval: a view of Django's users, no table of its own.

A sign-up under ``FACEFINDER_SIGNUP=approval`` creates an inactive user. An inactive user who
has never logged in is one waiting for a staff member; one who has logged in before was
deactivated by staff and is not listed here.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import models

User = get_user_model()


class PendingAccountManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(is_active=False, last_login__isnull=True)


class PendingAccount(User):
    """A signed-up user that a staff member has not approved yet (admin: approve action)."""

    objects = PendingAccountManager()

    class Meta:
        proxy = True
        verbose_name = "account awaiting approval"
        verbose_name_plural = "accounts awaiting approval"


def is_awaiting_approval(user) -> bool:
    return not user.is_active and user.last_login is None


def approve(accounts: models.QuerySet) -> int:
    """Activate the accounts waiting among ``accounts``; returns how many."""
    return accounts.filter(is_active=False, last_login__isnull=True).update(is_active=True)
