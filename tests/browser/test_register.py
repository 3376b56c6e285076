"""The office register (issue 11) in a real browser: search, filters with their counts, the id
list, pagination that keeps the filters.

Each test syncs the sandbox's second office (M1002, 2,400 contacts) over real HTTP first. The
expected contacts and counts are computed here from the sandbox's own records (tests/oracle.py),
with folding written out below, never through the register's search or filters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright not installed")

from playwright.sync_api import expect

from tests import oracle
from tests.browser.pages import (
    assert_clean_console,
    cells,
    log_in,
    option_counts,
    pages_above,
    rows,
    search_register,
)
from tests.dashboard_fixtures import missing_id
from tests.oracle import Record

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]

CUSTOMER = "M1002"
RECORDS = oracle.records(CUSTOMER)
# A surname fragment typed as a broker without Swedish letters would: it is "Sjögren" folded, and
# one deceased estate has it only in its e-mail address.
SURNAME_FRAGMENT = "sjogr"
PERSON_CATEGORY = "CAT-P-08"  # "Bevakning innerstad": persons and deceased estates are in it
MOBILE = re.compile(r"^07\d-\d{3} \d{2} \d{2}$")


def contacts_heading(count: int) -> str:
    return f"{count} contact" if count == 1 else f"{count} contacts"


def folded(text: str | None) -> str:
    """Lower case without accents ("Sjögren" -> "sjogren"), as a broker may type it."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def searchable(contact: Record) -> list[str]:
    """The fields a word search looks through: names, id, e-mail, street, zip, city, org. nr."""
    place = oracle.address(contact)
    return [
        oracle.name(contact),
        contact.get("firstName") or "",
        contact.get("lastName") or "",
        contact.get("name") or "",
        contact["id"],
        *oracle.emails(contact),
        place.get("streetAddress") or "",
        place.get("zipCode") or "",
        place.get("city") or "",
        contact.get("corporateNumber") or "",
    ]


def matching(test: Callable[[Record], bool]) -> dict[str, Record]:
    return {contact_id: r for contact_id, r in RECORDS.items() if test(r)}


def not_informed(contact: Record) -> bool:
    """A person Vitec has no GDPR approval date for (0001-01-01 is .NET's "never set")."""
    return contact["type"] == "Person" and oracle.moment(contact, "gdprApprovalDate") is None


def in_category(contact: Record, category: str) -> bool:
    return category in oracle.category_ids(contact)


def international(national: str) -> str:
    """A Swedish mobile number written as from abroad: "070-518 24 66" -> "+46 70 518 24 66"."""
    d = oracle.digits(national)
    return f"+46 {d[1:3]} {d[3:6]} {d[6:8]} {d[8:]}"


def test_broker_searches_the_register_by_folded_surname_and_by_phone(
    live_server, page, console, office
):
    user, _ = office
    log_in(page, live_server.url, user.username)
    heading = page.locator("#results-heading")
    expect(heading).to_have_text(contacts_heading(len(RECORDS)))

    # The fragment, lower case and without å/ä/ö: every contact with it in a searchable field.
    expected = matching(lambda r: any(SURNAME_FRAGMENT in folded(f) for f in searchable(r)))
    assert 2 <= len(expected) <= 50, "the fragment should fit one page of results"
    by_name_only = [r for r in expected.values() if SURNAME_FRAGMENT in folded(oracle.name(r))]
    assert 0 < len(by_name_only) < len(expected), "the data should match by name and otherwise"
    search_register(page, q=SURNAME_FRAGMENT)
    expect(heading).to_have_text(contacts_heading(len(expected)))
    expect(page.locator("#filter-q")).to_have_value(SURNAME_FRAGMENT)
    found = rows(page)
    assert {r["id"] for r in found} == set(expected)
    for row in found:
        assert row["name"] == oracle.name(expected[row["id"]])
    for row in cells(page):  # each row shows the term, in its name or its e-mail address
        assert SURNAME_FRAGMENT in folded(row["Name"] + " " + row["E-mail"]), row
    assert any("ö" in row["name"] for row in found)  # shown as written, accents and all

    # A mobile number typed as from abroad finds the contact Vitec stores it for as "070-...".
    def holders(number: str) -> dict[str, Record]:  # every contact with it, in any format
        wanted = oracle.national_digits(number)
        return matching(
            lambda r: any(wanted in oracle.national_digits(n) for n in oracle.phones(r))
        )

    person, number = next(
        (r, n)
        for r in RECORDS.values()
        if r["type"] == "Person"
        for n in oracle.phones(r)
        if MOBILE.match(n) and list(holders(n)) == [r["id"]]
    )
    typed = international(number)
    assert typed.startswith("+46 7") and oracle.national_digits(typed) == oracle.digits(number)
    search_register(page, q=typed)
    expect(heading).to_have_text(contacts_heading(1))
    (row,) = rows(page)
    assert row["id"] == person["id"]
    assert row["name"] == oracle.name(person)
    assert row["tel"] == oracle.tel_href(oracle.phone_e164(number))

    assert_clean_console(console)


def test_broker_filters_by_type_category_and_gdpr_and_pages_through(
    live_server, page, console, office
):
    user, _ = office
    log_in(page, live_server.url, user.username)
    heading = page.locator("#results-heading")
    expect(heading).to_have_text(contacts_heading(len(RECORDS)))

    # The type's count before choosing it is the number of results after.
    persons = matching(lambda r: r["type"] == "Person")
    type_counts = option_counts(page, "filter-type")
    assert type_counts["Person"] == len(persons)
    category_everyone = option_counts(page, "filter-category")[PERSON_CATEGORY]
    assert category_everyone == len(matching(lambda r: in_category(r, PERSON_CATEGORY)))
    search_register(page, type="Person")
    expect(heading).to_have_text(contacts_heading(type_counts["Person"]))
    expect(page.locator("#filter-type")).to_have_value("Person")
    assert {r["type"] for r in rows(page)} == {"Person"}

    # The category's count now respects the type (deceased estates are in it too, no longer
    # counted), and is the number of results after choosing it.
    category_counts = option_counts(page, "filter-category")
    persons_in_category = matching(
        lambda r: r["type"] == "Person" and in_category(r, PERSON_CATEGORY)
    )
    assert category_counts[PERSON_CATEGORY] == len(persons_in_category) < category_everyone
    search_register(page, category=PERSON_CATEGORY)
    expect(heading).to_have_text(contacts_heading(category_counts[PERSON_CATEGORY]))
    first_page = rows(page)
    assert len(first_page) == 50 < len(persons_in_category)  # more than one page
    category_name = next(
        c["name"] for c in oracle.categories_of_customer(CUSTOMER) if c["id"] == PERSON_CATEGORY
    )
    for row in first_page:
        assert row["type"] == "Person" and category_name in row["tags"], row
    assert {r["id"] for r in first_page} <= set(persons_in_category)

    # Next: page 2 of the same filtered view.
    pagination = pages_above(page)
    total = len(persons_in_category)
    expect(pagination).to_contain_text(f"1\u201350 of {total:,}")
    with page.expect_navigation():
        pagination.get_by_role("link", name="Next").click()
    expect(pagination).to_contain_text(f"51\u2013{min(100, total)} of {total:,}")
    expect(heading).to_have_text(contacts_heading(len(persons_in_category)))
    expect(page.locator("#filter-type")).to_have_value("Person")
    expect(page.locator("#filter-category")).to_have_value(PERSON_CATEGORY)
    second_page = rows(page)
    assert second_page and not {r["id"] for r in first_page} & {r["id"] for r in second_page}
    assert {r["id"] for r in second_page} <= set(persons_in_category)
    for row in second_page:
        assert row["type"] == "Person" and category_name in row["tags"], row

    # GDPR "Not informed" on top: its count is the results', and the other selects' counts
    # now leave out the informed.
    gdpr_counts = option_counts(page, "filter-gdpr")
    expected = matching(lambda r: not_informed(r) and in_category(r, PERSON_CATEGORY))
    assert gdpr_counts["missing"] == len(expected) <= 50
    search_register(page, gdpr="missing")
    expect(heading).to_have_text(contacts_heading(gdpr_counts["missing"]))
    expect(pagination).to_have_count(0)  # one page: back on page 1 with the new filter
    found = rows(page)
    assert {r["id"] for r in found} == set(expected)
    assert all(row["GDPR informed"] == "" for row in cells(page))
    after = option_counts(page, "filter-category")
    uninformed_persons = matching(not_informed)
    assert after == {
        category: len([r for r in uninformed_persons.values() if in_category(r, category)])
        for category in after
    }
    assert after != category_counts  # changed by the GDPR filter
    assert option_counts(page, "filter-type")["Person"] == len(expected)

    assert_clean_console(console)


def test_broker_looks_up_a_list_of_ids_in_the_register(live_server, page, console, office):
    user, _ = office
    log_in(page, live_server.url, user.username)
    expect(page.locator("#results-heading")).to_have_text(contacts_heading(len(RECORDS)))

    first, second = oracle.contact_id(3, CUSTOMER), oracle.contact_id(1234, CUSTOMER)
    unknown = missing_id(0xC0FFEE)
    assert unknown not in RECORDS and unknown.casefold() not in {i.casefold() for i in RECORDS}
    ids = page.locator("details.ids-filter")
    ids.locator("summary").click()
    box = page.locator("#register-ids").get_by_label("Contact ids")
    expect(box).to_be_visible()
    box.fill(f"{first.lower()}\n{second}\n{unknown}")
    with page.expect_navigation():
        page.locator("#register-ids").get_by_role("button", name="Look up").click()

    expect(page.locator("#results-heading")).to_have_text(contacts_heading(2))
    found = rows(page)
    assert {r["id"] for r in found} == {first, second}
    assert {r["name"] for r in found} == {
        oracle.name(RECORDS[first]),
        oracle.name(RECORDS[second]),
    }
    not_found = page.locator(".notice.warning", has_text="not found in Vitec")
    expect(not_found).to_contain_text("1 id was not found in Vitec")
    expect(not_found.locator(".ids")).to_have_text(unknown)

    assert_clean_console(console)
