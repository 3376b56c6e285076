"""Lists of ids kept in the database: the link of a long lookup (`list=`) works after a log-out
and for a colleague with their own credential for the customer; lists saved by name, shared,
renamed and deleted by their owner only; the purge of unused automatic lists.

Against the real sandbox over HTTP, like the other page tests: the expected contacts are the
sandbox's own ids (tests/dashboard_fixtures.py), messages are asserted in English.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from contacts.models import IdList
from tests.dashboard_fixtures import ids_range, make_credential
from tests.test_lookup_views import row_ids, text, total

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

LOOKUP = "/contacts/"
EXPORT = "/contacts/export.csv"
LISTS = "/contacts/lists/"
SAVE = "/contacts/lists/save/"
RENAME = "/contacts/lists/rename/"
SHARE = "/contacts/lists/share/"
DELETE = "/contacts/lists/delete/"

NOT_FOUND = (
    "That list of ids was not found: it was deleted, or it belongs to a customer you have no "
    "access to."
)
NOT_YOURS = "That list was not found: it was deleted, or it is not one of your lists."
IDS = ids_range(1, 150)  # 1,799 characters with commas: more than a URL carries (1,500)


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return unescape(text(response))


def logged_in(user) -> Client:
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(user)
    return client


@pytest.fixture
def colleague(django_user_model, vitec) -> Client:
    """Another broker of the same office, with their own credential for M1001."""
    user = django_user_model.objects.create_user(username="kollega", password=None)
    make_credential(user, customer_id="M1001")
    return logged_in(user)


@pytest.fixture
def outsider(django_user_model, vitec) -> Client:
    """A broker whose only credential is for the other office, M1002."""
    user = django_user_model.objects.create_user(username="utomstaende", password=None)
    make_credential(user, customer_id="M1002")
    return logged_in(user)


@pytest.fixture
def long_link(en_client, credential) -> str:
    """The address the lookup of 150 ids redirects to."""
    response = en_client.post(LOOKUP, {"customer": "M1001", "ids": "\n".join(IDS)})
    assert response.status_code == 302
    return response["Location"]


def token_of(url: str) -> str:
    return query_of(url)["list"]


def save(client: Client, name: str, **params: str):
    return client.post(SAVE, {"customer": "M1001", "name": name, **params})


def message_after(client: Client, response) -> str:
    """The page a POST redirected to, with its message."""
    assert response.status_code == 302, response.status_code
    return page(client, response["Location"])


# --- the link of a long lookup ----------------------------------------------------------------


def test_a_long_lookup_redirects_to_a_short_link_by_a_database_list(en_client, long_link):
    assert long_link.startswith("/contacts/?customer=M1001&list=")
    assert set(query_of(long_link)) == {"customer", "list"}
    assert len(long_link) < 200
    first = en_client.get(long_link)
    assert total(first) == 150
    assert row_ids(first) == IDS[:50]
    third = en_client.get(long_link + "&page=3")
    assert row_ids(third) == IDS[100:150]
    assert IdList.objects.count() == 1


def test_the_same_long_lookup_again_reuses_its_list(en_client, long_link):
    again = en_client.post(LOOKUP, {"customer": "M1001", "ids": ",".join(IDS)})
    assert again["Location"] == long_link
    other = en_client.post(LOOKUP, {"customer": "M1001", "ids": ",".join(ids_range(2, 151))})
    assert token_of(other["Location"]) != token_of(long_link)
    assert IdList.objects.count() == 2


def test_a_colleague_opens_the_same_link_and_sees_the_same_rows(colleague, long_link):
    shown = []
    for number in (1, 2, 3):
        response = colleague.get(long_link + f"&page={number}")
        assert response.status_code == 200
        assert total(response) == 150
        shown += row_ids(response)
    assert shown == IDS


def test_a_broker_of_another_customer_gets_no_contact_of_it(outsider, long_link):
    response = outsider.get(long_link)  # they have no credential for M1001
    assert response.status_code == 404
    assert not set(IDS) & set(row_ids(response))
    for params in (
        {"list": token_of(long_link)},
        {"customer": "M1002", "list": token_of(long_link)},
    ):
        response = outsider.get(LOOKUP, params)
        assert response.status_code == 200
        assert NOT_FOUND in unescape(text(response))
        assert row_ids(response) == []
        assert not any(i in text(response) for i in IDS)


def test_a_list_of_one_customer_does_not_open_under_another(en_client, credential, long_link):
    make_credential(credential.user, customer_id="M1002")
    response = en_client.get(LOOKUP, {"customer": "M1002", "list": token_of(long_link)})
    assert NOT_FOUND in unescape(text(response))
    assert row_ids(response) == []


def test_the_list_survives_logging_out_and_in(en_client, broker, long_link):
    en_client.logout()
    assert en_client.get(long_link).status_code == 302  # to the login page
    en_client.force_login(broker)
    response = en_client.get(long_link)
    assert total(response) == 150
    assert row_ids(response) == IDS[:50]


def test_an_unknown_token_says_not_found(en_client, credential):
    for token in ("no-such-list", "x" * 500, "../../etc", "%00"):
        response = en_client.get(LOOKUP, {"customer": "M1001", "list": token})
        assert response.status_code == 200
        assert NOT_FOUND in unescape(text(response))
        assert row_ids(response) == []


def test_a_refresh_keeps_the_list(en_client, long_link):
    token = token_of(long_link)
    refresh = en_client.post(LOOKUP, {"customer": "M1001", "list": token, "refresh": "1"})
    assert refresh.status_code == 302
    assert token_of(refresh["Location"]) == token


def test_the_csv_export_of_a_list_view_holds_its_contacts(en_client, long_link):
    response = en_client.get(EXPORT, {"customer": "M1001", "list": token_of(long_link)})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"), newline=""), delimiter=";"))
    assert [row[0] for row in rows[1:]] == IDS


def test_the_csv_export_of_an_unknown_list_goes_back_to_the_page(en_client, credential):
    response = en_client.get(EXPORT, {"customer": "M1001", "list": "no-such-list"})
    assert response.status_code == 302
    assert response["Location"] == "/contacts/?customer=M1001"


# --- saving by name, sharing, renaming, deleting ----------------------------------------------


def test_a_list_view_offers_to_save_it(en_client, long_link):
    shown = page(en_client, long_link)
    assert "Save this list as" in shown
    assert f'name="list" value="{token_of(long_link)}"' in shown


def test_save_by_name_appears_on_the_owners_lists_page(en_client, long_link):
    token = token_of(long_link)
    response = save(en_client, "Villaägare Täby", list=token)
    shown = message_after(en_client, response)
    assert "The list was saved as “Villaägare Täby”." in shown
    assert token_of(response["Location"]) == token  # the automatic list got the name
    assert "This is the saved list “Villaägare Täby”." in shown
    assert "Save this list as" not in shown

    lists = page(en_client, LISTS + "?customer=M1001")
    assert "Villaägare Täby" in lists
    assert "<td>150</td>" in lists
    assert "<td>broker</td>" in lists
    assert f'href="/contacts/?customer=M1001&list={token}"' in lists


def test_save_a_short_list_by_name(en_client, credential):
    ids = ids_range(1, 3)
    response = save(en_client, "Tre kontakter", ids=",".join(ids))
    shown = message_after(en_client, response)
    assert "The list was saved as “Tre kontakter”." in shown
    assert row_ids(en_client.get(response["Location"])) == ids
    lists = page(en_client, LISTS + "?customer=M1001")
    assert "Tre kontakter" in lists and "<td>3</td>" in lists


def test_the_nav_links_to_the_lists_page(en_client, credential):
    assert 'href="/contacts/lists/"' in page(en_client, LOOKUP + "?customer=M1001")
    assert "No saved lists for this customer yet." in page(en_client, LISTS)


def test_sharing_shows_the_list_to_a_colleague_and_unsharing_hides_it(
    en_client, colleague, outsider, long_link
):
    token = token_of(long_link)
    save(en_client, "Budgivare", list=token)
    assert "Budgivare" not in page(colleague, LISTS + "?customer=M1001")

    shared = en_client.post(SHARE, {"customer": "M1001", "token": token, "shared": "on"})
    assert "“Budgivare” is shared with your colleagues." in message_after(en_client, shared)
    theirs = page(colleague, LISTS + "?customer=M1001")
    assert "Budgivare" in theirs and "<td>broker</td>" in theirs
    assert "Budgivare" not in page(outsider, LISTS)  # another office sees nothing
    assert 'action="/contacts/lists/delete/"' not in theirs  # only the owner's controls

    unshared = en_client.post(SHARE, {"customer": "M1001", "token": token})
    assert "“Budgivare” is no longer shared." in message_after(en_client, unshared)
    assert "Budgivare" not in page(colleague, LISTS + "?customer=M1001")


def test_the_owner_renames_and_deletes(en_client, long_link):
    token = token_of(long_link)
    message_after(en_client, save(en_client, "Gammalt namn", list=token))
    renamed = en_client.post(RENAME, {"customer": "M1001", "token": token, "name": " Nytt namn "})
    shown = message_after(en_client, renamed)
    assert "The list was renamed “Nytt namn”." in shown
    assert "Gammalt namn" not in shown and "Nytt namn" in shown

    deleted = en_client.post(DELETE, {"customer": "M1001", "token": token})
    shown = message_after(en_client, deleted)
    assert "The list “Nytt namn” was deleted." in shown
    assert "No saved lists for this customer yet." in shown
    response = en_client.get(long_link)
    assert NOT_FOUND in unescape(text(response))
    assert row_ids(response) == []


def test_a_colleagues_rename_share_and_delete_change_nothing(en_client, colleague, long_link):
    token = token_of(long_link)
    save(en_client, "Mina köpare", list=token)
    en_client.post(SHARE, {"customer": "M1001", "token": token, "shared": "on"})
    for url, data in (
        (RENAME, {"name": "Kapad"}),
        (SHARE, {}),
        (DELETE, {}),
    ):
        response = colleague.post(url, {"customer": "M1001", "token": token, **data})
        assert NOT_YOURS in message_after(colleague, response)
    lists = page(en_client, LISTS + "?customer=M1001")
    assert "Mina köpare" in lists and "Kapad" not in lists
    assert "checked" in lists  # still shared
    assert total(colleague.get(long_link)) == 150  # and still opens for them


def test_a_colleague_saves_a_copy_of_a_shared_list(en_client, colleague, long_link):
    token = token_of(long_link)
    save(en_client, "Original", list=token)
    response = save(colleague, "Min kopia", list=token)
    assert "The list was saved as “Min kopia”." in message_after(colleague, response)
    assert token_of(response["Location"]) != token
    assert "Min kopia" not in page(en_client, LISTS + "?customer=M1001")
    assert "Original" in page(en_client, LISTS + "?customer=M1001")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the list a name."),
        ("   ", "Give the list a name."),
        ("x" * 101, "A list's name is at most 100 characters."),
        ("a\tb", "A list's name cannot hold control characters."),
        ("rad\nbrytning", "A list's name cannot hold control characters."),
        ("a\x85b", "A list's name cannot hold control characters."),
    ],
    ids=["empty", "blank", "too-long", "tab", "newline", "c1"],
)
def test_a_garbage_name_is_refused_with_a_message(en_client, long_link, name, message):
    token = token_of(long_link)
    response = save(en_client, name, list=token)
    assert message in message_after(en_client, response)
    assert token_of(response["Location"]) == token  # back to the same view
    save(en_client, "Bra namn", list=token)
    renamed = en_client.post(RENAME, {"customer": "M1001", "token": token, "name": name})
    assert message in message_after(en_client, renamed)
    assert not IdList.objects.exclude(name__in=["", "Bra namn"]).exists()


@pytest.mark.parametrize("token", ["", "no-such-list", "x" * 500, "a\tb", "../lists/"])
def test_a_garbage_token_is_refused_with_a_message(en_client, credential, token):
    for url, data in ((RENAME, {"name": "Namn"}), (SHARE, {"shared": "on"}), (DELETE, {})):
        response = en_client.post(url, {"customer": "M1001", "token": token, **data})
        assert NOT_YOURS in message_after(en_client, response)
    response = save(en_client, "Namn", list=token)
    shown = message_after(en_client, response)
    assert NOT_FOUND in shown or "There are no ids to save in a list." in shown
    assert not IdList.objects.exists()


def test_a_name_with_nul_is_refused_by_the_site_before_the_view(en_client, long_link):
    response = save(en_client, "a\x00b", list=token_of(long_link))
    assert response.status_code == 400  # crmviewer.middleware refuses NUL in any request
    assert not IdList.objects.exclude(name="").exists()


def test_saving_for_a_customer_not_ones_own_is_refused(en_client, credential):
    response = save(en_client, "Namn", ids=",".join(ids_range(1, 3, "M1002")), customer="M1002")
    assert "That customer is not one of yours." in message_after(en_client, response)
    assert not IdList.objects.exists()


def test_the_list_endpoints_take_only_a_post_with_its_csrf_token(broker, credential):
    client = Client(enforce_csrf_checks=True, headers={"Accept-Language": "en"})
    client.force_login(broker)
    for url in (SAVE, RENAME, SHARE, DELETE):
        assert client.get(url).status_code == 405
        assert client.post(url, {"customer": "M1001", "name": "x"}).status_code == 403
    anonymous = Client()
    assert anonymous.get(LISTS).status_code == 302
    assert anonymous.post(DELETE, {"token": "x"}).status_code in (302, 403)


# --- used_at and the purge --------------------------------------------------------------------


def test_opening_a_list_records_its_use_at_most_once_an_hour(en_client, long_link):
    token = token_of(long_link)
    recent = timezone.now() - timedelta(minutes=10)
    IdList.objects.filter(token=token).update(used_at=recent)
    en_client.get(long_link)
    assert IdList.objects.get(token=token).used_at == recent
    old = timezone.now() - timedelta(hours=2)
    IdList.objects.filter(token=token).update(used_at=old)
    en_client.get(long_link)
    assert IdList.objects.get(token=token).used_at > timezone.now() - timedelta(minutes=1)


def test_the_purge_deletes_unnamed_lists_unused_for_31_days(broker, settings):
    settings.ID_LIST_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    stale = IdList.objects.create(owner=broker, customer_id="M1001", ids="a,b", used_at=old)
    named = IdList.objects.create(
        owner=broker, customer_id="M1001", ids="a,b", name="Sparad", used_at=old
    )
    recent = IdList.objects.create(
        owner=broker, customer_id="M1001", ids="c", used_at=timezone.now() - timedelta(days=29)
    )
    out = io.StringIO()
    call_command("schedule_syncs", stdout=out)
    assert "Purged unused lists of ids: 1" in out.getvalue()
    left = set(IdList.objects.values_list("pk", flat=True))
    assert left == {named.pk, recent.pk}
    assert stale.pk not in left


def test_the_office_register_filters_by_a_list_and_saves_it(en_client, synced):
    ids = ids_range(1, 150, "M1002")
    posted = en_client.post(LOOKUP, {"customer": "M1002", "ids": ",".join(ids)})
    assert posted.status_code == 302
    link = posted["Location"]
    assert set(query_of(link)) == {"customer", "list"} and len(link) < 200
    response = en_client.get(link)
    assert total(response) == 150
    shown = unescape(text(response))
    assert f'<input type="hidden" name="list" value="{token_of(link)}">' in shown  # the filters
    assert "Save this list as" in shown

    saved = en_client.post(SAVE, {"customer": "M1002", "list": token_of(link), "name": "Kontor 2"})
    shown = message_after(en_client, saved)
    assert "This is the saved list “Kontor 2”." in shown
    assert "Kontor 2" in page(en_client, LISTS + "?customer=M1002")
    assert "Kontor 2" not in page(en_client, LISTS + "?customer=M1001")
