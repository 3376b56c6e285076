"""Links that name the customer (`?customer=M1001`): a colleague with their own credential for that
customer opens the same view; a broker without one gets a 404, never another broker's data.

Pages write `customer=` into their links; an older link with `credential=<id>` keeps working for
its owner.
"""

from __future__ import annotations

import pytest
from django.test import Client

from contacts.models import AuditEvent
from tests import oracle
from tests.dashboard_fixtures import cid, make_credential

LOOKUP = "/contacts/"

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def _client(user) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(user)
    return client


def test_a_colleague_opens_a_link_that_names_the_customer(credential, other_broker, vitec):
    theirs = make_credential(other_broker, customer_id="M1001", label="Colleague")
    person = oracle.records()[cid(1)]
    link = {"customer": "M1001", "ids": cid(1)}
    for user, expected in ((credential.user, credential), (other_broker, theirs)):
        page = _client(user).get(LOOKUP, link)
        assert oracle.name(person) in page.content.decode()
        event = AuditEvent.objects.latest("pk")
        assert event.user == user and event.credential_id == expected.pk  # their own credential


def test_a_customer_the_broker_has_no_credential_for_is_404(credential, vitec):
    client = _client(credential.user)
    for customer in ("M1002", "M9999", "", " M1001 x", "<script>"):
        params = {"customer": customer, "ids": cid(1)}
        response = client.get(LOOKUP, params)
        if customer == "":
            assert response.status_code == 200  # no customer named: the broker's first one
        else:
            assert response.status_code == 404
            assert oracle.name(oracle.records()[cid(1)]) not in response.content.decode()
