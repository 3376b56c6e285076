"""The admin for Vitec credentials: staff only, the password write-only, connection tests."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import ERROR, SUCCESS, get_messages
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from contacts.models import AuditEvent, RegisterSync, VitecCredential
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


# --- no list filter reaches a secret --------------------------------------------------------------


AUDIT_CHANGELIST = reverse("admin:contacts_auditevent_changelist")
USER_CHANGELIST = reverse("admin:auth_user_changelist")


@pytest.fixture
def viewer(client, django_user_model):
    """A staff user who may only view credentials, audit events and users; logged in."""
    user = django_user_model.objects.create_user(username="viewer", is_staff=True)
    for codename in ("view_viteccredential", "view_auditevent", "view_user"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return user


def _probes(credential: VitecCredential) -> dict[str, tuple[str, str, str]]:
    """Filters that would read a secret a prefix at a time: (changelist, lookup, real prefix)."""
    token = stored_token(credential.pk)
    password_hash = credential.user.password
    return {
        "credential token": (CHANGELIST, "password_encrypted__startswith", token[:12]),
        "credential token, transformed": (CHANGELIST, "password_encrypted__lower__startswith", ""),
        "owner's password hash": (CHANGELIST, "user__password__startswith", password_hash[:4]),
        "audit: credential token": (
            AUDIT_CHANGELIST,
            "credential__password_encrypted__startswith",
            token[:12],
        ),
        "audit: user's password hash": (
            AUDIT_CHANGELIST,
            "user__password__startswith",
            password_hash[:4],
        ),
        "user's password hash": (USER_CHANGELIST, "password__startswith", password_hash[:4]),
        "user's credential token": (
            USER_CHANGELIST,
            "vitec_credentials__password_encrypted__startswith",
            token[:12],
        ),
    }


PROBES = [
    "credential token",
    "credential token, transformed",
    "owner's password hash",
    "audit: credential token",
    "audit: user's password hash",
    "user's password hash",
    "user's credential token",
]


@pytest.mark.parametrize("probe", PROBES)
def test_a_view_only_staff_user_cannot_filter_by_a_secret(client, viewer, anna, probe):
    credential = make_credential(anna, label="Annas kontor")
    # An event that names the credential and its owner: a filter that worked would list it.
    event = AuditEvent.objects.create(
        action=AuditEvent.Action.CREDENTIAL_CREATED, user=anna, credential=credential
    )
    url, lookup, prefix = _probes(credential)[probe]
    token = credential.password_encrypted

    response = client.get(url, {lookup: prefix})

    assert response.status_code == 400  # Django's answer to a disallowed lookup, not a list
    page = response.content.decode()
    assert "Annas kontor" not in page and "anna" not in page
    assert token not in page and anna.password not in page
    assert AuditEvent.objects.filter(pk=event.pk).exists()  # the 400 is not an empty list


def test_ordinary_filters_still_work(client, viewer, anna, django_user_model):
    make_credential(anna, label="Annas kontor")
    make_credential(
        django_user_model.objects.create_user(username="bertil"), label="Bertils kontor"
    )

    by_user = client.get(CHANGELIST, {"user__id__exact": anna.pk})
    by_active = client.get(CHANGELIST, {"is_active__exact": "1"})
    users = client.get(USER_CHANGELIST, {"is_staff__exact": "0"})

    assert [by_user.status_code, by_active.status_code, users.status_code] == [200, 200, 200]
    assert "Annas kontor" in by_user.content.decode()
    assert "Bertils kontor" not in by_user.content.decode()
    assert "Bertils kontor" in by_active.content.decode()
    assert "bertil" in users.content.decode()


def test_searching_and_sorting_cannot_reach_a_secret(client, viewer, anna, django_user_model):
    """Regression guard (this held before the lookup fix too): `?q=` searches only
    search_fields and `?o=` takes only column numbers, and no admin names a secret in either."""
    from django.contrib import admin as django_admin

    from contacts.admin import lookup_reaches_secret

    for model, model_admin in django_admin.site._registry.items():
        request = RequestFactory().get("/")
        request.user = viewer
        names = [
            *model_admin.get_search_fields(request),
            *(n for n in model_admin.get_list_display(request) if isinstance(n, str)),
            *(f for f in model_admin.get_list_filter(request) if isinstance(f, str)),
            *(o.lstrip("-") for o in model_admin.get_ordering(request) if isinstance(o, str)),
            *(s for s in model_admin.get_sortable_by(request) if isinstance(s, str)),
        ]
        assert not [n for n in names if lookup_reaches_secret(model, n)], model
    first = make_credential(anna, customer_id="M1001", label="Första")
    second = make_credential(anna, customer_id="M1002", label="Andra")

    searched = client.get(CHANGELIST, {"q": stored_token(first.pk)[:12]})
    ordered = [
        client.get(CHANGELIST, {"o": order}).content.decode()
        for order in ("password_encrypted", "-password_encrypted")
    ]

    assert searched.status_code == 200 and "Första" not in searched.content.decode()
    # Sorted by the token, one of the two orders would be the other reversed.
    first_is_first = [page.index("Första") < page.index("Andra") for page in ordered]
    assert first_is_first[0] == first_is_first[1]
    assert second.pk


@pytest.mark.parametrize(
    ("lookup", "secret"),
    [
        ("password_encrypted", True),
        ("password_encrypted__startswith", True),
        ("password_encrypted__lower__startswith", True),
        ("user__password__startswith", True),
        ("user__vitec_credentials__password_encrypted", True),
        ("audit_events__user__password", True),
        ("label__startswith", False),
        ("user__username__startswith", False),
        ("user__id__exact", False),
        ("no_such_field", False),
    ],
)
def test_which_lookups_reach_a_secret(lookup, secret):
    from contacts.admin import lookup_reaches_secret

    assert lookup_reaches_secret(VitecCredential, lookup) is secret


# --- every deleted credential is recorded, once, whoever deletes it -------------------------------


def deleted_events() -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(action=AuditEvent.Action.CREDENTIAL_DELETED).order_by("pk")
    )


@pytest.fixture
def annas_two(anna) -> list[VitecCredential]:
    return [
        make_credential(anna, customer_id="M1001", label="Solna"),
        make_credential(anna, customer_id="M1002", label="Sundbyberg"),
    ]


def test_deleting_a_user_in_the_admin_records_each_credential_once(
    admin_client, admin_user, anna, annas_two
):
    url = reverse("admin:auth_user_delete", args=[anna.pk])

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not VitecCredential.objects.exists()
    events = deleted_events()
    assert [(e.customer_id, e.details["label"]) for e in events] == [
        ("M1001", "Solna"),
        ("M1002", "Sundbyberg"),
    ]
    for event in events:
        assert (event.user, event.username, event.ip_address) == (
            admin_user,
            admin_user.username,
            "127.0.0.1",
        )
        assert event.credential is None  # the row is gone; its customer id stays
        assert event.details["owner"] == "anna"
        assert event.details["deleted_with"] == "auth.user"


def test_deleting_users_with_the_admins_bulk_action_records_each_credential_once(
    admin_client, admin_user, anna, annas_two, django_user_model
):
    bertil = django_user_model.objects.create_user(username="bertil")
    make_credential(bertil, customer_id="M1001", label="Bertils")

    admin_client.post(
        USER_CHANGELIST,
        {"action": "delete_selected", "_selected_action": [anna.pk, bertil.pk], "post": "yes"},
    )

    events = deleted_events()
    assert sorted((e.details["owner"], e.customer_id) for e in events) == [
        ("anna", "M1001"),
        ("anna", "M1002"),
        ("bertil", "M1001"),
    ]
    assert {e.user for e in events} == {admin_user}


@pytest.mark.parametrize(
    "delete",
    [
        lambda user: user.delete(),
        lambda user: type(user).objects.filter(pk=user.pk).delete(),
    ],
    ids=["user.delete()", "User.objects.filter().delete()"],
)
def test_deleting_a_user_outside_a_request_records_each_credential_once(anna, annas_two, delete):
    delete(anna)

    events = deleted_events()
    assert [(e.customer_id, e.details["owner"]) for e in events] == [
        ("M1001", "anna"),
        ("M1002", "anna"),
    ]
    for event in events:
        assert (event.user, event.username, event.ip_address) == (None, "", None)  # no actor
        assert event.details["deleted_with"] == "auth.user"


def test_deleting_credentials_in_the_shell_records_each_once(anna, annas_two):
    annas_two[0].delete()
    VitecCredential.objects.all().delete()

    events = deleted_events()
    assert [(e.customer_id, e.details["owner"], e.user) for e in events] == [
        ("M1001", "anna", None),
        ("M1002", "anna", None),
    ]
    assert all("deleted_with" not in e.details for e in events)


@pytest.mark.parametrize("how", ["delete page", "bulk action"])
def test_deleting_a_credential_in_the_admin_records_it_once(
    admin_client, admin_user, anna, annas_two, how
):
    solna = annas_two[0]
    if how == "delete page":
        admin_client.post(
            reverse("admin:contacts_viteccredential_delete", args=[solna.pk]), {"post": "yes"}
        )
    else:
        admin_client.post(
            CHANGELIST,
            {"action": "delete_selected", "_selected_action": [solna.pk], "post": "yes"},
        )

    [event] = deleted_events()
    assert (event.customer_id, event.user, event.details["owner"]) == ("M1001", admin_user, "anna")
    assert "deleted_with" not in event.details


# --- moving a credential to another user ----------------------------------------------------------


def test_moving_a_credential_to_another_user_records_both_owners(
    admin_client, admin_user, anna, django_user_model
):
    bertil = django_user_model.objects.create_user(username="bertil")
    credential = make_credential(anna, label="Kontoret")

    response = admin_client.post(change_url(credential), form_data(bertil, password=""))

    assert response.status_code == 302, response.context["adminform"].form.errors
    credential.refresh_from_db()
    assert credential.user == bertil
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.CREDENTIAL_CHANGED)
    assert event.details == {
        "changed_fields": ["user"],
        "owner": "bertil",
        "previous_owner": "anna",
    }
    assert event.user == admin_user


def test_a_change_that_keeps_the_owner_names_one_owner(admin_client, anna):
    credential = make_credential(anna, label="Kontoret")

    admin_client.post(change_url(credential), form_data(anna, label="Nytt namn", password=""))

    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.CREDENTIAL_CHANGED)
    assert event.details == {"changed_fields": ["label"], "owner": "anna"}


# --- the admin in Swedish -------------------------------------------------------------------------

# What an administrator reads on each admin page of the contacts app, written out by hand in both
# languages: (Swedish, English). The English side was on these pages in Swedish mode before the
# strings were translated; it is checked to be on the English page so the list stays real.
ADMIN_PAGE_STRINGS: dict[str, list[tuple[str, str]]] = {
    "credentials": [
        ("Välj Vitec-inloggningsuppgift att ändra", "Select Vitec credential to change"),
        ("Lägg till Vitec-inloggningsuppgift", "Add Vitec credential"),
        ("- Välj ett alternativ -", "- Select an option -"),
        ("Inaktivera valda inloggningsuppgifter", "Disable selected credentials"),
        (">Testa anslutningen<", ">Test connection<"),
        ("På aktiv", "By active"),
        ("På Vitecs svar", "By Vitec's answer"),
        ("På användare", "By user"),
        ("Inte prövat än", "Not tried yet"),
        ("Godkänt av Vitec", "Accepted by Vitec"),
        ("Nekat av Vitec", "Refused by Vitec"),
        ("Benämning", "Label"),
        ("Kund-id", "Customer id"),
        ("API-användarnamn", "API user name"),
        ("Senast verifierad", "Last verified"),
        ("Senaste fel", "Last error"),
        ("Sök efter Vitec-inloggningsuppgifter", "Search Vitec credentials"),
    ],
    "credential": [
        ("Ändra Vitec-inloggningsuppgift", "Change Vitec credential"),
        ("- Välj ett alternativ -", "- Select an option -"),
        ("API-lösenord", "API password"),
        (
            "Lämna tomt för att behålla det sparade lösenordet. Det sparade lösenordet visas "
            "aldrig.",
            "Leave empty to keep the stored password. The stored password is never shown.",
        ),
        ("Anslutning:", "Connection:"),
        (">Testa anslutningen<", ">Test connection<"),
        (
            "Testar de sparade uppgifterna. Ändringar på sidan som inte sparats sparas inte.",
            "Tests the stored credential. Unsaved changes on this page are not saved.",
        ),
        ("Vitecs svar:", "Vitec's answer:"),
        ("Inte prövat än", "Not tried yet"),
        ("Besvarat:", "Answered:"),
        ("Senast verifierad:", "Last verified:"),
        ("Senaste fel:", "Last error:"),
        ("Skapad:", "Created:"),
        ("Uppdaterad:", "Updated:"),
    ],
    "new credential": [
        ("Lägg till Vitec-inloggningsuppgift", "Add Vitec credential"),
        ("API-lösenord", "API password"),
        ("Sparas krypterat. Det visas aldrig igen.", "Stored encrypted. It is never shown again."),
        ("Aktiv", "Active"),
    ],
    "audit events": [
        ("Välj logghändelse för visning", "Select audit event to view"),
        ("Filtrera efter tid", "Filter by time"),
        ("På händelse", "By action"),
        ("På kund-id", "By customer id"),
        ("Personnummer visat", "Personnummer revealed"),
        ("Inloggningsuppgift inaktiverad", "Credential disabled"),
        ("Synk av registret begärd", "Register sync asked for"),
        ("Misslyckad inloggning", "Failed login"),
        ("Användarnamn", "User name"),
        ("Kontakt-id:n", "Contact ids"),
        ("a, b, c (+2 till)", "a, b, c (+2 more)"),
        ("Rader", "Rows"),
    ],
    "audit event": [
        ("Visa logghändelse", "View audit event"),
        ("Tid:", "Time:"),
        ("Händelse:", "Action:"),
        (">Sökning<", ">Lookup<"),
        ("IP-adress:", "IP address:"),
        ("Vitec-inloggningsuppgift:", "Vitec credential:"),
        ("Kontakt-id:n:", "Contact ids:"),
        ("Detaljer:", "Details:"),
    ],
    "register syncs": [
        ("Välj registersynk för visning", "Select register sync to view"),
        ("- Välj ett alternativ -", "- Select an option -"),
        ("Synka valda register med Vitec nu", "Sync the selected registers with Vitec now"),
        ("Aldrig synkat", "Never synced"),
        ("Först komplett", "First complete"),
        ("Listade kontakter", "Contacts listed"),
        ("Hämtade", "Fetched"),
        ("Ändrade", "Changed"),
        ("Borttagna", "Deleted"),
        ("Misslyckade id:n", "Failed ids"),
        ("Senaste fel", "Last error"),
    ],
    "register sync": [
        ("Visa registersynk", "View register sync"),
        ("M1001: Misslyckades", "M1001: Failed"),
        ("Startad:", "Started:"),
        ("Klar:", "Finished:"),
        ("Senaste fullständiga avstämning:", "Last full reconcile:"),
        ("Ändrade:", "Changed:"),
        ("Misslyckade id:n:", "Failed ids:"),
        ("Synk begärd:", "Sync asked for:"),
    ],
    "users": [
        ("Välj användare att ändra", "Select user to change"),
        ("- Välj ett alternativ -", "- Select an option -"),
    ],
    "user": [("Ändra användare", "Change user")],
}


@pytest.fixture
def admin_pages(anna) -> dict[str, str]:
    """The URL of each admin page of the contacts app, with something on each to show."""
    credential = make_credential(anna, label="Solna", last_error="Vitec svarade inte")
    event = AuditEvent.objects.create(
        action=AuditEvent.Action.LOOKUP,
        user=anna,
        username="anna",
        customer_id="M1001",
        contact_ids=["a", "b", "c", "d", "e"],
        row_count=5,
        details={"ids": 5},
    )
    sync_state = RegisterSync.objects.create(
        customer_id="M1001", status=RegisterSync.Status.FAILED, failed_ids=["x"], last_error="!"
    )

    def pages(model: str, obj) -> tuple[str, str]:
        return (
            reverse(f"admin:{model}_changelist"),
            reverse(f"admin:{model}_change", args=[obj.pk]),
        )

    urls: dict[str, str] = {}
    urls["credentials"], urls["credential"] = pages("contacts_viteccredential", credential)
    urls["new credential"] = ADD
    urls["audit events"], urls["audit event"] = pages("contacts_auditevent", event)
    urls["register syncs"], urls["register sync"] = pages("contacts_registersync", sync_state)
    urls["users"], urls["user"] = pages("auth_user", anna)
    return urls


def speaking(client: Client, language: str) -> Client:
    """The client with the language an administrator picks (set_language's cookie)."""
    client.cookies["django_language"] = language
    return client


@pytest.mark.parametrize("page", list(ADMIN_PAGE_STRINGS))
@pytest.mark.parametrize("language", ["sv", "en"])
def test_each_admin_page_speaks_the_chosen_language(admin_client, admin_pages, page, language):
    response = speaking(admin_client, language).get(admin_pages[page])

    assert response.status_code == 200
    html = unescape(response.content.decode())
    swedish = [sv for sv, _ in ADMIN_PAGE_STRINGS[page]]
    english = [en for _, en in ADMIN_PAGE_STRINGS[page]]
    expected, absent = (swedish, english) if language == "sv" else (english, swedish)
    assert [text for text in expected if text not in html] == []
    assert [text for text in absent if text in html] == []


ACTION_MESSAGES = {
    # (action, how many selected): (Swedish, English)
    ("action_disable", 1): ("Inaktiverade 1 inloggningsuppgift.", "Disabled 1 credential."),
    ("action_disable", 2): ("Inaktiverade 2 inloggningsuppgifter.", "Disabled 2 credentials."),
    ("action_sync_now", 1): ("1 synk köad.", "1 sync queued."),
    ("action_sync_now", 2): ("2 synkar köade.", "2 syncs queued."),
}


@pytest.mark.parametrize(("action", "count"), list(ACTION_MESSAGES))
@pytest.mark.parametrize("language", ["sv", "en"])
def test_each_action_reports_in_the_chosen_language(admin_client, anna, action, count, language):
    customers = ["M1001", "M1002"][:count]
    if action == "action_disable":
        url = CHANGELIST
        selected = [make_credential(anna, customer_id=c).pk for c in customers]
    else:
        url = reverse("admin:contacts_registersync_changelist")
        selected = [RegisterSync.objects.create(customer_id=c).pk for c in customers]

    response = speaking(admin_client, language).post(
        url, {"action": action, "_selected_action": selected}
    )

    swedish, english = ACTION_MESSAGES[action, count]
    assert messages_of(response) == [(SUCCESS, swedish if language == "sv" else english)]


@pytest.mark.parametrize("language", ["sv", "en"])
def test_a_failed_connection_test_reports_in_the_chosen_language(
    admin_client, anna, vitec, settings, language
):
    from cryptography.fernet import Fernet

    credential = make_credential(anna, label="Solna")
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]

    response = run_action(speaking(admin_client, language), "action_test_connection", credential)

    expected = {
        "sv": "anna / Solna (M1001): Det sparade lösenordet kan inte dekrypteras med de "
        "konfigurerade CREDENTIAL_KEYS. Ange lösenordet igen.",
        "en": "anna / Solna (M1001): The stored password cannot be decrypted with the "
        "configured CREDENTIAL_KEYS. Set the password again.",
    }[language]
    assert messages_of(response) == [(ERROR, expected)]


@pytest.mark.integration
@pytest.mark.parametrize("by", ["action", "button"])
def test_a_connection_test_reports_in_swedish(admin_client, anna, vitec, by):
    credential = make_credential(anna, label="Solna", password="demo")
    client = speaking(admin_client, "sv")

    if by == "action":
        response = run_action(client, "action_test_connection", credential)
    else:
        response = client.post(connection_url(credential))

    [(level, text)] = messages_of(response)
    assert level == SUCCESS
    assert re.fullmatch(r"anna / Solna \(M1001\): Ansluten: Vitec listar \d+ kategorier\.", text)
