"""The broker's pages over Django's test client, against the real sandbox over HTTP.

Names, numbers and categories are read from the sandbox's own records (the `reference` fixture,
with the accessors of tests/oracle.py); messages are asserted in English, or as
language-independent content.
"""

from __future__ import annotations

import re
from collections import Counter
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from tests import oracle
from tests.dashboard_fixtures import (
    all_columns,
    cid,
    contact_calls,
    escaped,
    ids_range,
    ids_sent,
    list_cell,
    list_email,
    make_credential,
    missing_id,
    page_html,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

LOOKUP = "/contacts/"
OUR_SCRIPT = '<script src="/static/js/app.js" defer></script>'
EXPORT = "/contacts/export.csv"
NONE_SHOWN = "\u2013"  # the en dash the detail page shows for a missing value

_ROW = re.compile(r'<th scope="row"><a href="/contacts/([^/"]+)/\?customer=(\w+)&amp;[^"]*">')
# The name is the link's text; a deceased person's mark (†) may follow the link.
_ROW_NAME = re.compile(r'<th scope="row"><a href="[^"]*">(.*?)</a>')
_HEADING = re.compile(r'<h2 id="results-heading">\s*(\d+) contacts?\s*</h2>')


def text(response) -> str:
    return page_html(response)


def row_ids(response) -> list[str]:
    return [m.group(1) for m in _ROW.finditer(text(response))]


def row_names(response) -> list[str]:
    return [unescape(m) for m in _ROW_NAME.findall(text(response))]


def total(response) -> int:
    match = _HEADING.search(text(response))
    assert match, "the results heading with the number of contacts is missing"
    return int(match.group(1))


def get(client: Client, credential, ids=(), **params):
    query = {"credential": credential.pk, **params}
    if ids:
        query["ids"] = ",".join(ids)
    return client.get(LOOKUP, query)


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def links(response, rel: str | None = None) -> list[str]:
    """The page's links (those of {% querystring %} are relative: made absolute here)."""
    pattern = r'<a href="([^"]*)"' + (rf' rel="{rel}"' if rel else "")
    hrefs = [unescape(h) for h in re.findall(pattern, text(response))]
    return [LOOKUP + h if h.startswith("?") else h for h in hrefs]


def all_pages(client: Client, credential, ids, **params) -> str:
    """The text of every page of a lookup, one after the other."""
    pages = []
    for number in range(1, (len(ids) + 49) // 50 + 1):
        response = get(client, credential, ids, page=str(number), **params)
        assert response.status_code == 200
        pages.append(text(response))
    return "\n".join(pages)


# --- access ---------------------------------------------------------------------------------------


ANONYMOUS = [
    ("get", "/"),
    ("get", LOOKUP),
    ("get", f"{LOOKUP}?ids={cid(1)}"),
    ("post", LOOKUP),
    ("get", EXPORT),
    ("get", f"{EXPORT}?ids={cid(1)}"),
    ("get", f"/contacts/{cid(1)}/"),
    ("post", f"/contacts/{cid(1)}/reveal/"),
    ("get", "/admin/"),
    ("get", "/admin/contacts/auditevent/"),  # the credential admin: tests/test_admin.py
]


@pytest.mark.parametrize(("method", "path"), ANONYMOUS)
def test_anonymous_is_sent_to_a_login_page(client, credential, vitec, method, path):
    asked = path
    response = getattr(client, method)(path)
    for _ in range(3):  # "/" redirects to /contacts/, which redirects to the login page
        assert response.status_code == 302, f"{method} {asked} -> {response.status_code}"
        location = response["Location"]
        if urlsplit(location).path in ("/accounts/login/", "/admin/login/"):
            break
        asked = location
        response = client.get(location)
    else:
        pytest.fail(f"{method} {path} never reached a login page")
    assert query_of(location)["next"] == asked  # and back there after the login
    login = client.get(location, headers={"Accept-Language": "en"})
    assert login.status_code == 200
    assert 'name="username"' in text(login) and 'name="password"' in text(login)
    assert '<th scope="row">' not in text(login)
    assert vitec.stats.requests == []  # nothing was fetched for an anonymous visitor


@pytest.mark.parametrize("logged_in", [False, True])
def test_root_redirects_to_the_contacts_page(client, broker, logged_in):
    if logged_in:
        client.force_login(broker)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == LOOKUP


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", LOOKUP), ("get", f"{LOOKUP}?ids={cid(1)}"), ("post", LOOKUP), ("get", EXPORT)],
)
@pytest.mark.parametrize("inactive_credential", [False, True])
def test_a_user_without_credentials_gets_the_friendly_page(
    broker, vitec, method, path, inactive_credential
):
    if inactive_credential:
        stale = make_credential(broker)
        stale.is_active = False
        stale.save()
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(broker)
    response = getattr(client, method)(path, {"ids": cid(1)} if method == "post" else None)
    assert response.status_code == 200
    assert response.templates[0].name == "contacts/no_credentials.html"
    assert "No Vitec access yet" in text(response)
    assert "Ask your administrator to add one for your office." in text(response)
    assert contact_calls(vitec) == []


def test_a_user_without_credentials_gets_the_friendly_page_on_a_detail_link(broker, vitec):
    """Like /contacts/ and the CSV, a detail link gives the friendly page, not a bare 404 (it
    answered 404 "No such credential" in commit f5a9cd7)."""
    client = Client(headers={"Accept-Language": "en"})
    client.force_login(broker)
    response = client.get(f"/contacts/{cid(1)}/")
    assert response.status_code == 200
    assert "No Vitec access yet" in text(response)


# --- language -------------------------------------------------------------------------------------


def test_the_page_is_swedish_by_default(client, broker, credential):
    client.force_login(broker)
    response = client.get(LOOKUP)
    assert response.status_code == 200
    assert '<html lang="sv">' in text(response)
    assert response["Content-Language"] == "sv"
    assert '<option value="sv" selected lang="sv">' in text(response)


@pytest.mark.parametrize("how", ["header", "cookie"])
def test_the_page_is_english_on_request(client, broker, credential, how):
    client.force_login(broker)
    if how == "cookie":
        client.cookies["django_language"] = "en"
        response = client.get(LOOKUP)
    else:
        response = client.get(LOOKUP, headers={"Accept-Language": "en"})
    assert '<html lang="en">' in text(response)
    assert response["Content-Language"] == "en"
    assert "<h1>Contacts</h1>" in text(response)


# --- the lookup page ------------------------------------------------------------------------------


def test_lookup_by_get_shows_each_found_contact(en_client, credential, reference, vitec):
    ids = [*ids_range(1, 40), missing_id(9999), "no-such-id"]
    response = get(en_client, credential, ids)
    assert response.status_code == 200
    page = text(response)
    found = [reference[i] for i in ids_range(1, 40)]

    assert row_ids(response) == [c["id"] for c in found]
    assert row_names(response) == [oracle.name(c) for c in found]
    assert total(response) == 40
    for contact in found:
        if phone := oracle.primary_phone(contact):
            assert oracle.phone_shown(page, phone)
        if email := oracle.email(contact):
            assert list_email(email) in page
        if city := oracle.city(contact):
            assert list_cell("city", "City", escaped(city)) in page
    # Not found ids are named.
    not_found = re.search(r"was not found in Vitec|were not found in Vitec", page)
    assert not_found
    assert f'<p class="ids">{missing_id(9999)}, no-such-id</p>' in page
    assert sorted(ids_sent(vitec)) == sorted(ids)


def test_lookup_masks_every_personnummer(en_client, credential, reference):
    all_columns(credential.user)
    ids = ids_range(1, 200)
    page = all_pages(en_client, credential, ids)
    assert page.count('<th scope="row">') == 200
    numbers = [n for i in ids if (n := oracle.swedish_personnummer(reference[i]))]
    assert len(numbers) > 100
    for number in numbers:
        digits = oracle.digits(number)
        masked = oracle.masked(number)
        assert list_cell("id_number", "Org./personnummer", masked, nowrap=True) in page
        assert number not in page
        assert digits not in page
        assert digits[-10:] not in page
    for contact_id in ids:  # foreign numbers too
        if number := oracle.personnummer(reference[contact_id]):
            assert number not in page


def test_lookup_page_never_writes_markup_from_the_data(en_client, credential, reference):
    ids = ids_range(1, 300)
    page = all_pages(en_client, credential, ids)
    assert page.count('<th scope="row">') == 300
    assert page.count("<script") == page.count(OUR_SCRIPT) == 6  # one a page, ours
    assert "<b>" not in page and "<i>" not in page
    names_with_amp = [n for i in ids if "&" in (n := oracle.name(reference[i]))]
    assert names_with_amp, "the sample should hold names with an ampersand"
    for name in names_with_amp:
        assert escaped(name) in page


def test_the_help_text_is_referenced_by_an_existing_element(en_client, credential):
    """Every id the ids textarea names in aria-describedby is an element of the page (a screen
    reader reads the help text from it)."""
    page = text(en_client.get(LOOKUP))
    described_by = re.search(r'<textarea[^>]*aria-describedby="([^"]+)"', page)
    assert described_by
    for element_id in described_by.group(1).split():
        assert f'id="{element_id}"' in page


# --- POST: a new id list, then a redirect to a GET ------------------------------------------------


def test_post_ids_redirects_to_a_get_carrying_them(en_client, credential, reference):
    response = en_client.post(
        LOOKUP,
        {
            "credential": credential.pk,
            "ids": f"{cid(3)}, {cid(1)}\n{cid(2)};{cid(3)}",
            "type": "Person",
            "sort": "-name",
            "q": "",
        },
    )
    assert response.status_code == 302
    target = response["Location"]
    assert urlsplit(target).path == LOOKUP
    assert query_of(target) == {
        "customer": credential.customer_id,
        "ids": f"{cid(3)},{cid(1)},{cid(2)}",
        "type": "Person",
        "sort": "-name",
    }
    page = en_client.get(target)
    persons = [reference[i] for i in (cid(3), cid(1), cid(2)) if reference[i]["type"] == "Person"]
    expected = sorted(persons, key=oracle.swedish_order, reverse=True)
    assert row_ids(page) == [c["id"] for c in expected]


def test_a_long_list_goes_by_a_database_list(en_client, credential, reference):
    ids = ids_range(1, 150)  # 1,799 characters: more than a URL carries (1,500)
    response = en_client.post(LOOKUP, {"credential": credential.pk, "ids": "\n".join(ids)})
    assert response.status_code == 302
    params = query_of(response["Location"])
    assert "ids" not in params
    assert set(params) == {"customer", "list"}
    assert params["customer"] == "M1001"
    assert len(response["Location"]) < 200
    again = en_client.post(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)})
    assert query_of(again["Location"])["list"] == params["list"]  # the same ids: the same list

    first = en_client.get(response["Location"])
    assert total(first) == 150
    assert row_ids(first) == ids[:50]

    base = {"credential": credential.pk, "list": params["list"]}
    for page, expected in [
        ("2", ids[50:100]),
        ("3", ids[100:150]),
        ("4", ids[100:150]),
        ("99999", ids[100:150]),
        ("abc", ids[:50]),
        ("0", ids[:50]),
        ("-1", ids[:50]),
        ("", ids[:50]),
    ]:
        response = en_client.get(LOOKUP, {**base, "page": page})
        assert response.status_code == 200, page
        assert row_ids(response) == expected, page
        assert total(response) == 150


def test_an_unknown_list_token_says_so(en_client, credential):
    response = en_client.get(LOOKUP, {"credential": credential.pk, "list": "no-such-key"})
    assert response.status_code == 200
    assert (
        "That list of ids was not found: it was deleted, or it belongs to a customer you have "
        "no access to." in text(response)
    )
    assert row_ids(response) == []


@pytest.mark.parametrize(
    "ids_text", ["", "   ", " ,;\n", "a/b ?x #y 100% a\\b", "x" * 41], ids=repr
)
def test_post_without_usable_ids_shows_the_form_error(en_client, credential, vitec, ids_text):
    response = en_client.post(LOOKUP, {"credential": credential.pk, "ids": ids_text})
    assert response.status_code == 200
    assert 'id="ids-error"' in text(response)
    assert "Enter at least one contact id." in text(response)
    assert contact_calls(vitec) == []


@pytest.mark.parametrize(
    ("extra", "notice"),
    [
        ([f"X-{n}" for n in range(1001)], "Only the first"),
        (
            ["M" + "1" * 40],
            "1 id longer than 40 characters was left out: M11111111111111111111111…",
        ),
        (
            ["a/b", "x%2Fy", "#1", "?2", "5/5"],
            "5 ids with characters no contact id has (/ ? # % or control characters) were left "
            "out: a/b, x%2Fy, #1 and 2 more",
        ),
    ],
    ids=["over 1000 ids", "41 characters", "unsafe characters"],
)
def test_post_keeps_the_notices_about_ids_left_out(en_client, credential, extra, notice):
    """The ids a POST leaves out are named on the page its redirect leads to, as a GET with the
    same ids in ?ids= names them."""
    text_in = "\n".join([cid(1), *extra])
    direct = en_client.get(LOOKUP, {"credential": credential.pk, "ids": text_in})
    assert notice in text(direct)  # the GET form of the same input says it

    response = en_client.post(LOOKUP, {"credential": credential.pk, "ids": text_in}, follow=True)
    assert response.status_code == 200
    assert row_ids(response)[0] == cid(1)
    assert text(response).count(notice) == 1
    assert text(response).index("<h1>") < text(response).index(notice)  # under the heading


# --- filters, counts, sorting, pagination ---------------------------------------------------------


def test_type_filter_narrows_the_rows_and_counts_appear(en_client, credential, reference):
    ids = ids_range(1, 150)
    contacts = [reference[i] for i in ids]
    counts = Counter(c["type"] for c in contacts)
    response = get(en_client, credential, ids, type="Company")
    page = text(response)
    assert row_ids(response) == [c["id"] for c in contacts if c["type"] == "Company"]
    assert total(response) == counts["Company"]
    assert f'<option value="">All types ({len(ids)})</option>' in page
    assert f'<option value="Company" selected>Company ({counts["Company"]})</option>' in page
    assert f'<option value="Person">Person ({counts["Person"]})</option>' in page
    estates = counts["DeceasedEstate"]
    assert f'<option value="DeceasedEstate">Deceased estate ({estates})</option>' in page
    assert "Clear filters" in page


def test_category_filter_narrows_the_rows_and_counts_appear(en_client, credential, reference):
    ids = ids_range(1, 150)
    contacts = [reference[i] for i in ids]
    counts = Counter(i for c in contacts for i in oracle.category_ids(c))
    names = {cat["id"]: cat["name"] for c in contacts for cat in oracle.categories(c)}
    category = counts.most_common(1)[0][0]
    response = get(en_client, credential, ids, category=category)
    page = text(response)
    assert row_ids(response) == [c["id"] for c in contacts if category in oracle.category_ids(c)]
    for category_id, count in counts.items():
        selected = " selected" if category_id == category else ""
        option = f'<option value="{category_id}"{selected}>{escaped(names[category_id])} ({count})'
        assert option in page


def test_text_filter_narrows_the_rows(en_client, credential, reference):
    ids = ids_range(1, 150)
    contacts = [reference[i] for i in ids]
    city = Counter(oracle.city(c) for c in contacts if oracle.city(c)).most_common(2)[1][0]
    response = get(en_client, credential, ids, q=city.upper())
    expected = [c["id"] for c in contacts if city.casefold() in _fields(c)]
    assert row_ids(response) == expected
    assert 0 < len(expected) < len(ids)
    assert f'value="{escaped(city.upper())}"' in text(response)

    combined = get(en_client, credential, ids, q=city, type="Person")
    assert row_ids(combined) == [i for i in expected if reference[i]["type"] == "Person"]


def _fields(contact) -> str:
    """What the text filter looks in: name, e-mails, phones and city."""
    fields = [oracle.name(contact), *oracle.emails(contact), *oracle.phones(contact)]
    return " | ".join([*fields, oracle.city(contact) or ""]).casefold()


def test_sort_links_and_order(en_client, credential, reference):
    ids = ids_range(1, 40)
    by_name = sorted(ids, key=lambda i: oracle.swedish_order(reference[i]))
    surnames = [reference[i].get("lastName") or "" for i in by_name]
    assert any(s[:1] in "ÅÄÖ" for s in surnames)  # Swedish order is at stake in this sample

    ascending = get(en_client, credential, ids, sort="name")
    assert row_ids(ascending) == by_name
    header = re.search(
        r'<th scope="col" aria-sort="ascending"><a href="([^"]+)">Name', text(ascending)
    )
    assert header
    assert query_of(unescape(header.group(1)))["sort"] == "-name"
    assert query_of(unescape(header.group(1)))["ids"] == ",".join(ids)

    descending = get(en_client, credential, ids, sort="-name")
    assert row_ids(descending) == by_name[::-1]
    assert 'aria-sort="descending"' in text(descending)

    for garbage in ("evil", "-evil", "name;drop", "<script>"):
        response = get(en_client, credential, ids, sort=garbage)
        assert response.status_code == 200
        assert row_ids(response) == ids
        assert "aria-sort" not in text(response)
        assert "<script>" not in text(response)


@pytest.mark.parametrize("key", ["city", "lead_score", "type", "phone", "email"])
def test_every_sortable_column_has_a_link_that_sorts(en_client, credential, key):
    all_columns(credential.user)
    ids = ids_range(1, 40)
    page = get(en_client, credential, ids)
    hrefs = [h for h in links(page) if query_of(h).get("sort") == key]
    assert len(hrefs) == 1, f"one sort link for {key}"
    sorted_page = en_client.get(hrefs[0])
    assert sorted_page.status_code == 200
    assert sorted(row_ids(sorted_page)) == sorted(ids)
    assert row_ids(sorted_page) != ids
    assert text(sorted_page).count('aria-sort="ascending"') == 1


def one_link_above_and_below(response, rel: str) -> str:
    """The page links come above and below the list: the same link twice."""
    above, below = links(response, rel)
    assert above == below
    return above


def test_pagination_fifty_rows_a_page(en_client, credential):
    ids = ids_range(1, 120)
    first = get(en_client, credential, ids)
    assert row_ids(first) == ids[:50]
    assert text(first).count('<span class="range">1\u201350 of 120</span>') == 2
    assert links(first, "prev") == []
    next_href = one_link_above_and_below(first, "next")
    assert query_of(next_href)["page"] == "2"
    assert query_of(next_href)["ids"] == ",".join(ids)
    numbered = re.findall(r'<a href="([^"]*)" aria-label="Page (\d+)">', text(first))
    assert [(query_of(unescape(h))["page"], n) for h, n in numbered] == [("2", "2"), ("3", "3")] * 2
    assert text(first).count('<a aria-current="page"') == 2

    last = get(en_client, credential, ids, page="3")
    assert row_ids(last) == ids[100:]
    assert '<span class="range">101\u2013120 of 120</span>' in text(last)
    assert links(last, "next") == []
    prev_href = one_link_above_and_below(last, "prev")
    assert row_ids(en_client.get(prev_href)) == ids[50:100]


@pytest.mark.parametrize(
    ("per_page", "shown"), [("25", 25), ("100", 100), ("7", 50), ("1e9", 50), ("", 50)]
)
def test_the_broker_chooses_rows_per_page(en_client, credential, per_page, shown):
    ids = ids_range(1, 120)
    page = get(en_client, credential, ids, per_page=per_page)
    assert row_ids(page) == ids[:shown]
    if shown != 50:
        next_href = one_link_above_and_below(page, "next")
        assert query_of(next_href)["per_page"] == per_page  # the choice stays while paging
        assert row_ids(en_client.get(next_href)) == ids[shown : 2 * shown]


def test_few_rows_have_no_pagination(en_client, credential):
    response = get(en_client, credential, ids_range(1, 50))
    assert len(row_ids(response)) == 50
    assert 'class="pagination"' not in text(response)


# --- refresh --------------------------------------------------------------------------------------


def test_refresh_bypasses_the_cache_and_redirects(en_client, credential, vitec):
    ids = ids_range(1, 30)
    get(en_client, credential, ids, sort="name")
    vitec.stats.reset()
    again = get(en_client, credential, ids, sort="name")
    assert contact_calls(vitec) == []
    assert len(row_ids(again)) == 30

    response = en_client.post(
        LOOKUP,
        {"credential": credential.pk, "ids": ",".join(ids), "sort": "name", "refresh": "1"},
    )
    assert response.status_code == 302
    assert query_of(response["Location"]) == {
        "customer": credential.customer_id,
        "ids": ",".join(ids),
        "sort": "name",
    }
    assert sorted(ids_sent(vitec)) == sorted(ids)
    assert "categories" in {r.endpoint for r in vitec.stats.requests}

    vitec.stats.reset()
    after = en_client.get(response["Location"])
    assert contact_calls(vitec) == []  # the GET reads what the refresh stored
    assert row_ids(after) == row_ids(again)


def test_refresh_of_a_database_list(en_client, credential, vitec):
    ids = ids_range(1, 200)
    response = en_client.post(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)})
    key = query_of(response["Location"])["list"]
    text(en_client.get(response["Location"]))  # the page read to its end: every answer in
    vitec.stats.reset()
    refresh = en_client.post(LOOKUP, {"credential": credential.pk, "list": key, "refresh": "1"})
    assert refresh.status_code == 302
    assert query_of(refresh["Location"])["list"] == key
    assert sorted(ids_sent(vitec)) == sorted(ids)


# --- other users' credentials, several credentials ------------------------------------------------


# Every request that takes a credential id, and ids that are not the broker's: another user's
# and an inactive credential on every request; odd values, which must never be read as the
# broker's own credential (as "3.0" or " 3 " could be), on each kind of page.
REQUESTS_WITH_A_CREDENTIAL = {
    "lookup": ("get", LOOKUP, {"ids": cid(1)}),
    "lookup, no ids": ("get", LOOKUP, {}),
    "post": ("post", LOOKUP, {"ids": cid(1)}),
    "refresh": ("post", LOOKUP, {"ids": cid(1), "refresh": "1"}),
    "export": ("get", EXPORT, {"ids": cid(1)}),
    "detail": ("get", f"/contacts/{cid(1)}/", {}),
}
NOT_THE_BROKERS = [
    *[
        (whose, request)
        for whose in ("another user's", "inactive", "missing", "garbage")
        for request in REQUESTS_WITH_A_CREDENTIAL
    ],
    *[
        (whose, request)
        for whose in ("huge", "negative", "float", "spaces", "list")
        for request in ("lookup", "post", "export", "detail")
    ],
]


@pytest.mark.parametrize(
    ("whose", "request_name"), NOT_THE_BROKERS, ids=[f"{w}-{r}" for w, r in NOT_THE_BROKERS]
)
def test_a_credential_id_that_is_not_the_users_is_404(
    en_client, credential, other_broker, vitec, whose, request_name
):
    method, path, data = REQUESTS_WITH_A_CREDENTIAL[request_name]
    theirs = make_credential(other_broker)
    inactive = make_credential(credential.user, customer_id="M1002")
    inactive.is_active = False
    inactive.save()
    credential_id = {
        "another user's": theirs.pk,
        "inactive": inactive.pk,
        "missing": 10**6,
        "garbage": "1 OR 1=1",
        "huge": "9" * 30,
        "negative": "-1",
        "float": f"{credential.pk}.0",
        "spaces": f" {theirs.pk} ",
        "list": [str(credential.pk), str(theirs.pk)],
    }[whose]
    response = getattr(en_client, method)(path, {**data, "credential": credential_id})
    assert response.status_code == 404
    assert contact_calls(vitec) == []
    assert cid(1) not in text(response).replace(path, "")


def test_a_broker_with_two_credentials_can_switch(en_client, credential, reference):
    second = make_credential(credential.user, customer_id="M1002", label="Filialen")
    page = text(en_client.get(LOOKUP))  # no credential asked: the first by label
    assert '<select name="customer" id="id_customer">' in page
    assert f'<option value="{second.customer_id}" selected>Filialen (M1002)</option>' in page
    assert f'<option value="{credential.customer_id}">Kontoret (M1001)</option>' in page
    page = text(get(en_client, credential))
    assert f'<option value="{credential.customer_id}" selected>Kontoret (M1001)</option>' in page

    ids = [cid(1), cid(1, "M1002")]
    on_second = get(en_client, second, ids)
    assert '<option value="M1002" selected>Filialen (M1002)</option>' in text(on_second)
    assert row_ids(on_second) == [cid(1, "M1002")]
    assert row_names(on_second) == [oracle.name(reference[cid(1, "M1002")])]
    assert f'<p class="ids">{cid(1)}</p>' in text(on_second)
    assert "customer=M1002&amp;" in text(on_second)  # detail links name the customer

    on_first = get(en_client, credential, ids)
    assert row_ids(on_first) == [cid(1)]

    posted = en_client.post(LOOKUP, {"customer": "M1002", "ids": cid(2, "M1002")})
    assert query_of(posted["Location"])["customer"] == "M1002"


# --- the detail page ------------------------------------------------------------------------------


def _detail(en_client, credential, contact_id):
    return en_client.get(f"/contacts/{contact_id}/", {"credential": credential.pk})


def test_detail_of_a_person(en_client, credential, reference):
    person = next(
        c
        for c in reference.values()
        if c["customerId"] == "M1001"
        and c["type"] == "Person"
        and oracle.swedish_personnummer(c)
        and oracle.address(c).get("wgs84Coordinate")
        and len(oracle.phones(c)) >= 2
        and oracle.email(c)
        and any(cat["readOnly"] for cat in oracle.categories(c))
        and not all(cat["readOnly"] for cat in oracle.categories(c))
        and c["note"]
        and c["agentId"]
        and c["gdprApprovalDate"]
        and c["leadScore"]
    )
    response = _detail(en_client, credential, person["id"])
    assert response.status_code == 200
    page = text(response)
    number = oracle.personnummer(person)
    digits = oracle.digits(number)

    assert f"<h1>{escaped(oracle.name(person))} " in page
    assert f"<dd>{oracle.masked(number)}</dd>" in page
    assert number not in page and digits not in page
    address = oracle.address(person)
    assert escaped(address["streetAddress"]) in page
    assert f"{escaped(address['zipCode'])} {escaped(address['city'])}" in page
    coordinate = address["wgs84Coordinate"]
    lat, lon = f"{coordinate['latitude']:.6f}", f"{coordinate['longitude']:.6f}"
    assert f"<dd>{lat}, {lon} <a " in page
    osm = f"https://www.openstreetmap.org/?mlat={lat}&amp;mlon={lon}#map=17/{lat}/{lon}"
    assert f'<a href="{osm}" rel="noopener noreferrer" target="_blank">' in page
    assert "<iframe" not in page
    for phone in oracle.phones(person):
        assert oracle.phone_shown(page, phone)
    for email in oracle.emails(person):
        assert f'<a href="mailto:{escaped(email)}">{escaped(email)}</a>' in page
    gdpr = oracle.local_date(person, "gdprApprovalDate")
    assert f"<dt>GDPR informed</dt><dd>{gdpr}</dd>" in page
    for category in oracle.categories(person):
        marked = ' <span class="muted">(read-only)</span>' if category["readOnly"] else ""
        assert f'<span class="tag">{escaped(category["name"])}{marked}</span>' in page
    assert f"<dt>Lead score</dt><dd>{person['leadScore']}</dd>" in page
    advertising = {True: "Yes", False: "No", None: NONE_SHOWN}[person["advertisingEnabled"]]
    assert f"<dt>Advertising allowed</dt><dd>{advertising}</dd>" in page
    matched = {"Yes": "Yes", "No": "No", "NotAsked": "Not asked", None: NONE_SHOWN}[
        person["wantsToBeMatched"]
    ]
    assert f"<dt>Wants to be matched</dt><dd>{matched}</dd>" in page
    assert f'<dd class="note">{escaped(person["note"]).replace(chr(10), "<br>")}</dd>' in page
    # The broker by name from GetUser, its id beside it (tests/test_relations.py).
    assert re.search(rf"<dt>Broker</dt><dd>[^<]+ <span[^>]*>\({person['agentId']}\)</span>", page)
    assert f'<dd class="ids">{person["id"]}</dd>' in page
    assert f"<dd>{person['customerId']}</dd>" in page
    for field in ("createdAt", "changedAt"):
        assert oracle.local_minute(person, field) in page
    assert f'href="/contacts/?customer={credential.customer_id}&amp;ids={person["id"]}"' in page


def test_detail_of_a_company(en_client, credential, reference):
    company = next(
        c
        for c in reference.values()
        if c["customerId"] == "M1001"
        and c["type"] == "Company"
        and c["homePage"]
        and c["corporateNumber"]
    )
    page = text(_detail(en_client, credential, company["id"]))
    assert f"<h1>{escaped(oracle.name(company))} " in page
    assert f"<dt>Organisationsnummer</dt><dd>{escaped(company['corporateNumber'])}</dd>" in page
    assert escaped(company["homePage"]) in page
    assert "Personnummer" not in page


def test_detail_of_a_deceased_estate(en_client, credential, reference):
    estate = next(
        c
        for c in reference.values()
        if c["customerId"] == "M1001"
        and c["type"] == "DeceasedEstate"
        and oracle.swedish_personnummer(c)
    )
    page = text(_detail(en_client, credential, estate["id"]))
    number = oracle.personnummer(estate)
    assert f"<h1>{escaped(oracle.name(estate))} " in page
    assert f"<dt>Personnummer</dt><dd>{oracle.masked(number)}</dd>" in page
    assert number not in page and oracle.digits(number) not in page
    assert "<dt>Lead score</dt>" not in page
    assert "Deceased estate" in page


def test_detail_escapes_markup_in_notes(en_client, credential, reference):
    marked_up = [
        c
        for c in reference.values()
        if c["customerId"] == "M1001" and c["note"] and "<" in c["note"]
    ][:5]
    assert marked_up, "the sandbox notes should hold some markup"
    for contact in marked_up:
        page = text(_detail(en_client, credential, contact["id"]))
        assert contact["note"] not in page
        assert escaped(contact["note"]) in page
        assert page.count("<script") == page.count(OUR_SCRIPT) == 1
        assert "<b>" not in page


def test_detail_back_link_only_to_the_lookup_page(en_client, credential):
    good = f"/contacts/?credential={credential.pk}&ids={cid(1)}&sort=name"
    for back, expected in [
        (good, good),
        ("https://evil.example/contacts/", None),
        ("//evil.example/contacts/", None),
        ("/admin/", None),
        ("javascript:alert(1)", None),
        # Another page under /contacts/: a crafted link could start an export from "back".
        (f"/contacts/export.csv?credential={credential.pk}&ids={cid(1)}", None),
        (f"/contacts/export.csv?credential={credential.pk}&include_personnummer=on", None),
        (f"/contacts/{cid(2)}/reveal/?credential={credential.pk}", None),
        ("/contacts/../admin/", None),
    ]:
        response = en_client.get(
            f"/contacts/{cid(1)}/", {"credential": credential.pk, "back": back}
        )
        (href,) = re.findall(r'<p><a href="([^"]*)">', text(response))
        fallback = f"/contacts/?customer={credential.customer_id}&ids={cid(1)}"
        assert unescape(href) == (expected or fallback)


@pytest.mark.parametrize(
    "contact_id",
    [missing_id(9999), cid(1, "M1002"), "nobody", "M" + "1" * 45, "%3F", "%00", "Å%20b", "a%25b"],
)
def test_detail_of_an_unknown_contact_is_a_clear_404(en_client, credential, contact_id):
    response = en_client.get(f"/contacts/{contact_id}/", {"credential": credential.pk})
    assert response.status_code == 404
    page = text(response)
    assert "<h1>Contact not found</h1>" in page
    assert "Vitec has no contact with the id" in page


# --- bad input never gives a 500 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "rows", "says"),
    [
        ({"ids": ""}, [], 'id="id_ids"'),
        ({"ids": " ,;; "}, [], 'id="id_ids"'),
        ({"ids": f"{cid(1)},{'M' + '1' * 40}"}, [cid(1)], "1 id longer than 40 characters"),
        (
            {"ids": f"{cid(1)} a/b c?d e#f g%2Fh i\\j k\x9fl m\x9bn"},
            [cid(1)],
            "7 ids with characters no contact id has",
        ),
        ({"ids": cid(1), "type": "Robot"}, [cid(1)], ""),
        ({"ids": cid(1), "type": "person"}, [cid(1)], ""),
        (
            {"ids": cid(1), "category": "CAT-NOPE"},
            [cid(1)],
            "The category “CAT-NOPE” is not used by these contacts, so it was ignored.",
        ),
        ({"ids": cid(1), "page": "0"}, [cid(1)], ""),
        ({"ids": cid(1), "page": "-1"}, [cid(1)], ""),
        ({"ids": cid(1), "page": "abc"}, [cid(1)], ""),
        ({"ids": cid(1), "page": "99999"}, [cid(1)], ""),
        ({"ids": cid(1), "page": "9" * 40}, [cid(1)], ""),
        ({"ids": cid(1), "page": "1e3"}, [cid(1)], ""),
        ({"ids": cid(1), "sort": "evil"}, [cid(1)], ""),
        ({"ids": cid(1), "sort": "-" * 500}, [cid(1)], ""),
        ({"ids": cid(1), "q": "x" * 10_000}, [], 'value="' + "x" * 100 + '"'),
        ({"ids": cid(1), "q": "\x85<script>"}, [], ""),
        ({"ids": cid(1), "category": "<b>x</b>"}, [cid(1)], "“&lt;b&gt;x&lt;/b&gt;” is not used"),
        ({"ids": cid(1), "credential": ""}, [cid(1)], ""),
        ({"ids": "\x9f"}, [], "1 id with characters no contact id has"),
        ({"ids": "ä" * 41}, [], "1 id longer than 40 characters"),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, dict) else None,
)
def test_bad_input_is_never_a_500(en_client, credential, params, rows, says):
    query = {"credential": credential.pk, **params}
    response = en_client.get(LOOKUP, query)
    assert response.status_code == 200
    assert row_ids(response) == rows
    assert says in text(response)
    assert "<script>" not in text(response)


def test_ten_thousand_ids_by_get_look_up_the_first_1000(en_client, credential, vitec):
    ids = ids_range(1, 2400) + [f"x{n}" for n in range(7600)]
    response = get(en_client, credential, ids)
    assert response.status_code == 200
    assert "Only the first 1\u00a0000 ids were looked up." in text(response)
    assert total(response) == 1000
    assert sorted(ids_sent(vitec)) == sorted(ids[:1000])


# --- Vitec faults: each fault on each page is in tests/test_faults.py ----------------------------


def test_alike_failures_of_many_batches_make_one_notice(en_client, credential, vitec):
    # Two batches of 20 each carry a fault id (the sandbox reads them case-insensitively; ids
    # differing only in case are one id, so a tag tells the second apart).
    ids = [*ids_range(1, 19), "fault-500", *ids_range(20, 38), "FAULT-500.b", *ids_range(39, 50)]
    response = get(en_client, credential, ids)
    assert [r.status for r in contact_calls(vitec)].count(500) == 2
    page = text(response)
    assert page.count("contacts could not be fetched:") == 1
    assert "40 contacts could not be fetched:" in page
    assert row_ids(response) == ids_range(39, 50)


def test_a_category_tag_filters_the_list_by_its_category(en_client, credential, reference):
    ids = ids_range(1, 60)
    first = get(en_client, credential, ids)
    link = re.search(r'<a class="tag" href="([^"]+)"', text(first))
    assert link is not None
    params = query_of(unescape(link.group(1)))
    category = params["category"]
    assert params["ids"] == ",".join(ids) and "page" not in params  # the same list, page 1
    expected = [i for i in ids if category in oracle.category_ids(reference[i])]
    assert 0 < len(expected) < len(ids)
    assert sorted(row_ids(en_client.get(LOOKUP, params))) == sorted(expected)
