"""Password reset by e-mail: served only when EMAIL_URL configures mail, in the site's layout,
throttled per client and per address, and logging nothing that names the account."""

from __future__ import annotations

import io
import logging
import re
import smtplib
import time
from collections.abc import Iterator

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse

from crmviewer import accounts
from tests.test_settings import settings_for

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
RESET = reverse("password_reset")
DONE = reverse("password_reset_done")
COMPLETE = reverse("password_reset_complete")
ADDRESS = "lisa.larsson@example.se"
UNKNOWN = "ingen.alls@example.se"
NEW_PASSWORD = "Ny-lösen-för-Lisa-2026"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
LINK = re.compile(r"https?://[^/\s]+(/accounts/reset/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/)")


@pytest.fixture(autouse=True)
def _in_english(english_messages):
    """Every test here asserts English messages."""


@pytest.fixture
def mail_on(settings):
    """What EMAIL_URL sets: password reset served, a default mailer (local memory in tests)."""
    settings.PASSWORD_RESET_ENABLED = True
    settings.MAILERS = {"default": {"BACKEND": LOCMEM}}
    return settings


@pytest.fixture
def mail_off(settings):
    settings.PASSWORD_RESET_ENABLED = False
    return settings


@pytest.fixture
def lisa(django_user_model):
    return django_user_model.objects.create_user(
        username="lisa", email=ADDRESS, password="Gammalt-lösen-2025"
    )


def ask(address: str, *, client_address: str = "10.1.2.3"):
    return Client(REMOTE_ADDR=client_address).post(RESET, {"email": address})


def the_link(message) -> re.Match[str]:
    match = LINK.search(message.body)
    assert match, message.body
    return match


# --- served only with e-mail configured ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [RESET, DONE, "/accounts/reset/MQ/set-password/", "/accounts/reset/MQ/abc-def/", COMPLETE],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_without_email_every_reset_page_is_a_404(client, mail_off, lisa, mailoutbox, url, method):
    response = getattr(client, method)(url, {"email": ADDRESS} if method == "post" else {})

    assert response.status_code == 404
    assert mailoutbox == []


def test_the_login_page_links_to_reset_only_when_it_is_served(client, settings):
    settings.PASSWORD_RESET_ENABLED = False
    without = client.get(LOGIN).content.decode()
    settings.PASSWORD_RESET_ENABLED = True
    with_mail = client.get(LOGIN).content.decode()

    assert RESET not in without
    assert f'href="{RESET}"' in with_mail and "Forgotten your password?" in with_mail


@pytest.mark.parametrize(
    ("email_url", "enabled", "mailers"),
    [
        (None, False, None),
        (
            "smtp+tls://mailer:p%40ss@mail.example.se:587",
            True,
            {
                "default": {
                    "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                    "OPTIONS": {
                        "host": "mail.example.se",
                        "port": 587,
                        "username": "mailer",
                        "password": "p@ss",
                        "use_tls": True,
                        "use_ssl": False,
                        "timeout": 10,
                    },
                }
            },
        ),
        (
            "consolemail://",
            True,
            {
                "default": {
                    "BACKEND": "django.core.mail.backends.console.EmailBackend",
                    "OPTIONS": {},
                }
            },
        ),
    ],
    ids=["no EMAIL_URL", "smtp+tls", "console"],
)
def test_email_url_configures_the_mailer_and_the_reset_pages(email_url, enabled, mailers):
    env = {"DEBUG": "1", "DEFAULT_FROM_EMAIL": "crm@example.se"}
    if email_url is not None:
        env["EMAIL_URL"] = email_url
    settings = settings_for(env)
    assert settings["PASSWORD_RESET_ENABLED"] is enabled
    assert settings.get("MAILERS") == mailers  # without EMAIL_URL, not set at all
    assert settings["DEFAULT_FROM_EMAIL"] == "crm@example.se"
    # Django 6.1's MAILERS, never the deprecated EMAIL_* settings django-environ's URL parser fills.
    assert not [name for name in settings if name.startswith("EMAIL_")]


# --- a reset that works, in the site's own pages -------------------------------------------------


def test_a_reset_mails_a_link_that_sets_a_new_password(mail_on, lisa, mailoutbox):
    client = Client()
    form = client.get(RESET)
    assert form.status_code == 200
    assert 'class="site-header"' in form.content.decode()  # base.html, not the admin's layout
    assert "admin/css" not in form.content.decode()

    sent = client.post(RESET, {"email": ADDRESS})

    assert (sent.status_code, sent["Location"]) == (302, DONE)
    [message] = mailoutbox
    assert message.to == [ADDRESS]
    link = the_link(message).group(1)
    opened = client.get(link)
    assert opened.status_code == 302  # to .../set-password/, the token moved into the session
    page = client.get(opened["Location"])
    assert "New password again" in page.content.decode()
    changed = client.post(
        opened["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert (changed.status_code, changed["Location"]) == (302, COMPLETE)
    assert client.get(COMPLETE).status_code == 200
    lisa.refresh_from_db()
    assert lisa.check_password(NEW_PASSWORD)


def test_an_unknown_address_gets_the_same_answer_and_no_mail(mail_on, lisa, mailoutbox):
    known, unknown = ask(ADDRESS), ask(UNKNOWN, client_address="10.9.9.9")

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert [m.to for m in mailoutbox] == [[ADDRESS]]


# --- throttled ------------------------------------------------------------------------------------


def test_one_client_may_ask_five_times_an_hour_then_gets_a_429(mail_on, lisa, mailoutbox):
    answers = [ask(f"person{n}@example.se").status_code for n in range(5)]
    throttled = ask(ADDRESS)  # even for an address that has an account
    elsewhere = ask(ADDRESS, client_address="10.7.7.7")

    assert answers == [302] * 5
    assert throttled.status_code == 429
    assert "Too many password resets were asked for from your address" in throttled.content.decode()
    assert 'class="site-header"' in throttled.content.decode()
    assert elsewhere.status_code == 302
    assert [m.to for m in mailoutbox] == [[ADDRESS]]  # only the one from the other client


@pytest.mark.parametrize("address", [ADDRESS, UNKNOWN])
def test_one_address_gets_at_most_three_mails_an_hour_and_the_answer_never_changes(
    mail_on, lisa, mailoutbox, address
):
    # From four different clients, so that only the per-address limit can apply.
    answers = [ask(address, client_address=f"10.0.0.{n}") for n in range(1, 5)]

    assert [(a.status_code, a["Location"]) for a in answers] == [(302, DONE)] * 4
    assert len(mailoutbox) == (3 if address == ADDRESS else 0)
    assert ask(address.upper(), client_address="10.0.0.9")["Location"] == DONE
    assert len(mailoutbox) == (3 if address == ADDRESS else 0)  # the case does not matter


def test_the_limits_reset_after_the_window(mail_on, lisa, mailoutbox, monkeypatch):
    monkeypatch.setattr(accounts, "RESET_WINDOW_SECONDS", 1)
    for _ in range(5):
        ask(UNKNOWN)
    assert ask(UNKNOWN).status_code == 429

    time.sleep(1.2)

    assert ask(ADDRESS).status_code == 302
    assert len(mailoutbox) == 1


# --- nothing logged names the account -------------------------------------------------------------


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses the recipient, naming it in the error, as SMTP servers do."""

    def send_messages(self, messages):
        recipient = messages[0].to[0]
        raise smtplib.SMTPRecipientsRefused({recipient: (550, f"no mailbox {recipient}".encode())})


@pytest.fixture
def everything_logged(caplog) -> Iterator[tuple[pytest.LogCaptureFixture, io.StringIO]]:
    """Every record at every level, and what the configured console handler writes."""
    caplog.set_level(logging.DEBUG)
    handler = logging.getHandlerByName("console")
    stream = io.StringIO()
    old_stream, old_level = handler.setStream(stream), handler.level
    handler.setLevel(logging.DEBUG)
    yield caplog, stream
    handler.setStream(old_stream)
    handler.setLevel(old_level)


def test_nothing_logged_names_the_account_or_whether_the_address_matched(
    mail_on, lisa, mailoutbox, everything_logged
):
    caplog, console = everything_logged
    client = Client()
    client.post(RESET, {"email": ADDRESS})
    client.post(RESET, {"email": UNKNOWN})
    link = the_link(mailoutbox[0])
    opened = client.get(link.group(1))
    client.post(opened["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    mail_on.MAILERS = {"default": {"BACKEND": f"{__name__}.RefusingBackend"}}
    failed = client.post(RESET, {"email": ADDRESS})

    assert (failed.status_code, failed["Location"]) == (302, DONE)  # the same answer
    logged = caplog.text + console.getvalue()
    assert "Could not send a password reset e-mail (SMTPRecipientsRefused)" in logged
    assert "/accounts/reset/<uidb64>/<token>/" in logged  # the link's request line, its route
    for revealing in (
        ADDRESS,
        ADDRESS.split("@")[0],
        UNKNOWN,
        "lisa",
        link["uid"],
        link["token"],
        f"email to {lisa.pk}",
    ):
        assert revealing not in logged, revealing
