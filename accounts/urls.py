"""Account pages under ``/accounts/``: sign-up, then Django's own views for logging in, logging
out (POST only), changing and resetting a password (their templates are the project's, in
``templates/registration/``); login and password reset are the project's subclasses
(``accounts.views``). URL names are Django's, not namespaced."""

from django.urls import include, path

from accounts import views

urlpatterns = [
    path("signup/", views.SignUpView.as_view(), name="signup"),
    path("signup/pending/", views.signup_pending, name="signup-pending"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("", include("django.contrib.auth.urls")),
]
