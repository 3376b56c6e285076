"""The audit trail: every lookup, contact view, personnummer reveal, CSV export, credential change,
connection test and failed login makes exactly one event, and no event holds a secret.

Also the deliberate personnummer reveal on the detail page, purge_audit and the read-only admin.
Expectations come from the sandbox's own records (the `reference` fixture, tests/oracle.py).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contacts import services
from contacts.audit import audit_purge, audit_record, personnummer_scrub
from contacts.models import AuditEvent, VitecCredential
from tests import oracle
from tests.dashboard_fixtures import (
    cid,
    copy_button,
    credential_form,
    escaped,
    ids_range,
    make_credential,
    missing_id,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

Action = AuditEvent.Action
LOOKUP = "/contacts/"
EXPORT = "/contacts/export.csv"
LOGIN = "/accounts/login/"
SECRET = "Hemligt lösenord 42 åäö!"
OTHER_SECRET = "Ett annat lösenord 7 ÅÄÖ?"
WRONG_PASSWORD = "fel-lösenord-31337"
MISSING_ID = missing_id(99999)  # well-formed, not in the sandbox
CREDENTIALS_ADMIN = "admin:contacts_viteccredential"
AUDIT_ADMIN = "admin:contacts_auditevent"


@pytest.fixture(autouse=True)
def fast_hashes_and_no_lockouts(settings):
    """English, users hash fast, and django-axes (if installed) forgets failed logins."""
    settings.LANGUAGE_CODE = "en"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with contextlib.suppress(ImportError):
        from axes.utils import reset

        reset()
    with translation.override("en"):
        yield
    with contextlib.suppress(ImportError):
        from axes.utils import reset

        reset()


def the_event(**filters) -> AuditEvent:
    events = list(AuditEvent.objects.filter(**filters))
    assert len(events) == 1, [(e.action, e.contact_ids) for e in AuditEvent.objects.all()]
    return events[0]


swedish_number = oracle.swedish_personnummer


def number_forms(number: str) -> set[str]:
    """A personnummer as it may be written: as given, digits only, and the ten-digit forms."""
    digits = re.sub(r"\D", "", number)
    short = digits[-10:]
    return {number, digits, short, f"{short[:6]}-{short[6:]}", f"{short[:6]}+{short[6:]}"}


def event_text(event: AuditEvent) -> str:
    """Every field of the event as JSON, both with and without escaped non-ASCII characters."""
    fields = {f.attname: getattr(event, f.attname) for f in AuditEvent._meta.concrete_fields}
    return json.dumps(fields, default=str, ensure_ascii=False) + json.dumps(fields, default=str)


def leaks(secrets: set[str]) -> list[tuple[str, str]]:
    return [
        (event.action, secret)
        for event in AuditEvent.objects.all()
        for secret in secrets
        if secret and secret in event_text(event)
    ]


def people(reference, contact_type: str = "Person", customer: str = "M1001") -> list:
    """Records of a type with a Swedish personnummer."""
    return [
        c
        for c in reference.values()
        if c["customerId"] == customer and c["type"] == contact_type and swedish_number(c)
    ]


def detail_url(contact_id: str) -> str:
    return reverse("contacts:detail", args=[contact_id])


def reveal_url(contact_id: str) -> str:
    return reverse("contacts:reveal", args=[contact_id])


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"), newline=""), delimiter=";"))


# --- lookups --------------------------------------------------------------------------------------

LOOKUP_IDS = [*ids_range(1, 40), cid(3), cid(7), MISSING_ID]  # two repeated, one unknown
ASKED = [*ids_range(1, 40), MISSING_ID]  # de-duplicated, in the order given


def _in_category(reference) -> str:
    contacts = [reference[i] for i in ids_range(1, 40)]
    return next(i for c in contacts for i in oracle.category_ids(c))


@pytest.mark.parametrize(
    ("params", "keeps"),
    [
        ({}, lambda c, ref: True),
        ({"type": "Person"}, lambda c, ref: c["type"] == "Person"),
        ({"type": "Company", "sort": "-name"}, lambda c, ref: c["type"] == "Company"),
        (
            {"category": _in_category, "sort": "city"},
            lambda c, ref: _in_category(ref) in oracle.category_ids(c),
        ),
        ({"type": "DeceasedEstate", "page": "2"}, lambda c, ref: c["type"] == "DeceasedEstate"),
    ],
    ids=["all", "persons", "companies-sorted", "category", "estates-page-2"],
)
def test_a_lookup_records_one_event(en_client, broker, credential, reference, params, keeps):
    params = {k: v(reference) if callable(v) else v for k, v in params.items()}
    query = {"credential": credential.pk, "ids": ",".join(LOOKUP_IDS), **params}

    response = en_client.get(LOOKUP, query)

    assert response.status_code == 200
    event = the_event()
    expected_rows = sum(1 for i in ASKED if i in reference and keeps(reference[i], reference))
    assert event.action == Action.LOOKUP
    assert (event.user, event.username) == (broker, "broker")
    assert (event.credential, event.customer_id) == (credential, "M1001")
    assert event.contact_ids == ASKED
    assert event.row_count == expected_rows
    assert event.details["filters"] == {
        "type": params.get("type", ""),
        "category": params.get("category", ""),
        "q": "",
        "sort": params.get("sort", ""),
    }
    assert event.details["page"] == int(params.get("page", 1))
    assert event.ip_address == "127.0.0.1"


def test_a_text_filter_counts_the_rows_shown(en_client, credential, reference):
    needle = oracle.name(reference[cid(5)]).split()[0]
    query = {"credential": credential.pk, "ids": ",".join(ids_range(1, 40)), "q": needle}

    page = en_client.get(LOOKUP, query).content.decode()

    shown = int(re.search(r'<h2 id="results-heading">\s*(\d+) contacts?', page).group(1))
    event = the_event(action=Action.LOOKUP)
    assert event.row_count == shown >= 1
    assert event.details["filters"]["q"] == needle


def test_a_lookup_posted_as_a_form_records_one_event_after_the_redirect(en_client, credential):
    response = en_client.post(
        LOOKUP, {"credential": credential.pk, "ids": f"{cid(1)} {cid(2)}, {cid(1)}"}
    )
    assert response.status_code == 302
    assert AuditEvent.objects.count() == 0  # the POST only stores the list

    en_client.get(response["Location"])

    event = the_event()
    assert (event.action, event.contact_ids, event.row_count) == (
        Action.LOOKUP,
        [cid(1), cid(2)],
        2,
    )


@pytest.mark.parametrize(
    "query",
    [{}, {"ids": ""}, {"ids": "/?#"}],
    ids=["no-ids", "empty", "only-unsafe"],
)
def test_a_page_without_a_lookup_records_nothing(en_client, credential, query):
    assert en_client.get(LOOKUP, {"credential": credential.pk, **query}).status_code == 200
    assert AuditEvent.objects.count() == 0


def test_another_users_credential_is_404_and_records_nothing(en_client, other_broker, vitec):
    theirs = make_credential(other_broker, customer_id="M1002")
    for response in (
        en_client.get(LOOKUP, {"credential": theirs.pk, "ids": cid(1, "M1002")}),
        en_client.get(detail_url(cid(1, "M1002")), {"credential": theirs.pk}),
        en_client.get(EXPORT, {"credential": theirs.pk, "ids": cid(1, "M1002")}),
        en_client.post(f"{reveal_url(cid(1, 'M1002'))}?credential={theirs.pk}"),
    ):
        assert response.status_code == 404
    assert AuditEvent.objects.count() == 0


# --- the detail page and the personnummer reveal --------------------------------------------------


@pytest.mark.parametrize("contact_type", ["Person", "Company", "DeceasedEstate"])
def test_a_detail_view_records_one_event_and_masks_the_number(
    en_client, broker, credential, reference, contact_type
):
    contact = next(
        c
        for c in reference.values()
        if c["customerId"] == "M1001"
        and c["type"] == contact_type
        and (contact_type == "Company" or swedish_number(c))
    )
    contact_id = contact["id"]

    response = en_client.get(detail_url(contact_id), {"credential": credential.pk})

    page = response.content.decode()
    assert response.status_code == 200
    event = the_event()
    assert (event.action, event.user, event.customer_id) == (Action.CONTACT_VIEW, broker, "M1001")
    assert (event.contact_ids, event.row_count) == ([contact_id], 1)
    assert set(event.details) <= {"related_ids"}  # the people around it: tests/test_relations.py
    has_button = f'action="{reveal_url(contact_id)}?customer={credential.customer_id}' in page
    assert has_button == (contact_type != "Company")
    if contact_type != "Company":
        for form in number_forms(oracle.personnummer(contact)):
            assert form not in page
        assert "Show personnummer" in page


def test_a_detail_view_of_an_unknown_contact_records_zero_rows(en_client, credential):
    response = en_client.get(detail_url(MISSING_ID), {"credential": credential.pk})

    assert response.status_code == 404
    event = the_event()
    assert (event.action, event.contact_ids, event.row_count) == (
        Action.CONTACT_VIEW,
        [MISSING_ID],
        0,
    )


@pytest.mark.parametrize("contact_type", ["Person", "DeceasedEstate"])
def test_reveal_shows_the_full_number_and_records_it(
    en_client, broker, credential, reference, contact_type
):
    contact = people(reference, contact_type)[0]
    number = oracle.personnummer(contact)  # as the sandbox serves it

    response = en_client.post(f"{reveal_url(contact['id'])}?credential={credential.pk}")

    page = response.content.decode()
    assert response.status_code == 200
    copy = copy_button(number, "the personnummer")
    assert f"<dt>Personnummer</dt><dd>{escaped(number)}{copy}</dd>" in page
    assert "This was logged." in page
    assert "Show personnummer" not in page  # shown already
    assert "no-store" in response["Cache-Control"]
    event = the_event()
    assert event.action == Action.PERSONNUMMER_REVEAL
    assert (event.user, event.username, event.credential) == (broker, "broker", credential)
    assert (event.customer_id, event.contact_ids, event.row_count) == (
        "M1001",
        [contact["id"]],
        1,
    )
    assert number not in event_text(event)


def test_the_reveal_form_posts_with_its_csrf_token(broker, credential, reference):
    contact = people(reference)[0]
    client = Client(enforce_csrf_checks=True, headers={"Accept-Language": "en"})
    client.force_login(broker)
    page = client.get(detail_url(contact["id"]), {"credential": credential.pk}).content.decode()
    form = re.search(
        r'<form method="post" action="(/contacts/[^"]+/reveal/[^"]*)"(.*?)</form>', page
    )
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(2)).group(1)

    response = client.post(form.group(1).replace("&amp;", "&"), {"csrfmiddlewaretoken": token})

    assert response.status_code == 200
    assert escaped(oracle.personnummer(contact)) in response.content.decode()
    assert AuditEvent.objects.filter(action=Action.PERSONNUMMER_REVEAL).count() == 1


def test_reveal_keeps_the_way_back_to_the_list(en_client, credential, reference):
    contact_id = people(reference)[0]["id"]
    back = f"/contacts/?credential={credential.pk}&ids={contact_id},{cid(2)}"
    page = en_client.get(detail_url(contact_id), {"credential": credential.pk, "back": back})
    action = re.search(r'action="(/contacts/[^"]+/reveal/[^"]*)"', page.content.decode()).group(1)

    revealed = en_client.post(action.replace("&amp;", "&")).content.decode()

    assert f'<a href="{escaped(back)}">' in revealed


@pytest.mark.parametrize(
    ("how", "status"),
    [("get", 405), ("no-csrf", 403), ("anonymous", 302), ("other-credential", 404)],
)
def test_a_reveal_that_is_refused_records_nothing(
    en_client, broker, other_broker, credential, reference, how, status
):
    contact = people(reference)[0]
    target = credential
    if how == "other-credential":
        target = make_credential(other_broker, customer_id="M1001")
    url = f"{reveal_url(contact['id'])}?credential={target.pk}"
    client = en_client
    if how == "no-csrf":
        client = Client(enforce_csrf_checks=True)
        client.force_login(broker)
    elif how == "anonymous":
        client = Client()

    response = client.get(url) if how == "get" else client.post(url)

    assert response.status_code == status
    assert oracle.personnummer(contact) not in response.content.decode()
    assert AuditEvent.objects.count() == 0


def test_revealing_a_company_reveals_nothing(en_client, credential, reference):
    company = next(
        c for c in reference.values() if c["customerId"] == "M1001" and c["type"] == "Company"
    )

    response = en_client.post(f"{reveal_url(company['id'])}?credential={credential.pk}")

    assert response.status_code == 200
    assert "This was logged." not in response.content.decode()
    assert the_event().action == Action.CONTACT_VIEW


# --- CSV export -----------------------------------------------------------------------------------


@pytest.mark.parametrize("include", [False, True], ids=["masked", "with-personnummer"])
@pytest.mark.parametrize(
    "filters", [{}, {"type": "Person", "sort": "name"}], ids=["all", "persons"]
)
def test_an_export_records_one_event(en_client, broker, credential, reference, include, filters):
    ids = ids_range(1, 120)
    query = {"credential": credential.pk, "ids": ",".join(ids), **filters}
    if include:
        query["include_personnummer"] = "on"

    response = en_client.post(EXPORT, query) if include else en_client.get(EXPORT, query)

    rows = csv_rows(response)[1:]
    body = "\n".join(";".join(row) for row in rows)
    exported = [n for row in rows if (n := swedish_number(reference[row[0]]))]
    assert exported
    if include:
        assert all(n in body for n in exported)
    else:
        assert not any(form in body for n in exported for form in number_forms(n))
    numbers = [n for i in ids if (n := swedish_number(reference[i]))]
    event = the_event()
    assert event.action == Action.CSV_EXPORT
    assert (event.user, event.credential, event.customer_id) == (broker, credential, "M1001")
    assert event.contact_ids == ids
    assert event.row_count == len(rows)
    assert event.details == {
        "filters": {
            "type": filters.get("type", ""),
            "category": "",
            "q": "",
            "sort": filters.get("sort", ""),
        },
        "include_personnummer": include,
        "format": "csv",
    }
    assert leaks({f for n in numbers for f in number_forms(n)}) == []


def test_an_export_that_is_not_made_records_nothing(en_client, credential, vitec):
    vitec.configure(fault="500")
    response = en_client.get(EXPORT, {"credential": credential.pk, "ids": cid(1)})
    assert response.status_code == 302
    assert AuditEvent.objects.count() == 0


# --- credentials: admin, commands, connection tests ----------------------------------------------


def _form(user, **overrides) -> dict[str, object]:
    return credential_form(user, password=overrides.pop("password", SECRET), **overrides)


def _stored(broker, **fields) -> VitecCredential:
    fields = {"customer_id": "M1001", "password": SECRET, **fields}
    return make_credential(broker, **fields)


def admin_create(admin_client, broker):
    admin_client.post(reverse(f"{CREDENTIALS_ADMIN}_add"), _form(broker))
    credential = VitecCredential.objects.get()
    expected_fields = ["api_username", "customer_id", "label", "password", "user"]
    return [(Action.CREDENTIAL_CREATED, credential, "M1001", {"changed_fields": expected_fields})]


def admin_change_label_and_password(admin_client, broker):
    credential = _stored(broker, label="Kontoret")
    url = reverse(f"{CREDENTIALS_ADMIN}_change", args=[credential.pk])
    admin_client.post(url, _form(broker, label="Nytt namn", password=OTHER_SECRET))
    return [
        (Action.CREDENTIAL_CHANGED, credential, "M1001", {"changed_fields": ["label", "password"]})
    ]


def admin_change_without_password(admin_client, broker):
    credential = _stored(broker, label="Kontoret")
    url = reverse(f"{CREDENTIALS_ADMIN}_change", args=[credential.pk])
    admin_client.post(url, _form(broker, password="", is_active=None))
    return [(Action.CREDENTIAL_CHANGED, credential, "M1001", {"changed_fields": ["is_active"]})]


def admin_delete(admin_client, broker):
    credential = _stored(broker, label="Kontoret")
    url = reverse(f"{CREDENTIALS_ADMIN}_delete", args=[credential.pk])
    admin_client.post(url, {"post": "yes"})
    assert not VitecCredential.objects.exists()
    return [(Action.CREDENTIAL_DELETED, None, "M1001", {"label": "Kontoret"})]


def admin_bulk_delete(admin_client, broker):
    ids = [_stored(broker, customer_id=c).pk for c in ("M1001", "M1002")]
    admin_client.post(
        reverse(f"{CREDENTIALS_ADMIN}_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert not VitecCredential.objects.exists()
    return [
        (Action.CREDENTIAL_DELETED, None, customer, {"label": ""})
        for customer in ("M1001", "M1002")
    ]


def admin_disable(admin_client, broker):
    active = _stored(broker, customer_id="M1001")
    inactive = _stored(broker, customer_id="M1002")
    VitecCredential.objects.filter(pk=inactive.pk).update(is_active=False)
    admin_client.post(
        reverse(f"{CREDENTIALS_ADMIN}_changelist"),
        {"action": "action_disable", "_selected_action": [active.pk, inactive.pk]},
    )
    assert not VitecCredential.objects.filter(is_active=True).exists()
    return [(Action.CREDENTIAL_DISABLED, active, "M1001", {})]  # the inactive one: no event


def admin_connection_test_ok(admin_client, broker):
    credential = make_credential(broker, customer_id="M1001")  # the sandbox's demo login
    url = reverse(f"{CREDENTIALS_ADMIN}_test_connection", args=[credential.pk])
    admin_client.post(url)
    return [(Action.CONNECTION_TEST, credential, "M1001", {"ok": True})]


def admin_connection_test_fails(admin_client, broker):
    credential = _stored(broker)  # not the sandbox's password
    admin_client.post(
        reverse(f"{CREDENTIALS_ADMIN}_changelist"),
        {"action": "action_test_connection", "_selected_action": [credential.pk]},
    )
    return [(Action.CONNECTION_TEST, credential, "M1001", {"ok": False})]


@pytest.mark.parametrize(
    "flow",
    [
        admin_create,
        admin_change_label_and_password,
        admin_change_without_password,
        admin_delete,
        admin_bulk_delete,
        admin_disable,
        admin_connection_test_ok,
        admin_connection_test_fails,
    ],
    ids=lambda flow: flow.__name__,
)
def test_a_credential_change_in_the_admin_records_its_events(
    admin_client, admin_user, broker, vitec, flow
):
    expected = flow(admin_client, broker)

    events = list(AuditEvent.objects.order_by("pk"))
    assert len(events) == len(expected)
    for event, (action, credential, customer_id, details) in zip(events, expected, strict=True):
        assert event.action == action
        assert (event.user, event.username) == (admin_user, admin_user.username)
        assert (event.credential, event.customer_id) == (credential, customer_id)
        # The connection test is a service without the request: it knows the user, not the address.
        address = None if action == Action.CONNECTION_TEST else "127.0.0.1"
        assert event.ip_address == address
        assert details.items() <= event.details.items()
        if action != Action.CONNECTION_TEST:
            assert event.details["owner"] == "broker"
    assert leaks({SECRET, OTHER_SECRET}) == []


def test_a_connection_test_records_its_message(broker, credential):
    outcome = services.credential_test_connection(credential=credential, actor=broker)

    event = the_event()
    assert outcome.ok
    assert (event.action, event.user, event.credential) == (
        Action.CONNECTION_TEST,
        broker,
        credential,
    )
    assert event.details == {"ok": True, "message": outcome.message}


def _set_credential(*args: str, stdin: str) -> None:
    call_command("set_vitec_credential", *args, stdin=io.StringIO(stdin), stdout=io.StringIO())


def test_set_vitec_credential_records_create_and_update(broker):
    base = ("broker", "--customer-id", "M1002", "--api-username", "api", "--password-stdin")
    _set_credential(*base, "--label", "Uppsala", stdin=SECRET + "\n")
    _set_credential(*base, "--inactive", stdin=OTHER_SECRET + "\n")

    created, updated = AuditEvent.objects.order_by("pk")
    credential = VitecCredential.objects.get()
    assert (created.action, updated.action) == (
        Action.CREDENTIAL_CREATED,
        Action.CREDENTIAL_CHANGED,
    )
    for event in (created, updated):
        assert (event.user, event.username) == (None, "")
        assert (event.credential, event.customer_id) == (credential, "M1002")
        assert event.details["owner"] == "broker"
        assert event.details["source"] == "set_vitec_credential"
    assert created.details["changed_fields"] == [
        "api_username",
        "customer_id",
        "is_active",
        "label",
        "password",
    ]
    assert updated.details["changed_fields"] == ["is_active", "password"]
    assert leaks({SECRET, OTHER_SECRET, credential.password_encrypted}) == []


def test_rotate_credential_keys_records_one_event_per_credential(settings, broker):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [old]
    first, second = (_stored(broker, customer_id=c) for c in ("M1001", "M1002"))
    tokens = {first.password_encrypted, second.password_encrypted}
    settings.CREDENTIAL_KEYS = [new, old]

    call_command("rotate_credential_keys", stdout=io.StringIO())

    events = list(AuditEvent.objects.order_by("credential_id"))
    assert [(e.action, e.credential, e.details["reencrypted"]) for e in events] == [
        (Action.CREDENTIAL_CHANGED, first, True),
        (Action.CREDENTIAL_CHANGED, second, True),
    ]
    tokens |= set(VitecCredential.objects.values_list("password_encrypted", flat=True))
    assert leaks({SECRET, old, new, *tokens}) == []


def test_a_dry_run_of_rotate_credential_keys_records_nothing(broker):
    _stored(broker)
    call_command("rotate_credential_keys", "--dry-run", stdout=io.StringIO())
    assert AuditEvent.objects.count() == 0


# --- failed logins --------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["anna", "nobody-by-that-name"])
def test_a_failed_login_records_the_user_name_tried_but_not_the_password(
    django_user_model, username
):
    django_user_model.objects.create_user(username="anna", password="the-right-one-2024")

    response = Client().post(LOGIN, {"username": username, "password": WRONG_PASSWORD})

    assert response.status_code == 200  # the form again, with an error
    event = the_event()
    assert (event.action, event.user, event.username) == (Action.LOGIN_FAILED, None, username)
    assert event.ip_address == "127.0.0.1"
    assert (event.credential, event.contact_ids, event.row_count) == (None, [], None)
    assert leaks({WRONG_PASSWORD}) == []


def test_a_successful_login_records_no_failure(django_user_model):
    django_user_model.objects.create_user(username="anna", password="the-right-one-2024")
    response = Client().post(LOGIN, {"username": "anna", "password": "the-right-one-2024"})
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action=Action.LOGIN_FAILED).exists()


# --- nothing secret in any event ------------------------------------------------------------------


def test_no_event_holds_a_password_a_token_or_a_personnummer(
    admin_client, en_client, broker, credential, reference, settings
):
    person, estate = people(reference)[0], people(reference, "DeceasedEstate")[0]
    ids = [*ids_range(1, 60), person["id"], estate["id"]]
    # The credential admin with a password typed, a command with one on stdin, a failed login.
    admin_client.post(reverse(f"{CREDENTIALS_ADMIN}_add"), _form(broker, customer_id="M1002"))
    _set_credential(
        "broker", "--customer-id", "M1003", "--api-username", "x", "--password-stdin", stdin=SECRET
    )
    Client().post(LOGIN, {"username": "broker", "password": OTHER_SECRET})
    services.credential_test_connection(credential=credential, actor=broker)
    # A broker who types or pastes a personnummer where an id or a search text goes.
    en_client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids), "sort": "name"})
    person_number, estate_number = oracle.personnummer(person), oracle.personnummer(estate)
    en_client.get(LOOKUP, {"credential": credential.pk, "ids": person["id"], "q": person_number})
    en_client.get(LOOKUP, {"credential": credential.pk, "ids": f"{cid(1)},{estate_number}"})
    # The personnummer revealed and exported in full.
    for contact in (person, estate):
        en_client.post(f"{reveal_url(contact['id'])}?credential={credential.pk}")
    export = en_client.post(
        EXPORT, {"credential": credential.pk, "ids": ",".join(ids), "include_personnummer": "on"}
    )
    assert person_number in b"".join(export.streaming_content).decode()

    assert AuditEvent.objects.count() == 10
    tokens = set(VitecCredential.objects.values_list("password_encrypted", flat=True))
    numbers = {f for i in ids if (n := swedish_number(reference[i])) for f in number_forms(n)}
    assert leaks({SECRET, OTHER_SECRET, *tokens, *settings.CREDENTIAL_KEYS, *numbers}) == []
    masked = AuditEvent.objects.filter(details__filters__q__endswith="-****")
    assert masked.count() == 1


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("811218-9876", "811218-****"),
        ("19811218-9876", "811218-****"),
        ("8112189876", "811218-****"),
        ("121212+1212", "121212-****"),
        ("701063-2391", "701063-****"),  # a samordningsnummer: the day plus 60
        ("ring 811218-9876 eller 121212-1212", "ring 811218-**** eller 121212-****"),
        ("811218-9875", "811218-9875"),  # the check digit is wrong: not a personnummer
        ("556036-0793", "556036-0793"),  # an organisationsnummer (month 60)
        (cid(1), cid(1)),
        ("0811218-98761", "0811218-98761"),  # inside a longer number
        ("", ""),
    ],
)
def test_personnummer_scrub(text, scrubbed):
    assert personnummer_scrub(text) == scrubbed


def test_details_lose_secret_keys_and_personnummer(broker):
    event = audit_record(
        action=Action.LOOKUP,
        user=broker,
        contact_ids=["811218-9876", cid(1)],
        details={"password": SECRET, "api_token": "t", "nested": {"q": "19811218-9876"}},
    )
    event.refresh_from_db()
    assert event.contact_ids == ["811218-****", cid(1)]
    assert event.details == {"nested": {"q": "811218-****"}}
    assert event.username == "broker"


# --- no trace, no data ----------------------------------------------------------------------------


@pytest.fixture
def audit_store_refuses(django_db_blocker):
    """The database itself refuses every new audit event (a trigger), as a full disk, a lost
    permission or a broken table would. The PostgreSQL trigger's message quotes the contact ids,
    as real database errors quote the values they refuse."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION audit_refuses() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'refused: %', NEW.contact_ids; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER audit_refuses BEFORE INSERT ON contacts_auditevent "
                "FOR EACH ROW EXECUTE FUNCTION audit_refuses()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER audit_refuses BEFORE INSERT ON contacts_auditevent "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
    # Both are undone with the test's transaction.


def _personal_data(contact) -> list[str]:
    """What of a contact must not reach a broker unless the access was logged."""
    data = [escaped(oracle.name(contact)), *number_forms(oracle.personnummer(contact))]
    if email := oracle.email(contact):
        data.append(email)
    return data


NOT_LOGGED = "Nothing was shown: the access could not be logged"


def _page(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.mark.parametrize(
    "surface", ["lookup", "long-lookup", "detail", "reveal", "export", "export-numbers"]
)
def test_no_trace_no_data(en_client, credential, reference, audit_store_refuses, caplog, surface):
    person = people(reference)[0]
    cred = {"credential": credential.pk}
    ids = {"credential": credential.pk, "ids": person["id"]}
    response = {
        "lookup": lambda: en_client.get(LOOKUP, ids),
        # Cold and long: streamed as Vitec answers (tests/test_streamed_lookup.py), were it logged.
        "long-lookup": lambda: en_client.get(
            LOOKUP, {**ids, "ids": ",".join([person["id"], *ids_range(1, 300)])}
        ),
        "detail": lambda: en_client.get(detail_url(person["id"]), cred),
        "reveal": lambda: en_client.post(f"{reveal_url(person['id'])}?credential={credential.pk}"),
        "export": lambda: en_client.get(EXPORT, ids),
        "export-numbers": lambda: en_client.post(EXPORT, {**ids, "include_personnummer": "on"}),
    }[surface]()

    if surface.startswith("export"):  # no file: back to the page, which says why
        assert response.status_code == 302 and not getattr(response, "streaming", False)
        page = en_client.get(response["Location"]).content.decode()
        assert "The CSV was not made." in page
    else:
        page = _page(response)
    assert NOT_LOGGED in page
    # That page view (the redirect's target) could not be logged either: it shows nothing too.
    assert [d for d in _personal_data(person) if d in page] == []
    assert AuditEvent.objects.count() == 0
    failures = [r for r in caplog.records if r.getMessage().startswith("Could not record")]
    assert failures
    for record in failures:  # the log line names the action, never the ids or the database text
        assert person["id"] not in record.getMessage() and "refused" not in record.getMessage()
        assert record.exc_info is None


REFUSED = "The request was refused: it holds control characters (such as NUL)"


@pytest.mark.parametrize(
    ("surface", "params"),
    [
        ("lookup", {"category": "\x00"}),
        ("lookup", {"category": "abc\x00"}),
        ("lookup", {"q": "An\x1b[2Jna"}),
        ("lookup", {"type": "Person\x00", "sort": "name"}),
        ("lookup", {"ids\x00": "x"}),
        ("export", {"category": "\x00", "include_personnummer": "on"}),
        ("export", {"q": "\x7f"}),
        ("detail", {"back": "/contacts/?q=\x00"}),
        ("admin", {"action": "\x00"}),
        ("admin", {"customer_id": "\x00"}),
        ("admin", {"q": "a\x00b"}),
    ],
)
def test_control_characters_are_refused_before_any_use(
    en_client, admin_client, credential, reference, surface, params
):
    """On PostgreSQL a NUL made the audit write fail (jsonb refuses \\u0000) while the rows
    still went out, and made the admin's filters answer 500."""
    person = people(reference)[0]
    ids = {"credential": credential.pk, "ids": person["id"]}
    response = {
        "lookup": lambda: en_client.get(LOOKUP, {**ids, **params}),
        "export": lambda: en_client.post(EXPORT, {**ids, **params}),
        "detail": lambda: en_client.get(detail_url(person["id"]), {**ids, **params}),
        "admin": lambda: admin_client.get(reverse(f"{AUDIT_ADMIN}_changelist"), params),
    }[surface]()

    assert response.status_code == 400
    page = _page(response)
    assert REFUSED in page
    assert [d for d in _personal_data(person) if d in page] == []
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("filters", "recorded"),
    [
        ({"q": "An\tna"}, {"q": "Anna"}),
        ({"q": "Anna\r\n"}, {"q": "Anna"}),
        ({"category": "abc\x85", "sort": "name\x9b"}, {"category": "abc", "sort": "name"}),
    ],
)
def test_other_control_characters_in_filters_are_stripped_before_use_and_record(
    en_client, broker, credential, reference, filters, recorded
):
    ids = ids_range(1, 40)
    params = {"credential": credential.pk, "ids": ",".join(ids), **filters}
    response = en_client.post(EXPORT, {**params, "include_personnummer": "on"})
    rows = csv_rows(response)[1:]
    event = the_event()
    assert event.details["filters"] == {"type": "", "category": "", "q": "", "sort": "", **recorded}
    assert (event.action, event.user, event.contact_ids) == (Action.CSV_EXPORT, broker, ids)
    assert event.row_count == len(rows)


@hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(["type", "category", "q", "sort"]),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
        min_size=1,
    )
)
def test_every_lookup_that_shows_rows_is_recorded(en_client, credential, reference, filters):
    """Whatever the filters hold (any character, NUL and other controls included), a page either
    is refused, showing nothing, or has written its event first."""
    ids = ids_range(1, 10)
    before = AuditEvent.objects.count()
    response = en_client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids), **filters})
    shown = re.findall(r'<th scope="row"><a href="/contacts/([^/"]+)/', response.content.decode())
    events = list(AuditEvent.objects.order_by("-pk")[: AuditEvent.objects.count() - before])
    if response.status_code == 400:
        assert shown == [] and events == []
        return
    assert response.status_code == 200 and len(events) == 1
    assert events[0].row_count == len(shown)
    recorded = json.dumps(events[0].details["filters"])
    assert not re.search(r"\\u00[01][0-9a-f]|\\u007f", recorded)  # no control character kept


def test_deleting_the_user_keeps_the_name_and_the_customer(en_client, broker, credential):
    en_client.get(LOOKUP, {"credential": credential.pk, "ids": cid(1)})

    broker.delete()  # and with the user, their credentials (recorded too: tests/test_admin.py)

    event = the_event(action=Action.LOOKUP)
    assert (event.user, event.username) == (None, "broker")
    assert (event.credential, event.customer_id) == (None, "M1001")


# --- purge_audit ----------------------------------------------------------------------------------


def _events_aged(*days: int) -> dict[int, int]:
    """One event per age in days; their primary keys by age."""
    now = timezone.now()
    aged = {}
    for age in days:
        event = audit_record(action=Action.LOGIN_FAILED, username=f"age-{age}")
        AuditEvent.objects.filter(pk=event.pk).update(created_at=now - timedelta(days=age, hours=1))
        aged[age] = event.pk
    return aged


def _purge(*args: str) -> str:
    out = io.StringIO()
    call_command("purge_audit", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("retention", "args", "kept"),
    [
        (365, (), {0, 1, 364}),
        (30, (), {0, 1}),
        (365, ("--days", "2"), {0, 1}),
        (365, ("--days", "1000"), {0, 1, 364, 365, 400}),
    ],
)
def test_purge_audit_deletes_only_older_events(settings, retention, args, kept):
    settings.AUDIT_RETENTION_DAYS = retention
    aged = _events_aged(0, 1, 364, 365, 400)

    output = _purge(*args)

    remaining = set(AuditEvent.objects.values_list("pk", flat=True))
    assert remaining == {aged[age] for age in kept}
    deleted = len(aged) - len(kept)
    assert f"Deleted {deleted} audit event" in output


def test_purge_audit_dry_run_deletes_nothing(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    aged = _events_aged(0, 40, 400)

    output = _purge("--dry-run")

    assert set(AuditEvent.objects.values_list("pk", flat=True)) == set(aged.values())
    assert "2 audit events older than 30 days would be deleted" in output
    assert audit_purge(older_than_days=30, dry_run=True) == 2


@pytest.mark.parametrize("days", ["0", "-5"])
def test_purge_audit_refuses_a_retention_below_one_day(days):
    _events_aged(3)
    with pytest.raises(CommandError, match="at least 1 day"):
        _purge("--days", days)
    assert AuditEvent.objects.count() == 1


# --- the read-only admin --------------------------------------------------------------------------


@pytest.fixture
def trail(broker, other_broker, vitec):
    ours = make_credential(broker, customer_id="M1001")
    theirs = make_credential(other_broker, customer_id="M1002")
    return {
        "lookup": audit_record(
            action=Action.LOOKUP, user=broker, credential=ours, contact_ids=ids_range(1, 5)
        ),
        "export": audit_record(
            action=Action.CSV_EXPORT, user=other_broker, credential=theirs, contact_ids=[cid(9)]
        ),
        "view": audit_record(
            action=Action.CONTACT_VIEW, user=broker, credential=ours, contact_ids=[cid(42)]
        ),
        "login": audit_record(action=Action.LOGIN_FAILED, username="mallory"),
    }


def _listed(admin_client, **params) -> set[int]:
    response = admin_client.get(reverse(f"{AUDIT_ADMIN}_changelist"), params)
    assert response.status_code == 200
    return {event.pk for event in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"lookup", "export", "view", "login"}),
        ({"action__exact": "lookup"}, {"lookup"}),
        ({"action__exact": "login_failed"}, {"login"}),
        ({"user__id__exact": "broker"}, {"lookup", "view"}),
        ({"customer_id": "M1002"}, {"export"}),
        ({"q": "mallory"}, {"login"}),
        ({"q": cid(42)}, {"view"}),
        ({"q": cid(3)}, {"lookup"}),
    ],
)
def test_the_audit_admin_filters_and_searches(admin_client, trail, broker, params, expected):
    params = {k: str(broker.pk) if v == "broker" else v for k, v in params.items()}
    assert _listed(admin_client, **params) == {trail[name].pk for name in expected}


def test_the_audit_admin_is_read_only(admin_client, trail):
    event = trail["lookup"]
    changelist = admin_client.get(reverse(f"{AUDIT_ADMIN}_changelist")).content.decode()
    change = admin_client.get(reverse(f"{AUDIT_ADMIN}_change", args=[event.pk]))

    assert reverse(f"{AUDIT_ADMIN}_add") not in changelist and 'name="action"' not in changelist
    assert f"{cid(1)}, {cid(2)}, {cid(3)} (+2 more)" in changelist
    assert change.status_code == 200
    page = change.content.decode()
    assert 'name="_save"' not in page and "deletelink" not in page and cid(5) in page
    for url in (
        reverse(f"{AUDIT_ADMIN}_add"),
        reverse(f"{AUDIT_ADMIN}_delete", args=[event.pk]),
    ):
        assert admin_client.get(url).status_code == 403
        assert admin_client.post(url, {"post": "yes", "action": "x"}).status_code == 403
    response = admin_client.post(
        reverse(f"{AUDIT_ADMIN}_change", args=[event.pk]), {"username": "someone else"}
    )
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.username == "broker"
    assert AuditEvent.objects.count() == 4


@pytest.mark.parametrize(("permission", "status"), [(True, 200), (False, 403)])
def test_staff_need_the_view_permission(django_user_model, trail, permission, status):
    staff = django_user_model.objects.create_user(username="revisor", is_staff=True)
    if permission:
        staff.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client = Client()
    client.force_login(staff)

    changelist = client.get(reverse(f"{AUDIT_ADMIN}_changelist"))
    change = client.get(reverse(f"{AUDIT_ADMIN}_change", args=[trail["login"].pk]))

    assert (changelist.status_code, change.status_code) == (status, status)
