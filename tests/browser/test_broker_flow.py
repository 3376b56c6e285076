"""A broker in a real browser: log in, look ids up, page, sort, filter, open a contact, reveal the
personnummer, download the CSV, switch language, log out.

Expectations come from what the pages show (the filter options' counts, the cells), so nothing
here depends on what the sandbox happens to generate.
"""

from __future__ import annotations

import csv
import io
import re

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright not installed")

from playwright.sync_api import expect

from tests import oracle
from tests.browser.pages import (
    apply_filters,
    assert_clean_console,
    log_in,
    look_up,
    option_count,
    option_name,
    options,
    pages_above,
    rows,
    show_columns,
)
from tests.dashboard_fixtures import ids_range, make_credential, missing_id

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]

MISSING = missing_id(99999)  # a well-formed id the sandbox has no contact for
MASKED = re.compile(r"^\d{6}-\*\*\*\*$")
FULL_PERSONNUMMER = re.compile(r"^(\d{2})?\d{6}[-+]\d{4}$")


def contacts_heading(count: int) -> str:
    return f"{count} contact" if count == 1 else f"{count} contacts"


def birth_digits(number: str) -> str:
    """YYMMDD of a personnummer, whether written with 10 or 12 digits."""
    digits = re.sub(r"\D", "", number)
    return digits[-10:-4]


@pytest.fixture
def broker_account(make_user, vitec):
    """A fresh broker with one credential for the sandbox's customer M1001."""
    user = make_user("broker")
    credential = make_credential(user, customer_id="M1001", label="Kontoret")
    return user, credential


def test_broker_looks_up_pages_and_sorts_by_name(live_server, page, console, broker_account):
    user, _ = broker_account
    ids = ids_range(1, 60)
    log_in(page, live_server.url, user.username)
    look_up(page, [*ids, MISSING])

    # The count, the first page of rows, and the id that was not found, by name.
    expect(page.locator("#results-heading")).to_have_text(contacts_heading(60))
    # The view is a GET after the POST; 61 real-shaped ids are too long for a URL, so they are
    # kept as a list in the database.
    assert "list=" in page.url
    not_found = page.locator(".notice.warning", has_text="not found in Vitec")
    expect(not_found).to_contain_text("1 id was not found in Vitec")
    expect(not_found.locator(".ids")).to_have_text(MISSING)
    first_page = rows(page)
    assert len(first_page) == 50
    pagination = pages_above(page)
    expect(pagination).to_contain_text("1\u201350 of 60")
    expect(pagination.get_by_role("link", name="Previous")).to_have_count(0)

    pagination.get_by_role("link", name="Next").click()
    expect(pagination).to_contain_text("51\u201360 of 60")
    second_page = rows(page)
    assert len(second_page) == 10
    first_ids, second_ids = {r["id"] for r in first_page}, {r["id"] for r in second_page}
    assert not first_ids & second_ids, "page 2 repeats rows of page 1"
    assert first_ids | second_ids == set(ids)
    expect(pagination.get_by_role("link", name="Previous")).to_be_visible()
    expect(pagination.get_by_role("link", name="Next")).to_have_count(0)

    # Sort by name: the header link sorts ascending (Swedish order, persons by surname),
    # clicking it again descending; either way back on page 1, and page 2 goes on where page 1
    # stopped.
    records = oracle.records("M1001")
    ascending = [r["id"] for r in sorted((records[i] for i in ids), key=oracle.swedish_order)]
    header = page.locator("table.contacts thead th", has_text="Name")
    header.get_by_role("link", name="Name").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(pagination).to_contain_text("1\u201350 of 60")
    assert "sort=name" in page.url
    assert [r["id"] for r in rows(page)] == ascending[:50]

    header.get_by_role("link", name="Name").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    descending = ascending[::-1]
    assert [r["id"] for r in rows(page)] == descending[:50]
    pagination.get_by_role("link", name="Next").click()
    expect(pagination).to_contain_text("51\u201360 of 60")
    expect(header).to_have_attribute("aria-sort", "descending")
    assert [r["id"] for r in rows(page)] == descending[50:]

    assert_clean_console(console)


def test_broker_filters_by_type_and_category_and_downloads_the_csv(
    live_server, page, console, broker_account
):
    user, _ = broker_account
    ids = ids_range(1, 40)
    log_in(page, live_server.url, user.username)
    look_up(page, ids)
    show_columns(page, "Org./personnummer")  # to compare with the CSV's full numbers
    expect(page.locator("#results-heading")).to_have_text(contacts_heading(40))

    # Type: an option whose count is neither 0 nor all, so the filter visibly does something.
    type_options = [(v, label) for v, label in options(page, "filter-type") if v]
    assert {v for v, _ in type_options} >= {"Person", "Company"}
    counted = [(v, label, option_count(label)) for v, label in type_options]
    assert sum(n for *_, n in counted) == 40  # the counts add up to the looked-up contacts
    value, label, count = next((v, la, n) for v, la, n in counted if 0 < n < 40)
    apply_filters(page, type=value)
    expect(page.locator("#results-heading")).to_have_text(contacts_heading(count))
    expect(page.locator(".filters").get_by_label("Type", exact=True)).to_have_value(value)
    typed = rows(page)
    assert len(typed) == count
    assert {r["type"] for r in typed} == {option_name(label)}
    assert "type=" + value in page.url

    # Category (types back to all): the least used category that has a count.
    categories = [
        (v, option_name(label), option_count(label))
        for v, label in options(page, "filter-category")
        if v
    ]
    assert categories, "no category options for 40 contacts"
    assert all(n for *_, n in categories), "a category option without a count"
    category, category_name, category_count = min(categories, key=lambda c: c[2])
    apply_filters(page, type="", category=category)
    expect(page.locator("#results-heading")).to_have_text(contacts_heading(category_count))
    expect(page.locator(".filters").get_by_label("Category", exact=True)).to_have_value(category)
    filtered = rows(page)
    assert len(filtered) == category_count
    missing_tag = [r["id"] for r in filtered if category_name not in r["tags"]]
    assert not missing_tag, f"rows without the category {category_name!r}: {missing_tag}"
    expect(page.get_by_role("link", name="Clear filters")).to_be_visible()

    # The CSV of this view, with the personnummer: the same ids in the same order.
    page.get_by_label("Include personnummer").check()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    download = download_info.value
    assert re.fullmatch(r"contacts-M1001-\d{8}-\d{4}\.csv", download.suggested_filename)
    raw = open(download.path(), "rb").read()  # noqa: SIM115 (the download's own temp file)
    assert raw.startswith("\ufeff".encode()), "no UTF-8 BOM: Excel would misread the file"
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    header, body = table[0], table[1:]
    identity = "Organisationsnummer / personnummer"
    assert header[0] == "Contact id" and header.count(identity) == 1  # one column, full numbers
    assert [line[0] for line in body] == [r["id"] for r in filtered]
    column = dict(zip(header, range(len(header)), strict=True))
    by_id = {r["id"]: r for r in filtered}
    for line in body:
        shown = by_id[line[0]]
        assert line[column["Name"]] == shown["name"]
        assert category_name in line[column["Categories"]].split(", ")
        if line[column["Type"]] == "Person" and shown["id_number"]:
            full = line[column[identity]]
            assert FULL_PERSONNUMMER.match(full), f"not a full personnummer: {full!r}"
            assert MASKED.match(shown["id_number"])  # the table still masks it
            assert birth_digits(full) == shown["id_number"][:6]

    assert_clean_console(console)


def test_broker_opens_a_contact_and_reveals_the_personnummer(
    live_server, page, console, broker_account
):
    user, _ = broker_account
    log_in(page, live_server.url, user.username)
    look_up(page, ids_range(1, 20))
    show_columns(page, "Org./personnummer")  # not among the default columns
    list_url = page.url
    person = next(
        (r for r in rows(page) if r["type"] == "Person" and r["tel"] and r["id_number"]), None
    )
    assert person, "no person with a phone number among the first 20 contacts"
    assert MASKED.match(person["id_number"])

    page.locator("table.contacts tbody th").get_by_role("link", name=person["name"]).first.click()
    expect(page).to_have_url(re.compile(rf"/contacts/{person['id']}/\?"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(person["name"])
    for section in ("Identity", "Address and contact", "GDPR and consent", "In the CRM"):
        expect(page.get_by_role("heading", level=2, name=section)).to_be_visible()
    phone_links = page.locator('main a[href^="tel:"]')
    expect(phone_links.first).to_be_visible()
    # The number the table showed is among the page's phone links.
    assert person["tel"] in phone_links.evaluate_all("links => links.map(a => a.href)")
    number = page.locator("dt", has_text=re.compile(r"^Personnummer$")).locator(
        "xpath=following-sibling::dd[1]"
    )
    expect(number).to_have_text(person["id_number"])  # masked: YYMMDD-****
    expect(page.locator("main")).not_to_contain_text(re.compile(r"\d{6}[-+]\d{4}"))

    reveal = page.get_by_role("button", name="Show personnummer")
    if reveal.count():  # the deliberate, audited reveal
        reveal.click()
        expect(page.get_by_role("status")).to_contain_text("This was logged")
        full = number.evaluate("dd => dd.firstChild.textContent").strip()
        assert FULL_PERSONNUMMER.match(full), f"not a full personnummer: {full!r}"
        assert birth_digits(full) == person["id_number"][:6]
        # Copied with one click, as shown.
        copy = number.get_by_role("button", name="Copy the personnummer")
        copy.click()
        expect(copy).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == full
        expect(page.get_by_role("button", name="Show personnummer")).to_have_count(0)

    page.get_by_role("link", name="Back to the list").click()
    expect(page).to_have_url(list_url)
    expect(page.locator("#results-heading")).to_have_text(contacts_heading(20))

    assert_clean_console(console)


def test_broker_switches_language_logs_out_and_is_sent_to_login(
    live_server, page, console, broker_account
):
    user, _ = broker_account
    base = live_server.url
    log_in(page, base, user.username)
    look_up(page, ids_range(1, 5))
    list_url = page.url
    h1 = page.get_by_role("heading", level=1)

    # Each language is named in itself, whatever the page's language.
    options = page.get_by_label("Language").locator("option")
    expect(options).to_have_text(["Svenska", "English"])
    page.get_by_label("Language").select_option(label="Svenska")
    page.get_by_role("button", name="Change language").click()
    expect(h1).to_have_text("Kontakter")
    expect(page).to_have_url(list_url)  # the same view, in the other language
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.get_by_role("button", name="Sök upp")).to_be_visible()
    expect(page.get_by_role("button", name="Använd filter")).to_be_visible()
    expect(page.get_by_role("button", name="Ladda ner CSV")).to_be_visible()
    expect(page.get_by_role("button", name="Logga ut")).to_be_visible()

    page.get_by_label("Språk").select_option(label="English")
    expect(page.get_by_label("Språk").locator("option")).to_have_text(["Svenska", "English"])
    page.get_by_role("button", name="Byt språk").click()
    expect(h1).to_have_text("Contacts")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Look up")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{base}/accounts/login/")
    expect(h1).to_have_text("Log in")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)

    # Logged out, the contacts are behind the login page, which leads back to them.
    page.goto(f"{base}/contacts/")
    expect(page).to_have_url(f"{base}/accounts/login/?next=/contacts/")
    expect(h1).to_have_text("Log in")
    page.goto(list_url)
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect(page.locator("main")).not_to_contain_text(re.compile(r"ADR[0-9A-F]{32}"))

    assert_clean_console(console)
