"""Bad input tried on purpose: hostile ids, forged parameters, CSRF, and properties of the
parsers over arbitrary text. (Anonymous visitors and credentials that are not the broker's:
tests/test_lookup_views.py.)

Every request goes through the real pages (Django's test client) with Vitec calls over HTTP to the
sandbox. Whatever the input: no 500, the page renders (or the documented 404), markup is never
echoed raw, and Vitec only ever receives contact ids inside their own, percent-encoded path
segment of the contacts endpoint.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts import forms, services
from contacts.vitec.models import ContactType
from contacts.vitec.sandbox import SandboxServer
from tests.dashboard_fixtures import cid, contact_calls, ids_range

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

LOOKUP = "/contacts/"
EXPORT = "/contacts/export.csv"
SCRIPT = "<script>alert(1)</script>"
# Characters that would change the meaning of a URL path, or that no request line may carry raw.
_URL_UNSAFE = re.compile(r"[/?#\\\x00-\x20\x7f-\x9f]")
_UNSAFE_ID = re.compile(r"[/?#%\\\x00-\x1f\x7f-\x9f]")  # what ids_parse must leave out
_SEPARATOR = re.compile(r"[\s,;]")
# A request line longer than this is refused by common front ends (nginx's default buffers).
MAX_URL = 8192


def text(response) -> str:
    return (
        b"".join(response.streaming_content).decode()
        if response.streaming
        else (response.content.decode())
    )


def assert_vitec_saw_only_safe_paths(sandbox: SandboxServer, customer: str = "M1001") -> None:
    """Every Vitec call was the contacts endpoint, a contact's relations, the category names or the
    office's users, of the broker's customer, with each id percent-encoded inside its one
    segment: nothing reached another endpoint."""
    prefix = f"/CRM/Contact/{customer}/"
    for record in sandbox.stats.requests:
        assert record.endpoint in ("contacts", "relations", "categories", "users"), record.raw_path
        assert record.customer_id == customer, record.raw_path
        if record.endpoint not in ("contacts", "relations"):
            continue
        assert record.raw_path.startswith(prefix), record.raw_path
        segment = record.raw_path.removeprefix(prefix)
        if record.endpoint == "relations":
            segment = segment.removesuffix("/ContactRelations")
        assert segment not in ("", ".", ".."), record.raw_path
        assert not _URL_UNSAFE.search(segment), f"unencoded in {record.raw_path!r}"


def assert_no_raw_markup(page: str) -> None:
    for raw in ("<script>alert", "<img src=x", "onerror=alert(1)>", "<b>x</b>"):
        assert raw not in page, f"{raw!r} echoed unescaped"


# --- hostile ids ----------------------------------------------------------------------------------

HOSTILE_IDS = [
    ("path-traversal", "../../etc/passwd"),
    ("encoded-traversal", "..%2F..%2Fetc%2Fpasswd"),
    ("backslash-traversal", "..\\..\\windows\\win.ini"),
    ("dot-dot", ".."),
    ("dot", "."),
    ("dot-dot-beside-a-good-id", f"..,{cid(1)}"),  # one call for both: harmless
    ("dot-dot-as-21st-id", ",".join([*ids_range(1, 20), ".."])),  # a call of its own
    ("slash", "/"),
    ("slash-inside", f"{cid(1)}/{cid(2)}"),
    ("question-mark", f"{cid(1)}?credential=1"),
    ("hash", f"{cid(1)}#x"),
    ("percent-2F", f"{cid(1)}%2F"),
    ("percent-00", f"{cid(1)}%00"),
    ("percent-2e-2e", "%2e%2e"),
    ("nul", f"{cid(1)}\x00"),
    ("nul-alone", "\x00"),
    ("cr-lf", f"{cid(1)}\r\n{cid(2)}"),
    ("header-injection", f"{cid(1)}\r\nX-Injected: 1"),
    ("del-and-c1", "a\x7fb,c\x9bd"),
    ("rtl-override", f"{cid(1)}\u202egnp.exe"),
    ("41-chars", "A" * 41),
    ("40-chars", "A" * 40),
    ("sql-quote", f"{cid(1)}' OR '1'='1"),
    ("sql-drop", "1;DROP TABLE contacts_viteccredential;--"),
    ("sql-union", "x'UNION/**/SELECT/**/password/**/FROM/**/auth_user--"),
    ("script", SCRIPT),
    ("script-no-slash", "<script>alert(1)"),
    ("img-onerror", '"><img src=x onerror=alert(1)>'),
    ("only-separators", " ,;\n\t,, ;"),
]


# C0 control characters but tab, LF and CR, and DEL: the request is refused (crmviewer.middleware).
_REFUSED_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def assert_refused(response, vitec) -> None:
    assert response.status_code == 400
    assert "The request was refused: it holds control characters" in text(response)
    assert contact_calls(vitec) == []


@pytest.mark.parametrize(("label", "ids_text"), HOSTILE_IDS, ids=[h[0] for h in HOSTILE_IDS])
def test_hostile_ids_by_get(en_client, credential, vitec, label, ids_text):
    response = en_client.get(LOOKUP, {"credential": credential.pk, "ids": ids_text})
    if _REFUSED_CONTROL.search(ids_text):
        assert_refused(response, vitec)
        return
    assert response.status_code == 200
    assert_no_raw_markup(text(response))
    assert_vitec_saw_only_safe_paths(vitec)


@pytest.mark.parametrize(("label", "ids_text"), HOSTILE_IDS, ids=[h[0] for h in HOSTILE_IDS])
def test_hostile_ids_by_post(en_client, credential, vitec, label, ids_text):
    response = en_client.post(LOOKUP, {"credential": credential.pk, "ids": ids_text})
    if _REFUSED_CONTROL.search(ids_text):
        assert_refused(response, vitec)
        return
    if response.status_code == 200:  # the form with its error: no usable id
        assert 'id="ids-error"' in text(response)
        assert contact_calls(vitec) == []
    else:
        assert response.status_code == 302
        assert len(response["Location"]) < MAX_URL
        response = en_client.get(response["Location"])
        assert response.status_code == 200
    assert_no_raw_markup(text(response))
    assert_vitec_saw_only_safe_paths(vitec)


def test_an_id_with_markup_is_echoed_escaped(en_client, credential, vitec):
    response = en_client.get(LOOKUP, {"credential": credential.pk, "ids": "<script>alert(1)"})
    page = text(response)
    assert "&lt;script&gt;alert(1)" in page  # named as not found, escaped
    assert_no_raw_markup(page)


def test_ten_thousand_ids_by_post(en_client, credential, vitec):
    ids = [f"x{n}" for n in range(10_000)]  # 68,890 characters: within the form's limit
    response = en_client.post(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)})
    assert response.status_code == 302
    assert len(response["Location"]) < MAX_URL  # the ids travel by a session list
    page = en_client.get(response["Location"])
    assert page.status_code == 200
    assert "Only the first 1\u00a0000 ids were looked up." in text(page)
    assert len([i for r in contact_calls(vitec) for i in r.contact_ids]) == 1000
    assert_vitec_saw_only_safe_paths(vitec)


def test_a_one_megabyte_post_of_ids(en_client, credential, vitec):
    body = (cid(1) + ",") * (1_000_000 // (len(cid(1)) + 1))  # one megabyte
    response = en_client.post(LOOKUP, {"credential": credential.pk, "ids": body})
    assert response.status_code == 200  # the form, saying the text is too long
    assert 'id="ids-error"' in text(response)
    assert contact_calls(vitec) == []


@pytest.mark.parametrize(
    ("field", "size", "refresh"),
    [
        ("q", 1_000_000, False),
        ("category", 1_000_000, False),
        ("type", 20_000, False),
        ("sort", 20_000, False),
        ("q", 1_000_000, True),  # the "refresh" button posts the filters too
    ],
)
def test_a_huge_filter_field_by_post_keeps_the_redirect_short(
    en_client, credential, vitec, field, size, refresh
):
    """The ids go by a session list once they are long, so that the redirect stays a URL that
    Django (16,384 characters at most) and a proxy in front (nginx: 8 KB) accept; the filters
    of the same POST must not make it long either."""
    data = {"credential": credential.pk, "ids": cid(1), field: "x" * size}
    if refresh:
        data["refresh"] = "1"
    response = en_client.post(LOOKUP, data)
    assert response.status_code == 302, f"POST {field}={size} chars -> {response.status_code}"
    assert len(response["Location"]) < MAX_URL, (
        f"POST {field}={size} chars -> a redirect of {len(response['Location'])} characters"
    )
    page = en_client.get(response["Location"])
    assert page.status_code == 200


# --- hostile contact ids in the detail page's path ---------------------------------------------

DETAIL_IDS = [
    ("dot-dot", "%2E%2E"),
    ("dot", "%2E"),
    ("question-mark", "a%3Fb"),
    ("hash", "a%23b"),
    ("percent", "a%25b"),
    ("percent-2F-literal", "a%252Fb"),
    ("nul", "a%00b"),
    ("cr-lf", "a%0D%0Ab"),
    ("rtl-override", quote("a\u202eb")),
    ("41-chars", "A" * 41),
    ("script", quote("<script>alert(1)<")),
    ("sql", quote("1' OR '1'='1")),
    ("comma", quote(f"{cid(1)},{cid(2)}")),
]


@pytest.mark.parametrize(("label", "raw"), DETAIL_IDS, ids=[d[0] for d in DETAIL_IDS])
def test_hostile_ids_in_the_detail_path(en_client, credential, vitec, label, raw):
    response = en_client.get(f"/contacts/{raw}/", {"credential": credential.pk})
    assert response.status_code in (200, 404)
    page = text(response)
    assert_no_raw_markup(page)
    assert "Traceback" not in page
    assert_vitec_saw_only_safe_paths(vitec)


def test_a_detail_path_naming_two_ids_shows_neither(en_client, credential, vitec):
    """The detail page is for one contact: a comma in its id must not fetch two contacts."""
    response = en_client.get(f"/contacts/{cid(1)},{cid(2)}/", {"credential": credential.pk})
    assert response.status_code == 404
    assert_vitec_saw_only_safe_paths(vitec)


# --- forged parameters ----------------------------------------------------------------------------

FORGED = [
    ("type-unknown", {"type": "Alien"}),
    ("type-empty", {"type": ""}),
    ("type-list", {"type": ["Person", "Company"]}),
    ("type-script", {"type": SCRIPT}),
    ("category-unknown", {"category": "no-such-category"}),
    ("category-html", {"category": "<b>x</b>"}),
    ("q-10000", {"q": "x" * 10_000}),
    ("q-c1", {"q": "a\x85b\x9b"}),
    ("q-html", {"q": '"><img src=x onerror=alert(1)>'}),
    ("sort-unknown", {"sort": "password"}),
    ("sort-double-minus", {"sort": "--name"}),
    ("sort-sql", {"sort": "name;drop"}),
    ("page-0", {"page": "0"}),
    ("page-negative", {"page": "-1"}),
    ("page-abc", {"page": "abc"}),
    ("page-1e9", {"page": "1e9"}),
    ("page-huge", {"page": "99999999999999999999"}),
    ("page-list", {"page": ["2", "x"]}),
    ("list-unknown", {"list": "no-such-list", "ids": ""}),
    ("back-offsite", {"back": "https://evil.example/contacts/"}),
    ("back-scheme-relative", {"back": "//evil.example/contacts/"}),
    ("back-javascript", {"back": "javascript:alert(1)"}),
    ("unknown-parameter", {"evil": SCRIPT}),
]


def _request(client: Client, surface: str, credential_id, extra: dict):
    params = {"credential": credential_id, "ids": ",".join(ids_range(1, 3)), **extra}
    if surface == "detail":
        return client.get(f"/contacts/{cid(1)}/", params)
    return client.get(EXPORT if surface == "export" else LOOKUP, params)


# Checked, with the rows and notices they leave, by tests/test_lookup_views.py: the filters on the
# lookup page (test_bad_input_is_never_a_500), "back" on the detail page
# (test_detail_back_link_only_to_the_lookup_page).
ELSEWHERE = {
    "lookup": {
        "type-unknown",
        "category-unknown",
        "category-html",
        "q-10000",
        "q-c1",
        "sort-unknown",
        "page-0",
        "page-negative",
        "page-abc",
        "page-huge",
    },
    "detail": {"back-offsite", "back-scheme-relative", "back-javascript"},
    "export": set(),
}
FORGED_REQUESTS = [
    pytest.param(surface, label, extra, id=f"{label}-{surface}")
    for surface in ("lookup", "detail", "export")
    for label, extra in FORGED
    if label not in ELSEWHERE[surface]
]


@pytest.mark.parametrize(("surface", "label", "extra"), FORGED_REQUESTS)
def test_forged_parameters(en_client, credential, vitec, surface, label, extra):
    response = _request(en_client, surface, credential.pk, extra)
    if surface == "export" and label == "list-unknown":
        assert response.status_code == 302  # no ids: back to the page
    else:
        assert response.status_code == 200
    page = text(response)
    assert_no_raw_markup(page)
    if surface == "export" and response.status_code == 200:
        assert response["Content-Type"].startswith("text/csv")
        assert page.startswith("\ufeff")
    if surface == "detail":  # the back link only ever leads to the lookup page
        back = re.search(r'<p><a href="([^"]*)">', page)
        assert back, "the detail page has no back link"
        assert back.group(1).startswith("/contacts/?"), back.group(1)
    assert_vitec_saw_only_safe_paths(vitec)


# --- CSRF -----------------------------------------------------------------------------------------


def _csrf_token(client: Client) -> str:
    page = client.get(LOOKUP).content.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def csrf_client(broker, credential) -> Client:
    client = Client(enforce_csrf_checks=True, headers={"Accept-Language": "en"})
    client.force_login(broker)
    return client


CSRF_POSTS = [
    ("lookup", LOOKUP, {"ids": cid(1)}),
    ("reveal", f"/contacts/{cid(1)}/reveal/", {}),
    ("language", "/i18n/setlang/", {"language": "en", "next": LOOKUP}),
    ("logout", "/accounts/logout/", {}),
]


@pytest.mark.parametrize(("label", "path", "data"), CSRF_POSTS, ids=[c[0] for c in CSRF_POSTS])
def test_a_post_without_a_csrf_token_is_refused(csrf_client, vitec, label, path, data):
    response = csrf_client.post(path, data)
    assert response.status_code == 403
    assert contact_calls(vitec) == []
    # Still logged in: a forged logout did not log the broker out.
    assert csrf_client.get(LOOKUP).status_code == 200


@pytest.mark.parametrize(("label", "path", "data"), CSRF_POSTS, ids=[c[0] for c in CSRF_POSTS])
def test_a_post_with_a_forged_csrf_token_is_refused(csrf_client, vitec, label, path, data):
    _csrf_token(csrf_client)  # the cookie is set; the token sent does not match it
    response = csrf_client.post(path, {**data, "csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403


@pytest.mark.parametrize(("label", "path", "data"), CSRF_POSTS, ids=[c[0] for c in CSRF_POSTS])
def test_a_post_with_the_csrf_token_works(csrf_client, credential, vitec, label, path, data):
    token = _csrf_token(csrf_client)
    query = f"?credential={credential.pk}" if label == "reveal" else ""
    response = csrf_client.post(path + query, {**data, "csrfmiddlewaretoken": token})
    if label == "reveal":
        assert response.status_code == 200
    else:
        assert response.status_code == 302
    if label == "logout":
        assert urlsplit(csrf_client.get(LOOKUP)["Location"]).path == "/accounts/login/"


# --- properties -----------------------------------------------------------------------------------

_ID_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs",))
_id_texts = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from("ab1-,; \n\t/?#%\\\x00\x7f\x85\u2028\u202e."), max_size=200),
    st.lists(st.text(_ID_ALPHABET, min_size=0, max_size=45), max_size=60).map(",".join),
)


@settings(deadline=None)
@given(_id_texts)
def test_ids_parse_over_arbitrary_text(ids_text):
    parsed = services.ids_parse(ids_text)
    assert len(parsed.ids) <= 1000
    assert len(set(parsed.ids)) == len(parsed.ids)
    for contact_id in parsed.ids:
        assert 1 <= len(contact_id) <= 40
        assert not _SEPARATOR.search(contact_id)
        assert not _UNSAFE_ID.search(contact_id)
        assert contact_id in ids_text


# The columns a list can be sorted by (the list's headers; tests/test_services.py checks the set).
SORT_KEYS = ("name", "type", "phone", "email", "city", "lead_score", "gdpr", "changed")
_params = st.dictionaries(
    st.one_of(
        st.sampled_from(["ids", "list", "type", "category", "q", "sort", "page", "credential"]),
        st.text(max_size=10),
    ),
    st.one_of(
        st.text(),
        st.sampled_from([t.value for t in ContactType]),
        st.sampled_from([*SORT_KEYS, *(f"-{k}" for k in SORT_KEYS)]),
        st.integers().map(str),
        st.from_regex(r"\A\s*-?[0-9\u0660-\u0669]{1,30}\s*\Z", fullmatch=True),
    ),
)


@settings(deadline=None)
@given(_params, st.booleans())
def test_query_from_params_over_arbitrary_params(params, with_session):
    lists = {"k": "a,b"} if with_session else None  # what a list token resolves to
    parsed = forms.query_from_params(params, lists)
    query = parsed.query
    assert isinstance(query, services.ContactQuery)
    assert query.type in {"", *(t.value for t in ContactType)}
    assert query.sort == "" or query.sort.removeprefix("-") in SORT_KEYS
    assert isinstance(query.page, int) and query.page >= 1
    assert len(query.q) <= 100  # the text filter's limit
    assert len(query.category) <= 40
    assert len(query.ids) <= 1000
    for contact_id in query.ids:
        assert 1 <= len(contact_id) <= 40 and not _UNSAFE_ID.search(contact_id)
    for value in (query.type, query.category, query.q, query.sort):  # used and recorded as is
        assert not re.search(r"[\x00-\x1f\x7f-\x9f]", value), value
    assert all(isinstance(n, str) for n in parsed.notices)
