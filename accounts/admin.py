"""Accounts awaiting approval, listed in the admin with an action that approves them.

The page works on Django's users, so it asks for the user permissions: viewing users to see
the list, changing users to approve, deleting users to turn a request down.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import PendingAccount, approve


@admin.register(PendingAccount)
class PendingAccountAdmin(admin.ModelAdmin):
    list_display = ("username", "email", "date_joined")
    search_fields = ("username", "email")
    ordering = ("date_joined",)
    actions = ("approve_accounts",)
    fields = ("username", "email", "date_joined")
    readonly_fields = fields

    @admin.action(permissions=["change"], description="Approve selected accounts")
    def approve_accounts(self, request: HttpRequest, queryset: QuerySet[PendingAccount]) -> None:
        approved = approve(queryset)
        self.message_user(
            request,
            f"Approved {approved} account{'s' if approved != 1 else ''}: they can log in now.",
            messages.SUCCESS,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("auth.view_user") or self.has_change_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("auth.change_user")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("auth.delete_user")
