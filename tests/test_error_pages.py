"""The error pages (400, 403, 404, 500, a form refused by the CSRF check) in the site's layout and
in the broker's language, each with a way back and nothing of the error itself; how notices name
their ids (`ids_summary`); the hint that ids not found may be another customer's.

Expected text is written out by hand, in English and in Swedish.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.template import Context, Template, loader
from django.test import Client
from django.urls import path
from django.utils import translation

from crmviewer.urls import urlpatterns as site_urlpatterns
from tests.dashboard_fixtures import cid, make_credential, missing_id

SECRET = "hunter2-internal-detail"  # what a failing view's exception says: never on a page


def _bad_request_view(request):
    raise SuspiciousOperation(f"suspicious: {SECRET}")


def _forbidden_view(request):
    raise PermissionDenied(f"denied: {SECRET}")


def _failing_view(request):
    raise RuntimeError(f"database password is {SECRET}")


# This module is the URLconf of the tests that need a view which fails (the `failing_urls`
# fixture): the site's routes, and three that raise.
urlpatterns = [
    path("test-errors/400/", _bad_request_view),
    path("test-errors/403/", _forbidden_view),
    path("test-errors/500/", _failing_view),
    *site_urlpatterns,
]
handler400 = "crmviewer.errors.bad_request"
handler403 = "crmviewer.errors.permission_denied"
handler404 = "crmviewer.errors.page_not_found"
handler500 = "crmviewer.errors.server_error"

LOGIN_LINK = '<a href="/accounts/login/">'
CONTACTS_LINK = '<a href="/contacts/">'

TEXTS = {
    "en": {
        "400": (
            "Bad request",
            "The request could not be understood. Check the address, or go back and try again.",
        ),
        "403": (
            "Access denied",
            "You do not have access to this page. Ask your administrator if you need it.",
        ),
        "404": (
            "Page not found",
            "There is no page at this address, or it is not open to you. Check the link.",
        ),
        "500": (
            "Server error",
            "Something went wrong on our side and the page could not be shown. Try again in a "
            "while; if it keeps happening, tell your administrator.",
        ),
        "csrf": (
            "The form has expired",
            "The form could not be sent: it was too old, or the page had been open too long. "
            "Reload the page and try again.",
        ),
        "to contacts": "Back to the contacts",
        "to login": "Back to the login page",
    },
    "sv": {
        "400": (
            "Felaktig förfrågan",
            "Förfrågan kunde inte tolkas. Kontrollera adressen, eller gå tillbaka och försök igen.",
        ),
        "403": (
            "Åtkomst nekad",
            "Du har inte tillgång till den här sidan. Fråga din administratör om du behöver den.",
        ),
        "404": (
            "Sidan hittades inte",
            "Det finns ingen sida på den här adressen, eller så är den inte öppen för dig. "
            "Kontrollera länken.",
        ),
        "500": (
            "Serverfel",
            "Något gick fel hos oss och sidan kunde inte visas. Försök igen om en stund; om det "
            "fortsätter, säg till din administratör.",
        ),
        "csrf": (
            "Formuläret har gått ut",
            "Formuläret kunde inte skickas: det var för gammalt, eller så hade sidan varit öppen "
            "för länge. Ladda om sidan och försök igen.",
        ),
        "to contacts": "Tillbaka till kontakterna",
        "to login": "Tillbaka till inloggningssidan",
    },
}


def text(response) -> str:
    return response.content.decode()


def client_for(language: str, *, by_cookie: bool = False, **options) -> Client:
    """A client asking for the language by Accept-Language, or by the language cookie."""
    if by_cookie:
        client = Client(**options)
        client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
        return client
    return Client(headers={"Accept-Language": language}, **options)


def assert_error_page(page: str, language: str, kind: str, *, way_back: str) -> None:
    """In the layout, in the language, with the heading and the explanation, and a way back."""
    heading, explanation = TEXTS[language][kind]
    assert f'<html lang="{language}">' in page
    assert '<header class="site-header">' in page and "css/app" in page  # the layout
    assert f"<title>{heading} · crmviewer</title>" in page
    assert f"<h1>{heading}</h1>" in page
    assert explanation in page
    link = LOGIN_LINK if way_back == "to login" else CONTACTS_LINK
    assert f"{link}{TEXTS[language][way_back]}</a>" in page
    assert SECRET not in page and "Traceback" not in page


@pytest.fixture
def failing_urls(settings):
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False


@pytest.fixture
def logged_in(broker):
    def make(language: str, **options) -> Client:
        client = client_for(language, **options)
        client.force_login(broker)
        return client

    return make


# --- 404 -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["sv", "en"])
def test_404_logged_out_offers_the_login_page(language):
    response = client_for(language).get("/no-such-page/", {"ids": "ADR0BEEF"})
    assert response.status_code == 404
    page = text(response)
    assert_error_page(page, language, "404", way_back="to login")
    # The query string is not echoed, not even in the language form's way back.
    assert '<input type="hidden" name="next" value="/no-such-page/">' in page
    assert "ADR0BEEF" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["sv", "en"])
def test_404_logged_in_leads_back_to_the_contacts_by_the_language_cookie(broker, language):
    client = client_for(language, by_cookie=True)
    client.force_login(broker)
    response = client.get("/contacts/no/such/page/")
    assert response.status_code == 404
    assert_error_page(text(response), language, "404", way_back="to contacts")


@pytest.mark.django_db
def test_404_of_another_brokers_customer_names_nothing(logged_in, credential, other_broker):
    make_credential(other_broker, customer_id="M1002")
    response = logged_in("en").get("/contacts/?customer=M1002")
    assert response.status_code == 404
    page = text(response)
    assert_error_page(page, "en", "404", way_back="to contacts")
    assert "No such customer" not in page  # the Http404's own words


# --- 400 -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["sv", "en"])
def test_400_page(failing_urls, language):
    response = client_for(language).get("/test-errors/400/")
    assert response.status_code == 400
    assert_error_page(text(response), language, "400", way_back="to login")


@pytest.mark.django_db
def test_400_for_a_host_not_allowed():
    response = client_for("en").get("/contacts/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    page = text(response)
    assert_error_page(page, "en", "400", way_back="to login")
    assert "evil.example" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "refused"),
    [
        ("en", "The request was refused: it holds control characters (such as NUL)"),
        ("sv", "Förfrågan avvisades: den innehåller styrtecken (till exempel NUL)"),
    ],
)
def test_control_characters_page_keeps_its_reason_in_the_400_layout(logged_in, language, refused):
    response = logged_in(language).get("/contacts/", {"ids": "ADR1\x00"})
    assert response.status_code == 400
    page = text(response)
    heading = TEXTS[language]["400"][0]
    assert f"<h1>{heading}</h1>" in page and '<header class="site-header">' in page
    assert f'<p class="notice error" role="alert">{refused}' in page
    assert TEXTS[language]["400"][1] not in page  # the reason replaces the general words
    assert f"{CONTACTS_LINK}{TEXTS[language]['to contacts']}</a>" in page


# --- 403 -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["sv", "en"])
def test_403_page(failing_urls, logged_in, language):
    response = logged_in(language).get("/test-errors/403/")
    assert response.status_code == 403
    assert_error_page(text(response), language, "403", way_back="to contacts")


# --- 500 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "by_cookie"), [("sv", False), ("en", False), ("en", True)])
def test_500_page_names_nothing_of_the_error_and_needs_no_database(
    failing_urls, language, by_cookie
):
    """No django_db mark: the page must render without the database."""
    client = client_for(language, by_cookie=by_cookie)
    client.raise_request_exception = False
    response = client.get("/test-errors/500/")
    assert response.status_code == 500
    page = text(response)
    assert_error_page(page, language, "500", way_back="to contacts")
    assert "RuntimeError" not in page and "password" not in page


def test_500_page_that_cannot_render_gives_way_to_a_bare_page(failing_urls, monkeypatch):
    def broken(name, *args, **kwargs):
        raise ValueError(f"Missing staticfiles manifest entry: {SECRET}")

    monkeypatch.setattr("crmviewer.errors.loader.get_template", broken)
    client = client_for("en")
    client.raise_request_exception = False
    response = client.get("/test-errors/500/")
    assert response.status_code == 500
    page = text(response)
    assert '<html lang="en">' in page and "<h1>Server error</h1>" in page
    assert TEXTS["en"]["500"][1] in page
    assert SECRET not in page and "manifest" not in page


def test_500_template_renders_with_an_empty_context():
    with translation.override("en"):
        page = loader.get_template("500.html").render()
    assert "<h1>Server error</h1>" in page
    assert f"{CONTACTS_LINK}Back to the contacts</a>" in page


# --- CSRF --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["sv", "en"])
def test_a_lookup_form_without_its_token_gets_the_expired_form_page(logged_in, language):
    client = logged_in(language, enforce_csrf_checks=True)
    response = client.post("/contacts/", {"credential": "1", "ids": "ADR1"})
    assert response.status_code == 403
    page = text(response)
    assert_error_page(page, language, "csrf", way_back="to contacts")
    assert "CSRF" not in page and "Referer" not in page  # Django's reason stays out


@pytest.mark.django_db
def test_a_login_form_without_its_token_leads_back_to_the_login_page():
    client = client_for("sv", by_cookie=True, enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "broker", "password": "x"})
    assert response.status_code == 403
    assert_error_page(text(response), "sv", "csrf", way_back="to login")


# --- ids_summary -------------------------------------------------------------------------------


def summary(ids, language: str = "en") -> str:
    with translation.override(language):
        return Template("{% load contact_ids %}{{ ids|ids_summary }}").render(Context({"ids": ids}))


def test_ids_summary_of_one_and_three_ids_is_the_list_itself():
    assert summary(["ADR1"]) == '<p class="ids">ADR1</p>'
    assert summary(("ADR1", "ADR2", "ADR3")) == '<p class="ids">ADR1, ADR2, ADR3</p>'
    assert summary([]) == ""


def test_ids_summary_of_four_ids_names_three_and_counts_one():
    assert summary(["ADR1", "ADR2", "ADR3", "ADR4"]) == (
        '<p><span class="ids">ADR1, ADR2, ADR3</span> and 1 more</p>'
        '<details class="ids-all"><summary>Show all 4 ids</summary>'
        '<p class="ids">ADR1, ADR2, ADR3, ADR4</p></details>'
    )


@pytest.mark.parametrize(
    ("language", "line", "all_ids"),
    [("en", "and 47 more", "Show all 50 ids"), ("sv", "och 47 till", "Visa alla 50 id:n")],
)
def test_ids_summary_of_50_ids_names_three_and_keeps_all_for_copying(language, line, all_ids):
    ids = [f"ADR{n}" for n in range(1, 51)]
    html = summary(ids, language)
    assert html.startswith(f'<p><span class="ids">ADR1, ADR2, ADR3</span> {line}</p>')
    details = re.fullmatch(r".*<details[^>]*><summary>(.*)</summary>(.*)</details>", html)
    assert details and details.group(1) == all_ids
    full = details.group(2)
    assert full.startswith('<p class="ids">ADR1, ADR2, ADR3, ADR4, ADR5, ')
    assert full.endswith(", ADR48, ADR49, ADR50</p>")
    assert full.count(", ") == 49


def test_ids_summary_escapes_the_ids():
    assert summary(["<b>x</b>"]) == '<p class="ids">&lt;b&gt;x&lt;/b&gt;</p>'


# --- The lookup page's not-found notice ---------------------------------------------------------


def lookup_page(client: Client, credential, ids) -> str:
    response = client.get("/contacts/", {"customer": credential.customer_id, "ids": ",".join(ids)})
    assert response.status_code == 200
    return text(response)


HINT_EN = (
    'These ids may belong to another customer: <a href="#id_customer">switch customer</a> and '
    "look them up again."
)


@pytest.mark.django_db
@pytest.mark.integration
def test_ids_not_found_with_two_customers_hint_at_the_other_one(broker, credential, logged_in):
    make_credential(broker, customer_id="M1002", label="Andra kontoret")
    theirs = [cid(1, "M1002"), cid(2, "M1002"), cid(3, "M1002"), missing_id(1)]
    page = lookup_page(logged_in("en"), credential, [cid(1), *theirs])
    assert "4 ids were not found in Vitec:" in page
    assert f'<span class="ids">{theirs[0]}, {theirs[1]}, {theirs[2]}</span> and 1 more' in page
    assert f'<p class="ids">{", ".join(theirs)}</p></details>' in page
    assert HINT_EN in page
    # Under the heading, above the lookup form.
    assert page.index("<h1>Contacts</h1>") < page.index(HINT_EN) < page.index("lookup-form")


@pytest.mark.django_db
@pytest.mark.integration
def test_one_id_not_found_with_two_customers_hints_in_the_singular(broker, credential, logged_in):
    make_credential(broker, customer_id="M1002")
    page = lookup_page(logged_in("sv"), credential, [cid(1, "M1002")])
    assert "1 id hittades inte i Vitec:" in page
    assert f'<p class="ids">{cid(1, "M1002")}</p>' in page
    assert (
        'Detta id kan höra till en annan kund: <a href="#id_customer">byt kund</a> och sök '
        "upp det igen."
    ) in page


@pytest.mark.django_db
@pytest.mark.integration
def test_ids_not_found_with_one_customer_give_no_hint(credential, logged_in):
    page = lookup_page(logged_in("en"), credential, [missing_id(1), missing_id(2)])
    assert "2 ids were not found in Vitec:" in page
    assert f'<p class="ids">{missing_id(1)}, {missing_id(2)}</p>' in page
    assert "another customer" not in page and "#id_customer" not in page


@pytest.mark.django_db
@pytest.mark.integration
def test_50_ids_not_found_are_summed_up_in_the_notice(credential, logged_in):
    missing = [missing_id(n) for n in range(1, 51)]
    page = lookup_page(logged_in("sv"), credential, missing)
    assert "50 id:n hittades inte i Vitec:" in page
    assert (
        f'<span class="ids">{missing_id(1)}, {missing_id(2)}, {missing_id(3)}</span> och 47 till'
    ) in page
    assert "<summary>Visa alla 50 id:n</summary>" in page
    assert f'<p class="ids">{", ".join(missing)}</p></details>' in page
