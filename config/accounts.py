"""Sign-up: the one account page Django's auth app does not ship.

Open or closed by ``settings.FACEFINDER_ALLOW_SIGNUP``; when closed the page says so plainly
instead of pretending to work.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.generic import CreateView


class SignUpForm(UserCreationForm):
    """Username, e-mail (needed for password reset) and the password twice."""

    email = forms.EmailField(
        required=True, help_text="Used only to reset your password if you forget it."
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail address already exists.")
        return email


class SignUpView(CreateView):
    form_class = SignUpForm
    template_name = "registration/signup.html"
    success_url = reverse_lazy(settings.LOGIN_REDIRECT_URL)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.FACEFINDER_ALLOW_SIGNUP:
            return render(request, "registration/signup_closed.html", status=403)
        if request.user.is_authenticated:
            return redirect(self.success_url)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: SignUpForm) -> HttpResponse:
        response = super().form_valid(form)
        login(self.request, self.object, backend="django.contrib.auth.backends.ModelBackend")
        return response


def site_context(request: HttpRequest) -> dict[str, Any]:
    """Template context every page needs: whether to offer a sign-up link."""
    return {"signup_open": settings.FACEFINDER_ALLOW_SIGNUP}
