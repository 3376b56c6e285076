"""The admin for Vitec credentials: staff only, the password write-only, connection tests."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import ERROR, SUCCESS, get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contacts.models import VitecCredential
from tests.dashboard_fixtures import credential_form

pytestmark = pytest.mark.django_db

SECRET = "Hemligt lösenord 42 åäö!"
WRONG_PASSWORD = "not-the-demo-password-7731"
CHANGELIST = reverse("admin:contacts_viteccredential_changelist")
ADD = reverse("admin:contacts_viteccredential_add")
PASSWORD_INPUT = re.compile(r'<input[^>]*\bname="password"[^>]*>')


@pytest.fixture(autouse=True)
def _in_english(english_messages):
    """Every test here asserts English messages."""


@pytest.fixture
def vitec(settings, sandbox):
    """Vitec is the sandbox, and a failed call is not retried."""
    settings.VITEC_BASE_URL = sandbox.base_url
    settings.VITEC_MAX_RETRIES = 0
    settings.VITEC_TIMEOUT = 5.0
    return sandbox


@pytest.fixture
def anna(django_user_model):
    return django_user_model.objects.create_user(username="anna")


def make_credential(user, *, customer_id="M1001", api_username="demo", password=SECRET, **fields):
    credential = VitecCredential(
        user=user, customer_id=customer_id, api_username=api_username, **fields
    )
    credential.set_password(password)
    credential.save()
    return credential


def change_url(credential: VitecCredential) -> str:
    return reverse("admin:contacts_viteccredential_change", args=[credential.pk])


def connection_url(credential: VitecCredential) -> str:
    return reverse("admin:contacts_viteccredential_test_connection", args=[credential.pk])


def stored_token(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT password_encrypted FROM contacts_viteccredential WHERE id = %s", [pk]
        )
        return cursor.fetchone()[0]


def form_data(user, **overrides) -> dict[str, object]:
    return credential_form(user, password=overrides.pop("password", SECRET), **overrides)


def password_inputs(html: str) -> list[str]:
    return PASSWORD_INPUT.findall(html)


def messages_of(response) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in get_messages(response.wsgi_request)]


# --- who may enter --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "broker"])
@pytest.mark.parametrize("page", ["changelist", "add", "change", "test-connection"])
def test_only_staff_get_in(client, anna, who, page):
    credential = make_credential(anna)
    if who == "broker":
        client.force_login(anna)  # a user without is_staff
    url = {
        "changelist": CHANGELIST,
        "add": ADD,
        "change": change_url(credential),
        "test-connection": connection_url(credential),
    }[page]

    response = client.post(url) if page == "test-connection" else client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert VitecCredential.objects.get().last_error == ""  # nothing was tested


def test_the_changelist_lists_searches_and_shortens_errors(admin_client, anna, django_user_model):
    make_credential(anna, label="Kontoret i Solna", last_error="E" * 200)
    bertil = django_user_model.objects.create_user(username="bertil")
    make_credential(bertil, customer_id="M1002", label="Bertils kontor")

    everything = admin_client.get(CHANGELIST).content.decode()
    by_username = admin_client.get(CHANGELIST, {"q": "bertil"}).content.decode()
    by_customer = admin_client.get(CHANGELIST, {"q": "M1001"}).content.decode()

    assert "Kontoret i Solna" in everything and "Bertils kontor" in everything
    assert "E" * 59 + "…" in everything and "E" * 61 not in everything
    assert "Bertils kontor" in by_username and "Kontoret i Solna" not in by_username
    assert "Kontoret i Solna" in by_customer and "Bertils kontor" not in by_customer
    assert SECRET not in everything


# --- the password is write-only -------------------------------------------------------------------


def test_the_add_page_has_an_empty_required_password_input(admin_client):
    html = admin_client.get(ADD).content.decode()

    [password_input] = password_inputs(html)
    assert 'type="password"' in password_input
    assert "value=" not in password_input
    assert "required" in password_input
    assert "password_encrypted" not in html


def test_creating_stores_the_password_encrypted(admin_client, anna):
    response = admin_client.post(ADD, form_data(anna))

    assert response.status_code == 302, response.context["adminform"].form.errors
    credential = VitecCredential.objects.get()
    assert (credential.user, credential.customer_id, credential.label) == (
        anna,
        "M1001",
        "Kontoret",
    )
    assert credential.get_password() == SECRET
    assert SECRET not in stored_token(credential.pk)
    assert stored_token(credential.pk) == credential.password_encrypted


@pytest.mark.parametrize("password", [None, ""])
def test_creating_without_a_password_is_a_form_error(admin_client, anna, password):
    response = admin_client.post(ADD, form_data(anna, password=password))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["password"] == ["Enter the API password of the new credential."]
    assert "Enter the API password of the new credential." in response.content.decode()
    assert not VitecCredential.objects.exists()


@pytest.mark.parametrize("customer_id", ["m30011", "X1", "M", "M12a", "M-1"])
def test_a_bad_customer_id_is_shown_as_an_error(admin_client, anna, customer_id):
    response = admin_client.post(ADD, form_data(anna, customer_id=customer_id))

    assert response.status_code == 200
    assert "customer_id" in response.context["adminform"].form.errors
    assert "A customer id is a letter M, S, O, G or T" in response.content.decode()
    assert not VitecCredential.objects.exists()
    # A form shown again with errors does not echo the typed password either.
    assert SECRET not in response.content.decode()
    assert all("value=" not in tag for tag in password_inputs(response.content.decode()))


def test_a_second_credential_for_the_same_user_and_customer_is_a_form_error(admin_client, anna):
    make_credential(anna)
    response = admin_client.post(ADD, form_data(anna, password="another"))

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    assert VitecCredential.objects.count() == 1


def test_the_change_page_never_shows_the_password_or_the_token(admin_client, anna):
    credential = make_credential(anna, label="Kontoret")

    html = admin_client.get(change_url(credential)).content.decode()

    assert "Kontoret" in html  # it is the change page of that credential
    assert SECRET not in html
    assert credential.password_encrypted not in html
    assert credential.password_encrypted[:20] not in html
    [password_input] = password_inputs(html)
    assert "value=" not in password_input
    assert "required" not in password_input
    assert "Leave empty to keep the stored password" in html
    assert "password_encrypted" not in html


@pytest.mark.parametrize(
    ("new_password", "expected"), [("", SECRET), (None, SECRET), ("nytt lösen", "nytt lösen")]
)
def test_editing_keeps_or_replaces_the_password(admin_client, anna, new_password, expected):
    credential = make_credential(anna, label="Gammal")
    token = credential.password_encrypted

    response = admin_client.post(
        change_url(credential), form_data(anna, label="Ny", password=new_password)
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    credential.refresh_from_db()
    assert credential.label == "Ny"
    assert credential.get_password() == expected
    assert (credential.password_encrypted == token) is (expected == SECRET)


@pytest.mark.parametrize(
    ("changes", "still_verified"),
    [
        ({"label": "Ny"}, True),
        ({"password": "nytt lösen"}, False),
        ({"api_username": "other"}, False),
        ({"customer_id": "M1002"}, False),
    ],
)
def test_a_new_login_forgets_the_last_connection_test(admin_client, anna, changes, still_verified):
    verified_at = timezone.now()
    credential = make_credential(anna, last_verified_at=verified_at, last_error="old error")

    response = admin_client.post(
        change_url(credential), form_data(anna, **{"password": "", **changes})
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    credential.refresh_from_db()
    if still_verified:
        assert (credential.last_verified_at, credential.last_error) == (verified_at, "old error")
    else:
        assert (credential.last_verified_at, credential.last_error) == (None, "")


def test_read_only_fields_cannot_be_posted(admin_client, anna):
    credential = make_credential(anna)
    token = credential.password_encrypted

    admin_client.post(
        change_url(credential),
        form_data(
            anna,
            password="",
            password_encrypted="forged",
            last_error="forged",
            last_verified_at="2020-01-01 00:00",
        ),
    )

    credential.refresh_from_db()
    assert credential.password_encrypted == token
    assert credential.last_error == ""
    assert credential.last_verified_at is None


# --- actions --------------------------------------------------------------------------------------


def run_action(client, action: str, *credentials: VitecCredential):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [c.pk for c in credentials]}
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("customer_id", "password", "ok", "expected"),
    [
        ("M1001", "demo", True, "Connected: Vitec lists"),
        ("M1002", "demo", True, "Connected: Vitec lists"),
        ("M1001", WRONG_PASSWORD, False, "[401]"),
        ("M9999", "demo", False, "[403]"),
    ],
    ids=["right password", "second customer", "wrong password", "customer not in the account"],
)
def test_the_test_connection_action_reports_and_records(
    admin_client, anna, vitec, customer_id, password, ok, expected
):
    credential = make_credential(anna, customer_id=customer_id, password=password)

    response = run_action(admin_client, "action_test_connection", credential)

    assert response.status_code == 302
    [(level, text)] = messages_of(response)
    assert level == (SUCCESS if ok else ERROR)
    assert expected in text
    assert customer_id in text
    assert password not in text
    credential.refresh_from_db()
    if ok:
        assert credential.last_verified_at is not None
        assert credential.last_error == ""
    else:
        assert credential.last_verified_at is None
        assert expected in credential.last_error
        assert password not in credential.last_error
    [request] = [r for r in vitec.stats.requests if r.endpoint == "categories"]
    assert request.customer_id == customer_id
    page = admin_client.get(CHANGELIST).content.decode()
    assert WRONG_PASSWORD not in page


@pytest.mark.integration
def test_the_test_connection_action_reports_each_credential(
    admin_client, anna, django_user_model, vitec
):
    good = make_credential(anna, customer_id="M1001", password="demo", label="Bra")
    bertil = django_user_model.objects.create_user(username="bertil")
    bad = make_credential(bertil, customer_id="M1001", password=WRONG_PASSWORD, label="Dålig")

    response = run_action(admin_client, "action_test_connection", good, bad)

    reported = messages_of(response)
    assert sorted(level for level, _ in reported) == [SUCCESS, ERROR]
    assert any(level == SUCCESS and "anna / Bra (M1001)" in text for level, text in reported)
    assert any(level == ERROR and "bertil / Dålig (M1001)" in text for level, text in reported)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.last_verified_at is not None and good.last_error == ""
    assert bad.last_verified_at is None and "[401]" in bad.last_error


@pytest.mark.integration
def test_a_changed_password_takes_effect_at_the_next_test(admin_client, anna, vitec):
    credential = make_credential(anna, password=WRONG_PASSWORD)
    run_action(admin_client, "action_test_connection", credential)
    admin_client.post(change_url(credential), form_data(anna, api_username="demo", password="demo"))

    response = run_action(admin_client, "action_test_connection", credential)

    # Messages not yet shown pile up: the first test's error, the save, then this test.
    levels = [level for level, _ in messages_of(response)]
    assert levels == [ERROR, SUCCESS, SUCCESS]
    assert "Connected" in messages_of(response)[-1][1]
    credential.refresh_from_db()
    assert credential.last_error == ""
    assert credential.last_verified_at is not None


def test_an_undecryptable_password_is_reported_not_raised(admin_client, anna, vitec, settings):
    from cryptography.fernet import Fernet

    credential = make_credential(anna)
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]

    response = run_action(admin_client, "action_test_connection", credential)

    [(level, text)] = messages_of(response)
    assert level == ERROR
    assert "cannot be decrypted" in text
    assert vitec.stats.requests == []
    credential.refresh_from_db()
    assert "cannot be decrypted" in credential.last_error


def test_the_disable_action_disables_only_the_selected(admin_client, anna):
    chosen = make_credential(anna, customer_id="M1001")
    other = make_credential(anna, customer_id="M1002")

    response = run_action(admin_client, "action_disable", chosen)

    assert messages_of(response) == [(SUCCESS, "Disabled 1 credential.")]
    chosen.refresh_from_db()
    other.refresh_from_db()
    assert (chosen.is_active, other.is_active) == (False, True)
    assert chosen.get_password() == SECRET


def test_a_view_only_staff_user_cannot_run_the_actions(client, anna, django_user_model, vitec):
    viewer = django_user_model.objects.create_user(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_viteccredential"))
    client.force_login(viewer)
    credential = make_credential(anna)

    html = client.get(CHANGELIST).content.decode()
    run_action(client, "action_disable", credential)
    denied = client.post(connection_url(credential))
    change_page = client.get(change_url(credential)).content.decode()

    assert "action_disable" not in html and "action_test_connection" not in html
    credential.refresh_from_db()
    assert credential.is_active is True
    assert denied.status_code == 403
    assert connection_url(credential) not in change_page
    assert vitec.stats.requests == []
    assert SECRET not in change_page and credential.password_encrypted not in change_page


# --- the "Test connection" button on the change page ---------------------------------------------


@pytest.mark.integration
def test_the_test_connection_button_tests_and_comes_back(admin_client, anna, vitec):
    credential = make_credential(anna, password="demo")
    html = admin_client.get(change_url(credential)).content.decode()
    assert f'formaction="{connection_url(credential)}"' in html
    # Enter in a field submits the first submit button of the form: it must be Save.
    form = html[html.index('id="viteccredential_form"') :]
    first_submit = re.search(r'<(?:input|button)[^>]*type="submit"[^>]*>', form).group(0)
    assert 'name="_save"' in first_submit

    response = admin_client.post(connection_url(credential))

    assert response.status_code == 302
    assert response["Location"] == change_url(credential)
    [(level, text)] = messages_of(response)
    assert level == SUCCESS and "Connected" in text
    credential.refresh_from_db()
    assert credential.last_verified_at is not None


def test_the_test_connection_url_takes_only_post(admin_client, anna, vitec):
    credential = make_credential(anna, password="demo")

    response = admin_client.get(connection_url(credential))

    assert response.status_code == 405
    assert vitec.stats.requests == []


def test_the_test_connection_url_needs_the_csrf_token(admin_user, anna, vitec):
    credential = make_credential(anna, password="demo")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    without_token = client.post(connection_url(credential))

    assert without_token.status_code == 403
    assert vitec.stats.requests == []


def test_the_test_connection_url_of_a_missing_credential_redirects(admin_client, vitec):
    url = reverse("admin:contacts_viteccredential_test_connection", args=[999999])
    response = admin_client.post(url)

    assert response.status_code == 302
    assert vitec.stats.requests == []
