"""Accounts: sign up (open or closed by a setting), log in, log out (POST only), passwords."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_login_page_is_public_and_logs_in(client, user, password):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "alice", "password": password})
    assert response.status_code == 302
    assert response["Location"] == reverse("movies:list")
    assert client.get(reverse("movies:list")).status_code == 200


def test_login_returns_to_the_page_asked_for(client, user, password):
    asked = reverse("movies:list") + "?page=2"
    response = client.get(asked)
    assert response.status_code == 302
    login_url = response["Location"]
    page = client.get(login_url)
    assert 'name="next"' in page.content.decode()
    response = client.post(login_url, {"username": "alice", "password": password, "next": asked})
    assert response["Location"] == asked


def test_wrong_password_shows_a_clear_error(client, user):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_is_post_only(user_client):
    assert user_client.get(reverse("logout")).status_code == 405
    assert user_client.get(reverse("movies:list")).status_code == 200  # still logged in
    response = user_client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert user_client.get(reverse("movies:list")).status_code == 302


def test_every_page_has_a_post_logout_form(user_client):
    content = user_client.get(reverse("movies:list")).content.decode()
    logout_form = f'<form method="post" action="{reverse("logout")}"'
    assert logout_form in content


def test_signup_creates_an_account_and_logs_in(client, settings):
    settings.FACEFINDER_ALLOW_SIGNUP = True
    page = client.get(reverse("signup"))
    assert page.status_code == 200
    assert "Create an account" in page.content.decode()
    response = client.post(
        reverse("signup"),
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": "correct-horse-battery-9",
            "password2": "correct-horse-battery-9",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("movies:list")
    user = get_user_model().objects.get(username="carol")
    assert user.email == "carol@example.com"
    assert not user.is_staff
    assert client.get(reverse("movies:list")).status_code == 200


def test_signup_rejects_bad_input_with_messages(client, user, settings):
    settings.FACEFINDER_ALLOW_SIGNUP = True
    user.email = "alice@example.com"
    user.save()
    response = client.post(
        reverse("signup"),
        {"username": "alice", "email": "ALICE@example.com", "password1": "x", "password2": "y"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "A user with that username already exists." in content
    assert "An account with this e-mail address already exists." in content
    assert "The two password fields didn" in content
    assert get_user_model().objects.count() == 1


def test_closed_signup_shows_a_clear_page_and_creates_nobody(client, settings):
    settings.FACEFINDER_ALLOW_SIGNUP = False
    page = client.get(reverse("signup"))
    assert page.status_code == 403
    assert "Sign-up is closed" in page.content.decode()
    response = client.post(
        reverse("signup"),
        {
            "username": "mallory",
            "email": "m@example.com",
            "password1": "correct-horse-battery-9",
            "password2": "correct-horse-battery-9",
        },
    )
    assert response.status_code == 403
    assert not get_user_model().objects.filter(username="mallory").exists()
    # The login page stops offering it.
    assert reverse("signup") not in client.get(reverse("login")).content.decode()


def test_open_signup_is_offered_on_the_login_page(client, settings):
    settings.FACEFINDER_ALLOW_SIGNUP = True
    assert reverse("signup") in client.get(reverse("login")).content.decode()


def test_password_change_needs_login_and_works(client, user, password):
    url = reverse("password_change")
    assert client.get(url).status_code == 302
    client.force_login(user)
    response = client.post(
        url,
        {
            "old_password": password,
            "new_password1": "another-long-password-77",
            "new_password2": "another-long-password-77",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    assert client.get(response["Location"]).status_code == 200
    user.refresh_from_db()
    assert user.check_password("another-long-password-77")


def test_password_reset_mails_a_working_link(client, user, mailoutbox):
    user.email = "alice@example.com"
    user.save()
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["alice@example.com"]
    assert mail.subject == "Reset your Facefinder password"
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", mail.body).group(1)
    # The link leads to a form that sets a new password.
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "brand-new-password-55", "new_password2": "brand-new-password-55"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-password-55")


def test_password_reset_for_unknown_address_sends_nothing_and_reveals_nothing(client, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mailoutbox == []


def test_reset_link_with_a_bad_token_says_so(client, user):
    response = client.get("/accounts/reset/MQ/bad-token/", follow=True)
    assert response.status_code == 200
    assert "This link no longer works" in response.content.decode()


def test_console_mail_is_the_default(settings):
    from config import settings_base as project_settings

    assert project_settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend"
