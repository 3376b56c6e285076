"""The CSV export: headers, streaming, delimiter, line ends, the rows of the current view (every
phone and e-mail in a column of its own), the personnummer option (one column either way) and
formula-injection neutralising (csv_cell, with a property test). The Excel and vCard exports, and
partial files: tests/test_export_formats.py."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils import translation
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contacts import services
from tests import oracle
from tests.dashboard_fixtures import cid, contact_calls, ids_range, page_html

EXPORT = "/contacts/export.csv"
LOOKUP = "/contacts/"
BOM = "\ufeff"
HEADER_EN = [
    "Contact id",
    "Name",
    "Deceased",
    "Type",
    "Organisationsnummer / personnummer",
    "Mobile phone",
    "Home phone",
    "Work phone",
    "Switchboard",
    "Other phone",
    "Phone (E.164)",
    "E-mail",
    "Second e-mail",
    "Street address",
    "Zip code",
    "City",
    "Categories",
    "Lead score",
    "Advertising allowed",
    "GDPR informed",
    "Changed",
]
HEADER_SV = [
    "Kontakt-id",
    "Namn",
    "Avliden",
    "Typ",
    "Organisationsnummer / personnummer",
    "Mobiltelefon",
    "Hemtelefon",
    "Arbetstelefon",
    "Växel",
    "Övrig telefon",
    "Telefon (E.164)",
    "E-post",
    "Andra e-postadress",
    "Gatuadress",
    "Postnummer",
    "Ort",
    "Kategorier",
    "Lead score",
    "Reklamutskick tillåts",
    "GDPR-informerad",
    "Ändrad",
]
TYPE_EN = oracle.TYPE_EN
PHONE_HEADERS = {
    "cell": "Mobile phone",
    "home": "Home phone",
    "work": "Work phone",
    "switch": "Switchboard",
    "other": "Other phone",
}
KINDS = {False: ("cell", "home", "work", "other"), True: ("switch", "other")}  # by "a company"
PHONE_SHAPED = re.compile(r"\+?[0-9][0-9 ()-]*")  # digits, spaces, dashes, parentheses


def body_of(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def parse(body: str, delimiter: str = ";") -> list[list[str]]:
    assert body.startswith(BOM)
    return list(csv.reader(io.StringIO(body[1:], newline=""), delimiter=delimiter))


def export(client, credential, ids=(), *, method="get", **params):
    query = {"credential": credential.pk, **params}
    if ids:
        query["ids"] = ",".join(ids)
    return getattr(client, method)(EXPORT, query)


def page_rows(client, credential, ids, **params) -> tuple[list[str], int]:
    """The contact ids of every page of the lookup page, in order, and the total it names."""
    params.pop("page", None)
    found: list[str] = []
    number, pages, total = 1, 1, 0
    while number <= pages:
        query = {"credential": credential.pk, "ids": ",".join(ids), "page": number, **params}
        page = page_html(client.get(LOOKUP, query))
        if number == 1:
            match = re.search(r'<h2 id="results-heading">\s*(\d+) contacts?\s*</h2>', page)
            assert match
            total = int(match.group(1))
            pages = max(1, (total + 49) // 50)
        found += re.findall(r'<th scope="row"><a href="/contacts/([^/"]+)/', page)
        number += 1
    return found, total


# --- the response ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_response_headers_and_streaming(en_client, credential):
    response = export(en_client, credential, ids_range(1, 3))
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="contacts-M1001-\d{8}-\d{4}\.csv"', response["Content-Disposition"]
    )
    assert response["Cache-Control"] == "no-store"
    body = body_of(response)
    assert body.startswith(BOM)
    assert body.encode("utf-8").startswith(b"\xef\xbb\xbf")
    assert body.count(BOM) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "delimiter"),
    [
        ({}, ";"),
        ({"delimiter": "semicolon"}, ";"),
        ({"delimiter": "comma"}, ","),
        ({"delimiter": "tab"}, ";"),  # garbage: the default
        ({"delimiter": ""}, ";"),
    ],
)
def test_export_delimiter_and_crlf(en_client, credential, params, delimiter):
    ids = ids_range(1, 30)
    body = body_of(export(en_client, credential, ids, **params))
    lines = body[1:].split("\r\n")
    assert lines[-1] == ""  # the last line ends with CRLF too
    assert len(lines) == 1 + len(ids) + 1
    assert "\n" not in body.replace("\r\n", "")
    assert "\r" not in body.replace("\r\n", "")
    assert lines[0] == delimiter.join(HEADER_EN)
    rows = parse(body, delimiter)
    assert rows[0] == HEADER_EN
    assert all(len(row) == len(HEADER_EN) for row in rows)
    assert [row[0] for row in rows[1:]] == ids


@pytest.mark.django_db
def test_export_header_is_the_table_columns_plus_street_and_zip(en_client, credential):
    rows = parse(body_of(export(en_client, credential, [cid(1)])))
    assert rows[0] == HEADER_EN
    assert {"Contact id", "Categories", "Advertising allowed"} <= set(rows[0])
    assert {"Street address", "Zip code"} <= set(rows[0])


@pytest.mark.django_db
def test_export_header_in_swedish_by_default(client, broker, credential):
    client.force_login(broker)
    rows = parse(body_of(client.get(EXPORT, {"credential": credential.pk, "ids": cid(1)})))
    assert rows[0] == HEADER_SV
    assert rows[1][HEADER_SV.index("Reklamutskick tillåts")] in {"Ja", "Nej"}


# --- the rows: those of the current view, every page ------------------------------------------


@pytest.mark.django_db
def test_export_values_come_from_the_contacts(en_client, credential, reference):
    ids = ids_range(1, 120)
    rows = parse(body_of(export(en_client, credential, ids)))
    assert len(rows) == 1 + len(ids)
    assert [row[0] for row in rows[1:]] == ids
    for row in rows[1:]:
        contact = reference[row[0]]
        address = oracle.address(contact)
        cell = dict(zip(HEADER_EN, row, strict=True))
        assert cell["Name"] == oracle.name(contact)
        deceased = contact.get("isDeceased") if contact["type"] == "Person" else None
        assert cell["Deceased"] == {True: "Yes", False: "No", None: ""}[deceased]
        assert cell["Type"] == TYPE_EN[contact["type"]]
        if contact["type"] == "Company":
            assert cell["Organisationsnummer / personnummer"] == (contact["corporateNumber"] or "")
        elif number := oracle.swedish_personnummer(contact):
            assert cell["Organisationsnummer / personnummer"] == oracle.masked(number)
        phone = oracle.primary_phone(contact)
        # Every phone in the column of its kind, in national format (the leading zero kept);
        # the first one in E.164 beside them.
        telephone = contact.get("telephone") or {}
        for kind, header in PHONE_HEADERS.items():
            number = telephone.get(kind) if kind in KINDS[contact["type"] == "Company"] else None
            assert oracle.digits(cell[header]) == (oracle.national_digits(number) if number else "")
            assert cell[header][:1] in ("", "0")
        assert cell["Phone (E.164)"] == (oracle.phone_e164(phone) if phone else "")
        emails = oracle.emails(contact)
        assert cell["E-mail"] == (emails[0] if emails else "")
        assert cell["Second e-mail"] == (emails[1] if len(emails) > 1 else "")
        assert cell["Street address"] == (address.get("streetAddress") or "")
        assert cell["Zip code"] == (address.get("zipCode") or "")
        assert cell["City"] == (address.get("city") or "")
        categories = ", ".join(category["name"] for category in oracle.categories(contact))
        assert cell["Categories"] == categories
        lead = contact.get("leadScore")
        assert cell["Lead score"] == ("" if lead is None else str(lead))
        advertising = {True: "Yes", False: "No", None: ""}[contact["advertisingEnabled"]]
        assert cell["Advertising allowed"] == advertising
        assert cell["GDPR informed"] == oracle.local_date(contact, "gdprApprovalDate")
        assert cell["Changed"] == oracle.local_minute(contact, "changedAt")


@pytest.mark.django_db
def test_phone_numbers_keep_their_zero_and_get_an_e164_column(en_client, credential, reference):
    ids = ids_range(1, 300)
    rows = parse(body_of(export(en_client, credential, ids)))
    e164 = [row[HEADER_EN.index("Phone (E.164)")] for row in rows[1:]]
    assert [n for n in e164 if n], "the sample should hold phone numbers"
    for number in e164:
        assert number == "" or re.fullmatch(r"\+46[1-9]\d{6,8}", number)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "-", "@", "\t", "\r"))
            assert not cell.startswith("+") or PHONE_SHAPED.match(cell)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"type": "Person"},
        {"type": "Company", "sort": "-name"},
        {"sort": "city"},
        {"category": "CAT-P-01"},
        {"q": "stockholm"},
        {"type": "Person", "q": "gmail", "sort": "lead_score"},
        {"category": "CAT-NOPE"},  # ignored, as on the page
        {"type": "Robot", "sort": "evil", "page": "3"},  # garbage dropped; page does not matter
    ],
    ids=repr,
)
def test_export_has_exactly_the_rows_of_the_page_every_page(en_client, credential, vitec, params):
    ids = ids_range(1, 160)
    on_page, total = page_rows(en_client, credential, ids, **params)
    assert len(on_page) == total
    vitec.stats.reset()
    rows = parse(body_of(export(en_client, credential, ids, **params)))
    assert contact_calls(vitec) == []  # the page's lookup is cached: the CSV reuses it
    assert len(rows) - 1 == total
    assert [row[0] for row in rows[1:]] == on_page


@pytest.mark.django_db
def test_export_of_200_ids_by_a_database_list_with_a_type_filter(en_client, credential, reference):
    ids = ids_range(1, 200)  # more than a URL carries: the list is kept in the database
    posted = en_client.post(
        LOOKUP, {"credential": credential.pk, "ids": ",".join(ids), "type": "Person"}
    )
    params = {k: v[-1] for k, v in parse_qs(urlsplit(posted["Location"]).query).items()}
    assert "list" in params and "ids" not in params
    page = page_html(en_client.get(LOOKUP, params))
    total = int(re.search(r'<h2 id="results-heading">\s*(\d+) contacts', page).group(1))

    rows = parse(body_of(en_client.get(EXPORT, params)))
    persons = [i for i in ids if reference[i]["type"] == "Person"]
    assert total == len(persons) > 50
    assert [row[0] for row in rows[1:]] == persons


# --- the personnummer -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_phone_and_email_has_a_column_of_its_own(en_client, credential, reference):
    ids = ids_range(1, 200)
    rows = parse(body_of(export(en_client, credential, ids)))
    counts = {header: 0 for header in [*PHONE_HEADERS.values(), "Second e-mail"]}
    for row in rows[1:]:
        cell = dict(zip(HEADER_EN, row, strict=True))
        for header in counts:
            counts[header] += bool(cell[header])
        contact = reference[row[0]]
        numbers = [n for n in (contact.get("telephone") or {}).values() if n]
        shown = [cell[h] for h in PHONE_HEADERS.values() if cell[h]]
        assert sorted(map(oracle.national_digits, numbers)) == sorted(map(oracle.digits, shown))
    assert all(counts.values()), counts  # the sample has every kind of phone, and two e-mails


@pytest.mark.django_db
def test_personnummer_only_on_request_in_the_one_identity_column(en_client, credential, reference):
    ids = ids_range(1, 200)
    default = parse(body_of(export(en_client, credential, ids)))
    assert default[0] == HEADER_EN
    with_numbers = parse(
        body_of(
            export(
                en_client,
                credential,
                ids,
                method="post",
                include_personnummer="on",
                delimiter="comma",
            )
        ),
        ",",
    )
    assert with_numbers[0] == HEADER_EN  # one column either way, never a second one
    column = HEADER_EN.index("Organisationsnummer / personnummer")
    assert len(with_numbers) == len(default)

    shown = 0
    for row, masked_row in zip(with_numbers[1:], default[1:], strict=True):
        # Only the identity column differs.
        assert row[:column] + row[column + 1 :] == masked_row[:column] + masked_row[column + 1 :]
        contact = reference[row[0]]
        number = oracle.personnummer(contact) or ""
        if contact["type"] == "Company":
            assert row[column] == masked_row[column] == (contact["corporateNumber"] or "")
            continue
        assert row[column] == number  # as Vitec has it
        if number:
            shown += 1
            shown_number = masked_row[column]
            assert number not in shown_number
            assert oracle.digits(number)[-4:] not in shown_number.replace("****", "")
            swedish = oracle.swedish_personnummer(contact)
            masked = oracle.masked(number) if swedish else oracle.foreign_masked(number)
            assert shown_number == masked
    assert shown > 100


def _numbers_in(body: str, reference, ids) -> list[str]:
    numbers = [oracle.personnummer(reference[i]) for i in ids]
    return [n for n in numbers if n and n in body]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "included"),
    [
        ("on", True),
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("", False),
        ("false", False),
        ("0", False),
        ("off", False),
        ("no", False),
        ("yes please", False),
    ],
)
def test_only_an_explicit_yes_includes_the_personnummer(
    en_client, credential, reference, value, included
):
    ids = ids_range(1, 20)
    rows = parse(
        body_of(export(en_client, credential, ids, method="post", include_personnummer=value))
    )
    assert rows[0] == HEADER_EN
    found = _numbers_in("\n".join(";".join(r) for r in rows), reference, ids)
    assert bool(found) is included


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["on", "1", "true"])
def test_a_get_link_never_makes_a_file_with_personnummer(en_client, credential, reference, value):
    """A crafted link (or a `back=` target) must not export personnummer in a broker's name."""
    ids = ids_range(1, 20)
    response = export(en_client, credential, ids, include_personnummer=value)

    assert response.status_code == 302
    assert not getattr(response, "streaming", False)
    assert urlsplit(response["Location"]).path == LOOKUP
    page = en_client.get(response["Location"]).content.decode()
    assert "A file with personnummer is only made from the download form on this page." in page
    assert _numbers_in(page, reference, ids) == []


@pytest.mark.django_db
def test_the_page_offers_the_download_as_a_post_with_its_csrf_token(broker, credential, reference):
    client = Client(enforce_csrf_checks=True, headers={"Accept-Language": "en"})
    client.force_login(broker)
    ids = ids_range(1, 20)
    page = client.get(LOOKUP, {"credential": credential.pk, "ids": ",".join(ids)})
    form = re.search(
        r'<form method="post" action="/contacts/export\.csv" class="export-form">(.*?)</form>',
        page.content.decode(),
        re.S,
    )
    assert form, "the download form posts"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[1]))
    assert fields["ids"] == ",".join(ids) and "csrfmiddlewaretoken" in fields

    refused = client.post(EXPORT, {**fields, "csrfmiddlewaretoken": "forged" * 8})
    assert refused.status_code == 403
    rows = parse(body_of(client.post(EXPORT, {**fields, "include_personnummer": "on"})))
    assert rows[0] == HEADER_EN
    assert _numbers_in("\n".join(";".join(r) for r in rows), reference, ids)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params", [{}, {"ids": ""}, {"ids": " ,; "}, {"ids": "a/b c?d"}, {"list": "expired-key"}]
)
def test_export_without_ids_redirects_back_to_the_page(en_client, credential, vitec, params):
    response = en_client.get(EXPORT, {"credential": credential.pk, **params})
    assert response.status_code == 302
    assert response["Location"] == f"{LOOKUP}?customer={credential.customer_id}"
    assert contact_calls(vitec) == []


@pytest.mark.django_db
def test_an_export_that_would_lack_rows_is_refused_with_a_message(en_client, credential, vitec):
    ids = [*ids_range(1, 25), "fault-500", *ids_range(26, 45)]
    response = export(en_client, credential, ids)
    assert response.status_code == 302
    assert not getattr(response, "streaming", False)
    assert response["Location"].startswith("/contacts/?")
    assert [r.status for r in contact_calls(vitec)].count(500) == 1
    page = en_client.get(response["Location"])  # the page asks Vitec again for the failed batch
    assert "The CSV was not made: some contacts could not be fetched from Vitec." in text(page)
    assert "fault-500" in text(page)


def text(response) -> str:
    return response.content.decode()


# --- csv_cell -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1+1", "'+1+1"),
        ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
        ("-2+3", "'-2+3"),
        ("-", "'-"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\n=1", "'\n=1"),
        ("\nAnna", "'\nAnna"),  # a control character first: OWASP's tab and CR, and LF
        ("\uff1d1+1", "'\uff1d1+1"),  # full-width equals sign
        ("\uff0bSUM(A1)", "'\uff0bSUM(A1)"),  # full-width plus sign
        ("\uff0d2+3", "'\uff0d2+3"),  # full-width hyphen-minus
        ("\uff20SUM(A1)", "'\uff20SUM(A1)"),  # full-width commercial at
        ("\ufe661+1", "'\ufe661+1"),  # small equals sign
        ("\u22121", "'\u22121"),  # minus sign
        (" =1", "' =1"),
        ("   +SUM(A1)", "'   +SUM(A1)"),
        ("\u00a0=1", "'\u00a0=1"),  # no-break space
        ("\u200b=1", "'\u200b=1"),  # zero-width space
        ("\ufeff@SUM(A1)", "'\ufeff@SUM(A1)"),  # byte-order mark
        ("\u3000\u200b \uff1d1", "'\u3000\u200b \uff1d1"),  # ideographic space, then U+FF1D
        ("+46 70 123 45 67", "+46 70 123 45 67"),
        ("+46 (0)8-123 45 67", "+46 (0)8-123 45 67"),
        ("070-123 45 67", "070-123 45 67"),
        ("08-123 45 67", "08-123 45 67"),
        ("+46 70 123 45 67 =1", "'+46 70 123 45 67 =1"),
        ("+46 70; =cmd", "'+46 70; =cmd"),
        ("+46 70 123 45 67\n", "'+46 70 123 45 67\n"),  # not phone-shaped: ends in a newline
        ("Anna =1", "Anna =1"),
        (" Anna", " Anna"),
        ("\u200bAnna", "\u200bAnna"),
        ("'quoted", "'quoted"),
        ("", ""),
        (None, ""),
        (0, "0"),
        (3, "3"),
        (-1, "'-1"),
        (date(2024, 5, 17), "2024-05-17"),
    ],
)
def test_csv_cell(value, cell):
    assert services.csv_cell(value) == cell


def test_csv_cell_of_booleans_and_datetimes():
    with translation.override("en"):
        assert services.csv_cell(True) == "Yes"
        assert services.csv_cell(False) == "No"
    moment = datetime(2024, 7, 1, 10, 30, tzinfo=UTC)
    assert services.csv_cell(moment) == "2024-07-01 12:30"  # Stockholm summer time


# The oracle of the property tests, written apart from the code: what may stand before a formula
# unseen, and what starts one (OWASP's list, with the full-width and small forms).
INVISIBLE = [
    " ",
    "\u00a0",
    "\u2007",
    "\u202f",
    "\u3000",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u2028",
    "\u2029",
    "\t",
    "\r",
    "\n",
    "\x0b",
    "\x0c",
]
FORMULA = [
    "=",
    "+",
    "-",
    "@",
    "\uff1d",
    "\uff0b",
    "\uff0d",
    "\uff20",
    "\ufe66",
    "\ufe62",
    "\ufe63",
    "\ufe6b",
    "\u2212",
]


def _visible_start(cell: str) -> str:
    """The cell without anything a reader cannot see at its start."""
    stripped = cell
    while stripped and (stripped[0] in INVISIBLE or stripped[0].isspace()):
        stripped = stripped[1:]
    return stripped


_disguised = st.tuples(
    st.lists(st.sampled_from(INVISIBLE), max_size=6).map("".join),
    st.sampled_from(FORMULA),
    st.text(),
).map("".join)
_phone_text = st.from_regex(r"\+?[0-9][0-9 ()-]{0,20}", fullmatch=True)


@given(st.one_of(st.text(), _disguised, _phone_text))
@example("=cmd|' /C calc'!A0")
@example('\u00a0\u200b\ufeff  \uff1dHYPERLINK("x")')
@hypothesis_settings(deadline=None)
def test_no_cell_starts_a_formula_behind_any_invisible_characters(value):
    cell = services.csv_cell(value)
    assert cell in (value, "'" + value)  # nothing is lost: our ' taken off gives the text back
    if cell == value:  # left as it is: then nothing in it can start a formula
        assert value[:1] not in ("\t", "\r", "\n", "\x0b", "\x0c")
        start = _visible_start(value)[:1]
        assert start not in FORMULA or PHONE_SHAPED.fullmatch(value), f"{value!r} runs"
    if _visible_start(value)[:1] in FORMULA and not PHONE_SHAPED.fullmatch(value):
        assert cell == "'" + value


@given(st.integers())
@hypothesis_settings(deadline=None)
def test_csv_cell_property_numbers(number):
    cell = services.csv_cell(number)
    assert cell == (f"'{number}" if number < 0 else str(number))
