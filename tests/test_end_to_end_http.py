"""The whole flow over real HTTP: the dashboard served on a loopback port, talking to the sandbox.

A broker logs in with a real session and CSRF token, looks ids up by POST, follows the redirect,
filters, opens a contact, downloads the CSV and logs out; nothing here uses Django's test client.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
import requests
from django.contrib.auth import get_user_model

from tests.dashboard_fixtures import cid, ids_range, make_credential, missing_id

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def broker_session(live_server, vitec):
    user = get_user_model().objects.create_user("lisa", password="Lisa-long-password-1")
    credential = make_credential(user, customer_id="M1001")
    session = requests.Session()
    session.headers["Accept-Language"] = "en"
    login_page = session.get(f"{live_server.url}/accounts/login/", timeout=10)
    response = session.post(
        f"{live_server.url}/accounts/login/",
        data={
            "username": "lisa",
            "password": "Lisa-long-password-1",
            "csrfmiddlewaretoken": csrf_of(login_page.text),
        },
        headers={"Referer": f"{live_server.url}/accounts/login/"},
        timeout=10,
    )
    assert response.url == f"{live_server.url}/contacts/"
    yield session, credential
    session.close()


def test_a_broker_looks_up_filters_opens_and_exports_over_http(live_server, broker_session):
    session, credential = broker_session
    base = live_server.url
    page = session.get(f"{base}/contacts/", timeout=10)
    ids = ids_range(1, 40)  # with the missing id, 41 real-shaped ids still fit in a URL
    response = session.post(
        f"{base}/contacts/",
        data={
            "credential": credential.pk,
            "ids": "\n".join([*ids, missing_id(99999)]),
            "csrfmiddlewaretoken": csrf_of(page.text),
        },
        headers={"Referer": f"{base}/contacts/"},
        timeout=30,
    )
    assert response.status_code == 200
    assert "ids=" in response.url  # the redirect carries the ids: the view can be bookmarked
    assert "40 contacts" in response.text
    assert missing_id(99999) in response.text  # named as not found

    persons = session.get(response.url + "&type=Person", timeout=30)
    person_links = re.findall(r'href="/contacts/(ADR[0-9A-F]{32})/\?', persons.text)
    assert person_links and len(persons.text) < len(response.text)

    detail = session.get(
        f"{base}/contacts/{person_links[0]}/?credential={credential.pk}", timeout=30
    )
    assert detail.status_code == 200 and "GDPR and consent" in detail.text
    assert re.search(r"\d{6}-\*\*\*\*", detail.text)  # personnummer masked

    export = session.get(
        f"{base}/contacts/export.csv",
        params={"credential": credential.pk, "ids": ",".join(ids), "type": "Person"},
        timeout=30,
    )
    assert export.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in export.headers["Content-Disposition"]
    assert export.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Contact id"
    assert {row[3] for row in rows[1:]} == {"Person"}  # Type: after id, name and deceased
    assert sorted(row[0] for row in rows[1:]) == sorted(set(person_links))

    logout = session.post(
        f"{base}/accounts/logout/",
        data={"csrfmiddlewaretoken": csrf_of(detail.text)},
        headers={"Referer": f"{base}/contacts/"},
        timeout=10,
    )
    assert logout.url == f"{base}/accounts/login/"
    after = session.get(f"{base}/contacts/", timeout=10)
    assert after.url.startswith(f"{base}/accounts/login/")


def test_a_lower_case_paste_finds_the_contacts_over_http(live_server, broker_session, vitec):
    """Brokers paste ids from mails and spreadsheets, sometimes in lower case: Vitec matches
    ids without regard to case, and so does crmviewer. Ids differing only in case are one."""
    session, credential = broker_session
    base = live_server.url
    page = session.get(f"{base}/contacts/", timeout=10)
    vitec.stats.reset()
    response = session.post(
        f"{base}/contacts/",
        data={
            "credential": credential.pk,
            "ids": f"{cid(1).lower()}\n{cid(2).lower()}, {cid(1)}\n{cid(2)} {cid(3).lower()}",
            "csrfmiddlewaretoken": csrf_of(page.text),
        },
        headers={"Referer": f"{base}/contacts/"},
        timeout=30,
    )
    assert response.status_code == 200
    assert "3 contacts" in response.text
    assert "not found in Vitec" not in response.text
    rows = re.findall(r'<th scope="row"><a href="/contacts/([^/"]+)/\?', response.text)
    assert rows == [cid(1), cid(2), cid(3)]  # Vitec's spelling
    sent = [i for r in vitec.stats.requests if r.endpoint == "contacts" for i in r.contact_ids]
    assert sent == [cid(1).lower(), cid(2).lower(), cid(3).lower()]  # each asked once

    detail = session.get(
        f"{base}/contacts/{cid(2).lower()}/?credential={credential.pk}", timeout=30
    )
    assert detail.status_code == 200 and "GDPR and consent" in detail.text
