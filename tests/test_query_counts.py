"""A page costs a fixed, small number of database queries, whatever the number of rows: the list
page of a cached lookup, the office register's page and a contact's page (issue 13).

The numbers count what a request runs inside the test's transaction: the audit event's insert
comes with a savepoint and its release (2 more than in production)."""

from __future__ import annotations

import pytest

from tests.dashboard_fixtures import cid, ids_range, page_html

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

LOOKUP = "/contacts/"
# user, credentials, register state, column choice, recently viewed, audit insert (+2)
CACHED_LOOKUP_QUERIES = 8
# the same, and the register's counts (4), the page's rows (its sync state read once)
REGISTER_PAGE_QUERIES = 13
# user, credentials, register state, audit insert (+2)
CONTACT_PAGE_QUERIES = 6


@pytest.mark.parametrize("count", [10, 100])
def test_a_cached_lookup_page(en_client, credential, django_assert_max_num_queries, count):
    params = {"customer": "M1001", "ids": ",".join(ids_range(1, count))}
    page_html(en_client.get(LOOKUP, params))  # read to its end: Vitec's answer now cached
    with django_assert_max_num_queries(CACHED_LOOKUP_QUERIES):
        response = en_client.get(LOOKUP, params)
    assert page_html(response).count('<th scope="row">') == min(count, 50)


@pytest.mark.parametrize("per_page", ["25", "100"])
def test_a_page_of_the_register(en_client, synced, django_assert_max_num_queries, per_page):
    params = {"customer": "M1002", "type": "Person", "page": "2", "per_page": per_page}
    assert en_client.get(LOOKUP).status_code == 200  # the session renewed (crmviewer.middleware)
    with django_assert_max_num_queries(REGISTER_PAGE_QUERIES):
        response = en_client.get(LOOKUP, params)
    assert response.content.decode().count('<th scope="row">') == int(per_page)


def test_a_contacts_page(en_client, credential, django_assert_max_num_queries):
    url = f"/contacts/{cid(1)}/"
    assert en_client.get(url, {"customer": "M1001"}).status_code == 200
    with django_assert_max_num_queries(CONTACT_PAGE_QUERIES):
        response = en_client.get(url, {"customer": "M1001"})
    assert response.status_code == 200 and 'id="identity-heading"' in response.content.decode()
