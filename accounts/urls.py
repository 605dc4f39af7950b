"""Account pages under ``/accounts/``: sign-up, then Django's own views for logging in, logging
out (POST only), changing and resetting a password (their templates are the project's, in
``templates/registration/``). URL names are Django's, not namespaced."""

from django.urls import include, path

from accounts.views import SignUpView

urlpatterns = [
    path("signup/", SignUpView.as_view(), name="signup"),
    path("", include("django.contrib.auth.urls")),
]
