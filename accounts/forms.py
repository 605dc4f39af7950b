"""Account forms: sign-up (Django's user-creation form plus an e-mail address) and the login
form, which tells an account awaiting approval why it cannot log in yet."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from accounts.models import is_awaiting_approval

AWAITING_APPROVAL = (
    "Your account awaits a staff member's approval. You can log in as soon as it is approved."
)


class SignUpForm(UserCreationForm):
    """Username, e-mail (needed for password reset) and the password twice."""

    email = forms.EmailField(
        required=True,
        max_length=get_user_model()._meta.get_field("email").max_length,
        help_text="Used only to reset your password if you forget it.",
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail address already exists.")
        return email


class LoginForm(AuthenticationForm):
    """Django's login form; the right password of an account awaiting approval says so."""

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError:
            if self._awaits_approval():
                raise forms.ValidationError(AWAITING_APPROVAL, code="awaiting_approval") from None
            raise

    def _awaits_approval(self) -> bool:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return False
        user = (
            get_user_model()
            ._default_manager.filter(**{get_user_model().USERNAME_FIELD: username})
            .first()
        )
        return user is not None and is_awaiting_approval(user) and user.check_password(password)
