"""Accounts: sign up (waiting for approval, open or closed by a setting), log in, log out (POST
only), passwords; throttled logins, sign-ups and password resets, and what happens when the
counters' cache is down."""

from __future__ import annotations

import os
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import PendingAccount

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


def test_open_signup_creates_an_account_and_logs_in(client, settings):
    settings.FACEFINDER_SIGNUP = "open"
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


# --- Sign-up waits for approval by default ----------------------------------------------------

NEW_ACCOUNT = {
    "username": "carol",
    "email": "carol@example.com",
    "password1": "correct-horse-battery-9",
    "password2": "correct-horse-battery-9",
}


def test_by_default_a_new_account_waits_for_approval(client, settings):
    assert settings.FACEFINDER_SIGNUP == "approval"
    assert "A staff member approves new accounts" in client.get(reverse("signup")).content.decode()
    response = client.post(reverse("signup"), NEW_ACCOUNT, follow=True)
    assert response.redirect_chain[-1][0] == reverse("signup-pending")
    assert "Your account awaits approval" in response.content.decode()
    carol = get_user_model().objects.get(username="carol")
    assert not carol.is_active
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("movies:list")).status_code == 302  # not logged in

    # The right password says why the login does not work yet; a wrong one says nothing more.
    page = client.post(
        reverse("login"), {"username": "carol", "password": "correct-horse-battery-9"}
    )
    assert "awaits a staff member&#x27;s approval" in page.content.decode()
    page = client.post(reverse("login"), {"username": "carol", "password": "wrong-password-1"})
    assert "approval" not in page.content.decode()
    assert "Please enter a correct username and password" in page.content.decode()


def test_staff_approve_waiting_accounts_in_the_admin(staff_client):
    client = Client()  # the visitor; staff_client is the staff member's browser
    client.post(reverse("signup"), NEW_ACCOUNT)
    waiting = reverse("admin:accounts_pendingaccount_changelist")
    page = staff_client.get(waiting).content.decode()
    assert "carol" in page and "carol@example.com" in page
    carol = PendingAccount.objects.get(username="carol")
    response = staff_client.post(
        waiting, {"action": "approve_accounts", "_selected_action": [carol.pk]}, follow=True
    )
    assert "Approved 1 account: they can log in now." in response.content.decode()
    assert get_user_model().objects.get(username="carol").is_active
    assert not PendingAccount.objects.exists()
    response = client.post(
        reverse("login"), {"username": "carol", "password": "correct-horse-battery-9"}
    )
    assert response.status_code == 302
    assert client.get(reverse("movies:list")).status_code == 200


def test_a_deactivated_account_is_not_listed_as_awaiting_approval(user, client, password):
    client.post(reverse("login"), {"username": "alice", "password": password})
    user.refresh_from_db()
    user.is_active = False
    user.save()
    assert not PendingAccount.objects.exists()


def test_approving_needs_the_permission_to_change_users(client, django_user_model, password):
    client.post(reverse("signup"), NEW_ACCOUNT)
    viewer = django_user_model.objects.create_user("viewer", password=password, is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_user"))
    client.force_login(viewer)
    waiting = reverse("admin:accounts_pendingaccount_changelist")
    page = client.get(waiting).content.decode()
    assert "carol" in page and "approve_accounts" not in page
    carol = PendingAccount.objects.get(username="carol")
    client.post(waiting, {"action": "approve_accounts", "_selected_action": [carol.pk]})
    assert not get_user_model().objects.get(username="carol").is_active


@pytest.mark.parametrize(
    "setting", [{"FACEFINDER_SIGNUP": "closed"}, {"FACEFINDER_ALLOW_SIGNUP": False}]
)
def test_either_setting_closes_sign_up(client, settings, setting):
    for name, value in setting.items():
        setattr(settings, name, value)
    assert client.post(reverse("signup"), NEW_ACCOUNT).status_code == 403
    assert not get_user_model().objects.filter(username="carol").exists()


def test_an_overlong_username_or_address_is_a_form_error(client):
    response = client.post(
        reverse("signup"),
        {**NEW_ACCOUNT, "username": "u" * 151, "email": "e" * 250 + "@example.com"},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "Ensure this value has at most 150 characters" in content
    assert "Ensure this value has at most 254 characters" in content
    assert not get_user_model().objects.exists()


# --- Throttling -------------------------------------------------------------------------------


def log_in(client, username: str, password: str, address: str = "203.0.113.7", url=None):
    return client.post(
        url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_repeated_wrong_passwords_lock_the_account_out_from_that_address(
    client, user, password, settings
):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        assert log_in(client, "alice", "wrong").status_code == 200  # the form, with its error
    refused = log_in(client, "alice", "wrong")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "900"
    content = refused.content.decode()
    assert "Too many failed log-ins for this account from your address" in content
    assert "Try again in 15 minutes" in content
    # The right password does not help now; the same account elsewhere is not locked out.
    assert log_in(client, "alice", password).status_code == 429
    assert "_auth_user_id" not in client.session
    assert log_in(client, "alice", password, address="198.51.100.9").status_code == 302


def test_the_admin_login_is_throttled_too(client, staff_user, password):
    url = reverse("admin:login")
    for _ in range(4):
        assert log_in(client, "staff", "wrong", url=url).status_code == 200
    assert log_in(client, "staff", "wrong", url=url).status_code == 429
    assert log_in(client, "staff", password, url=url).status_code == 429


def test_a_successful_login_clears_the_failures(client, user, password):
    for _ in range(4):
        log_in(client, "alice", "wrong")
    assert log_in(client, "alice", password).status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        assert log_in(client, "alice", "wrong").status_code == 200


@pytest.fixture
def throttle_cache_down(settings):
    """The throttle cache on a Redis port where nothing listens."""
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5},
        },
    }


def test_with_the_cache_down_logins_are_refused_with_a_clear_page(
    client, user, password, throttle_cache_down
):
    for url in (reverse("login"), reverse("admin:login")):
        response = log_in(client, "alice", password, url=url)
        assert response.status_code == 503
        assert "Logging in is unavailable for a moment" in response.content.decode()
        assert response["Retry-After"] == "60"
        assert "_auth_user_id" not in client.session


def test_with_the_cache_down_sign_ups_and_resets_are_refused(client, throttle_cache_down):
    response = client.post(reverse("signup"), NEW_ACCOUNT)
    assert response.status_code == 503
    assert "Signing up is unavailable for a moment" in response.content.decode()
    assert not get_user_model().objects.exists()
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 503


def test_the_login_counters_work_on_a_real_redis(client, user, password, settings):
    base = re.sub(r"/\d*$", "", settings.REDIS_URL)
    database = os.environ.get("FACEFINDER_TEST_REDIS_DB", "15")
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"{base}/{database}",
            "KEY_PREFIX": "facefinder-throttle-test",
        },
    }
    from django.core.cache import caches

    caches["throttle"].clear()
    try:
        for _ in range(4):
            assert log_in(client, "alice", "wrong").status_code == 200
        assert log_in(client, "alice", "wrong").status_code == 429
    finally:
        caches["throttle"].clear()


def test_sign_ups_are_limited_per_address(client, settings):
    settings.FACEFINDER_SIGNUPS_PER_HOUR = 2
    for number in range(2):
        account = {**NEW_ACCOUNT, "username": f"user{number}", "email": f"u{number}@example.com"}
        assert client.post(reverse("signup"), account).status_code == 302
    refused = client.post(reverse("signup"), NEW_ACCOUNT)
    assert refused.status_code == 429
    assert "Too many sign-ups from your address" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert not get_user_model().objects.filter(username="carol").exists()
    other = client.post(reverse("signup"), NEW_ACCOUNT, REMOTE_ADDR="198.51.100.9")
    assert other.status_code == 302


def test_password_resets_are_limited_per_address_and_per_mailbox(
    client, user, settings, mailoutbox
):
    settings.FACEFINDER_PASSWORD_RESETS_PER_HOUR = 1
    user.email = "alice@example.com"
    user.save()
    reset = reverse("password_reset")
    assert (
        client.post(reset, {"email": "alice@example.com"}, REMOTE_ADDR="192.0.2.1").status_code
        == 302
    )
    # The same mailbox from another address, and another mailbox from the same address.
    assert (
        client.post(reset, {"email": "ALICE@example.com"}, REMOTE_ADDR="192.0.2.2").status_code
        == 429
    )
    assert (
        client.post(reset, {"email": "bob@example.com"}, REMOTE_ADDR="192.0.2.1").status_code == 429
    )
    assert len(mailoutbox) == 1


@pytest.mark.parametrize(
    "proxies, forwarded, expected",
    [
        (0, "198.51.100.1", "192.0.2.10"),  # no proxy: the connection's address, header ignored
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "203.0.113.66, 198.51.100.1", "198.51.100.1"),  # the client's own claim is ignored
        (2, "203.0.113.66, 198.51.100.1, 10.0.0.2", "198.51.100.1"),
        (2, "198.51.100.1", "192.0.2.10"),  # fewer entries than proxies: not to be trusted
    ],
)
def test_the_client_address_counts_only_the_proxies_in_front(
    settings, proxies, forwarded, expected
):
    from django.test import RequestFactory

    from config.throttle import client_ip

    settings.FACEFINDER_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
