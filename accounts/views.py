"""Sign-up, and the account views of Django's auth app that need more than their defaults: the
login form that explains an account awaiting approval, and a rate-limited password reset.

Sign-up follows ``accounts.signup.signup_mode()``: with "approval" a new account is inactive
and its owner sees a page saying it awaits approval; with "open" the new user is logged in at
once; "closed" says so plainly instead of pretending to work. Sign-ups and password-reset
requests are counted per client address (``config.throttle``); resets also per e-mail address,
so that nobody can flood one mailbox.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.generic import CreateView

from accounts.forms import LoginForm, SignUpForm
from accounts.signup import APPROVAL, CLOSED, OPEN, signup_mode
from config.throttle import PASSWORD_RESETS, SIGNUPS, check_limits, client_ip


class SignUpView(CreateView):
    form_class = SignUpForm
    template_name = "accounts/signup.html"
    success_url = reverse_lazy(settings.LOGIN_REDIRECT_URL)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if signup_mode() == CLOSED:
            return render(request, "accounts/signup_closed.html", status=403)
        if request.user.is_authenticated:
            return redirect(self.success_url)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "needs_approval": signup_mode() == APPROVAL}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = check_limits(
            request,
            [(SIGNUPS, client_ip(request))],
            action="Signing up",
            message="Too many sign-ups from your address.",
        )
        return refused or super().post(request, *args, **kwargs)

    def form_valid(self, form: SignUpForm) -> HttpResponse:
        user = form.save(commit=False)
        user.is_active = signup_mode() == OPEN
        user.save()
        self.object = user
        if not user.is_active:
            return redirect("signup-pending")
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(self.success_url)


def signup_pending(request: HttpRequest) -> HttpResponse:
    """After a sign-up that waits for approval."""
    return render(request, "accounts/signup_pending.html")


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm


class PasswordResetView(auth_views.PasswordResetView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        email = request.POST.get("email", "").strip().lower()[:254]
        refused = check_limits(
            request,
            [(PASSWORD_RESETS, client_ip(request)), (PASSWORD_RESETS, f"email:{email}")],
            action="Resetting a password",
            message="Too many password-reset requests from your address or for this e-mail "
            "address.",
        )
        return refused or super().post(request, *args, **kwargs)
