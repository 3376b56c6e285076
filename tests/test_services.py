"""contacts.services: id parsing, masking, filters, sorting, counts and the per-credential cache.

Expectations come from the sandbox's own records (the `reference` fixture, read with the
accessors of tests/oracle.py), or from contacts built here; the code under test is never its own
oracle. Where a service needs contacts, it gets them parsed from those same records.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from django.utils import translation

from contacts import services
from contacts.services import ContactQuery
from contacts.vitec.errors import AuthenticationError, ServerError
from contacts.vitec.models import (
    Address,
    CompanyTelephone,
    Contact,
    CrmCompanyContact,
    CrmContact,
    CrmDeceasedEstateContact,
    CrmPersonContact,
    Email,
    PersonTelephone,
)
from contacts.vitec.parsing import parse_contact
from tests import oracle
from tests.dashboard_fixtures import (
    cid,
    contact_calls,
    ids_range,
    ids_sent,
    make_credential,
    missing_id,
)
from tests.oracle import Record

STOCKHOLM_SUMMER = timezone(timedelta(hours=2))
STOCKHOLM_WINTER = timezone(timedelta(hours=1))


def digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


# --- ids_parse ------------------------------------------------------------------------------------

ID_41 = "M" + "1" * 40
ID_40 = "M" + "1" * 39


@pytest.mark.parametrize(
    ("text", "ids", "too_long", "unsafe"),
    [
        ("A,B", ("A", "B"), (), ()),
        ("A B", ("A", "B"), (), ()),
        ("A;B", ("A", "B"), (), ()),
        ("A\nB\r\nC\tD", ("A", "B", "C", "D"), (), ()),
        ("  A ,, ;; B  \n\n", ("A", "B"), (), ()),
        ("A,\u00a0B", ("A", "B"), (), ()),  # a non-breaking space from a spreadsheet
        ("A,B,A,C,B", ("A", "B", "C"), (), ()),  # duplicates: first occurrence kept
        ("b,a,B", ("b", "a"), (), ()),  # ids differing only in case are one; first spelling
        ("ADRab,adrAB,x,X", ("ADRab", "x"), (), ()),
        ("", (), (), ()),
        (None, (), (), ()),
        (" , ; \n", (), (), ()),
        (ID_40, (ID_40,), (), ()),
        (f"A,{ID_41},B", ("A", "B"), (ID_41,), ()),
        (f"{ID_41},{ID_41}", (), (ID_41,), ()),
        ("a/b,OK", ("OK",), (), ("a/b",)),
        ("a?b", (), (), ("a?b",)),
        ("a#b", (), (), ("a#b",)),
        ("100%", (), (), ("100%",)),
        ("M1001%2F00001", (), (), ("M1001%2F00001",)),
        ("a\\b", (), (), ("a\\b",)),
        ("../admin", (), (), ("../admin",)),
        ("A\x00B,C", ("C",), (), ("A\x00B",)),
        ("A\x1bB", (), (), ("A\x1bB",)),
        ("A\x7fB", (), (), ("A\x7fB",)),
        ("A\x08B", (), (), ("A\x08B",)),
        # A 41-character id that also holds a slash is unsafe, reported once.
        ("/" + "x" * 40, (), (), ("/" + "x" * 40,)),
    ],
)
def test_ids_parse(text, ids, too_long, unsafe):
    parsed = services.ids_parse(text)
    assert parsed.ids == ids
    assert parsed.too_long == too_long
    assert parsed.unsafe == unsafe
    assert parsed.too_many is False


@pytest.mark.parametrize("control", ["\x81", "\x9b", "\x9f"])
def test_ids_parse_puts_aside_c1_control_characters(control):
    """C1 characters (U+0080..U+009F) are control characters too (Unicode category Cc): an id
    holding one (CSI, "\\x9b", is a terminal escape) is put aside, never sent to Vitec."""
    parsed = services.ids_parse(f"A{control}B,OK")
    assert parsed.ids == ("OK",)
    assert parsed.unsafe == (f"A{control}B",)


@pytest.mark.parametrize(
    ("count", "duplicates", "extra", "kept", "too_many"),
    [
        (999, 0, "", 999, False),
        (1000, 0, "", 1000, False),
        (1001, 0, "", 1000, True),
        (2500, 0, "", 1000, True),
        (1000, 500, "", 1000, False),  # 1,500 pieces but only 1,000 different ids
        (1000, 0, f",{ID_41},a/b", 1000, False),  # ids put aside do not count
    ],
)
def test_ids_parse_caps_at_1000_ids(count, duplicates, extra, kept, too_many):
    pieces = [f"ID-{n}" for n in range(count)]
    pieces += pieces[:duplicates]
    parsed = services.ids_parse(",".join(pieces) + extra)
    assert parsed.ids == tuple(f"ID-{n}" for n in range(kept))
    assert parsed.too_many is too_many
    assert len(services.ids_parse(",".join(pieces)).ids) == min(count, 1000)


# --- personnummer_mask ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("19451212-1234", "451212-****"),
        ("194512121234", "451212-****"),
        ("20011231-9876", "011231-****"),
        ("451212-1234", "451212-****"),
        ("4512121234", "451212-****"),
        ("191212+1212", "191212-****"),  # 100 years or older: "+" instead of "-"
        (" 19451212 - 1234 ", "451212-****"),
        ("120380-12345", "****"),  # foreign (11 digits)
        ("NO 923 456 789", "****"),
        ("abc", "****"),
        ("12", "****"),
        (None, ""),
        ("", ""),
    ],
)
def test_personnummer_mask(number, masked):
    assert services.personnummer_mask(number) == masked


def test_personnummer_mask_never_shows_the_last_four_digits_of_sandbox_numbers(reference):
    numbers = [n for c in reference.values() if (n := oracle.personnummer(c))]
    assert len(numbers) > 500
    for number in numbers:
        masked = services.personnummer_mask(number)
        assert masked.endswith("****")
        assert digits(number)[-4:] not in masked.replace("****", "")
        if len(digits(number)) in (10, 12):
            assert masked == f"{digits(number)[-10:-4]}-****"


# --- presenting a contact -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "shown", "href"),
    [
        # Read by phonenumbers (region SE): national format on screen, E.164 in the link.
        ("+46 70 123 45 67", "070-123 45 67", "tel:+46701234567"),
        ("070-123 45 67", "070-123 45 67", "tel:+46701234567"),
        ("0701234567", "070-123 45 67", "tel:+46701234567"),
        ("0046701234567", "070-123 45 67", "tel:+46701234567"),
        ("08-123 45 67", "08-123 45 67", "tel:+4681234567"),
        ("+46 (0)8-123 45 67", "08-123 45 67", "tel:+4681234567"),
        ("031-12 34 56", "031-12 34 56", "tel:+4631123456"),
        # A foreign number keeps its country: international format on screen.
        ("+47 22 33 44 55", "+47 22 33 44 55", "tel:+4722334455"),
        # Not a number phonenumbers can read: as Vitec sent it, the leading zero kept.
        (" +46 (0)8 12 34", "+46 (0)8 12 34", "tel:+46081234"),
        ("0123", "0123", "tel:0123"),
    ],
)
def test_contact_phones_national_on_screen_e164_in_tel_links(number, shown, href):
    contact = CrmPersonContact(id="P", telephone=PersonTelephone(cell=number, home="08-1"))
    phones = services.contact_phones(contact)
    assert [(p.number, p.href) for p in phones] == [(shown, href), ("08-1", "tel:081")]
    with translation.override("en"):
        assert [p.label for p in services.contact_phones(contact)] == ["Mobile", "Home"]


def test_contact_phones_of_a_company_and_of_none():
    company = CrmCompanyContact(id="F", telephone=CompanyTelephone(switch="031-12 34 56"))
    with translation.override("en"):
        phones = services.contact_phones(company)
    assert [(p.label, p.number, p.href) for p in phones] == [
        ("Switchboard", "031-12 34 56", "tel:+4631123456")
    ]
    assert services.contact_phones(CrmPersonContact(id="P")) == []


def test_contact_row_of_sandbox_contacts(sample):
    people = [(r, c) for r, c in sample if r["type"] == "Person" and oracle.personnummer(r)]
    companies = [(r, c) for r, c in sample if r["type"] == "Company" and r["corporateNumber"]]
    assert any(not oracle.swedish_personnummer(r) for r, _ in people[:150]), "a foreign number"
    for record, contact in people[:150] + companies[:20]:
        row = services.contact_row(contact, {})
        assert row.values["name"] == oracle.name(record)
        assert row.values["city"] == (oracle.city(record) or "")
        assert row.values["email"] == (oracle.email(record) or "")
        phone, number = row.values["phone"], oracle.primary_phone(record)
        assert (phone is None) == (number is None)
        if number:  # national format on screen (the leading zero kept), E.164 in the link
            assert phone.number.startswith("0")
            assert digits(phone.number) == oracle.national_digits(number)
            assert phone.href == "tel:" + oracle.phone_e164(number)
        if record["type"] == "Company":
            assert row.values["id_number"] == record["corporateNumber"]
        else:
            number = oracle.personnummer(record)
            swedish = oracle.swedish_personnummer(record)
            expected = oracle.masked(number) if swedish else oracle.foreign_masked(number)
            assert row.values["id_number"] == expected
            assert number not in row.values["id_number"]
        assert [c.id for c in row.values["categories"]] == oracle.category_ids(record)


# --- filters --------------------------------------------------------------------------------------


def text_oracle(record, needle: str) -> bool:
    """Does the needle occur in the name, an e-mail, a phone (or its digits) or the city?"""
    wanted = needle.casefold().strip()
    fields = [oracle.name(record), *oracle.emails(record), *oracle.phones(record)]
    if any(wanted in value.casefold() for value in [*fields, oracle.city(record) or ""]):
        return True
    wanted_digits = digits(wanted)
    return len(wanted_digits) >= 3 and any(
        wanted_digits in digits(p) for p in oracle.phones(record)
    )


@pytest.fixture(scope="module")
def sample(reference) -> list[tuple[Record, Contact]]:
    """The first 600 contacts of M1001: each as its sandbox record (the expectations) and as
    the contact parsed from that record (what the services work on)."""
    return [(reference[i], parse_contact(reference[i])) for i in ids_range(1, 600)]


def contacts(pairs) -> list[Contact]:
    return [contact for _record, contact in pairs]


@pytest.mark.parametrize("contact_type", ["Person", "Company", "DeceasedEstate"])
def test_filter_by_type(sample, contact_type):
    rows = services.contacts_filter(contacts(sample), ContactQuery(type=contact_type))
    expected = [c for r, c in sample if r["type"] == contact_type]
    assert rows == expected
    assert 0 < len(rows) < len(sample)


def test_filter_by_each_category(sample):
    category_ids = sorted({i for r, _ in sample for i in oracle.category_ids(r)})
    assert any(i.startswith("CAT-P-") for i in category_ids)
    assert any(i.startswith("CAT-F-") for i in category_ids)
    for category_id in category_ids:
        rows = services.contacts_filter(contacts(sample), ContactQuery(category=category_id))
        assert rows == [c for r, c in sample if category_id in oracle.category_ids(r)]
        assert rows


def needles(sample) -> list[tuple[str, str]]:
    """(what, needle) pairs derived from the data: a name, an e-mail, a city, phones."""
    records = [r for r, _ in sample]
    person = next(r for r in records if r["type"] == "Person" and " " not in r["lastName"])
    second_email = next(e for r in records if (e := (r["email"] or {}).get("emailAddress2")))
    city = next(c for r in records if (c := oracle.city(r)))
    separated = next(
        p for r in records for p in oracle.phones(r) if p.startswith("0") and re.search(r"[ -]", p)
    )
    international = next(p for r in records for p in oracle.phones(r) if p.startswith("+46"))
    return [
        ("last name", person["lastName"]),
        ("last name, upper case", person["lastName"].upper()),
        ("first name, with spaces around", f"  {person['firstName']}  "),
        ("second e-mail", second_email),
        ("e-mail domain", "telia.com"),
        ("city", city),
        ("city, lower case", city.lower()),
        ("phone as written", separated),
        ("phone digits only", digits(separated)),
        ("phone, other separators", "-".join(digits(separated)[i : i + 3] for i in (0, 3, 6))),
        ("international phone as written", international),
        ("international phone digits", digits(international)),
        ("nothing", "zzzz-no-such-text"),
    ]


def test_filter_by_text_over_name_email_phone_and_city(sample):
    for what, needle in needles(sample):
        rows = services.contacts_filter(contacts(sample), ContactQuery(q=needle))
        expected = [c for r, c in sample if text_oracle(r, needle)]
        assert rows == expected, what
        if what != "nothing":
            assert rows, what


def test_filters_combine(sample):
    category = Counter(i for r, _ in sample for i in oracle.category_ids(r)).most_common(1)[0][0]
    city = Counter(oracle.city(r) for r, _ in sample if oracle.city(r)).most_common(1)[0][0]
    query = ContactQuery(type="Person", category=category, q=city)
    rows = services.contacts_filter(contacts(sample), query)
    expected = [
        c
        for r, c in sample
        if r["type"] == "Person" and category in oracle.category_ids(r) and text_oracle(r, city)
    ]
    assert rows == expected
    assert rows
    assert len(rows) < sum(1 for r, _ in sample if r["type"] == "Person" and text_oracle(r, city))


def test_text_with_letters_does_not_match_on_its_digits_alone():
    """The digit fallback ("the needle's digits occur in a phone number") is for phone numbers
    written differently, so only a digit-like needle uses it: searching the e-mail "anna123" must
    not also list everyone whose phone number holds 123."""
    anna = CrmPersonContact(
        id="P-1", first_name="Anna", email=Email(email_address="anna123@example.se")
    )
    bo = CrmPersonContact(
        id="P-2", first_name="Bo", telephone=PersonTelephone(cell="070-123 45 67")
    )
    assert services.contacts_filter([anna, bo], ContactQuery(q="070 123 45 67")) == [bo]
    assert services.contacts_filter([anna, bo], ContactQuery(q="anna123")) == [anna]
    assert services.contacts_filter([anna, bo], ContactQuery(q="Stockholm 0701")) == []


# --- sorting --------------------------------------------------------------------------------------

TYPE_LABELS_EN = oracle.TYPE_EN


def _text(value: str | None) -> str | None:
    return value.casefold() if value else None


def _local_day(record, field: str) -> date | None:
    value = oracle.moment(record, field)
    return value.astimezone(oracle.STOCKHOLM).date() if value else None


# What each column sorts by, read from the records: None for a missing value.
SORT_ORACLE = {
    "name": oracle.swedish_order,
    "type": lambda r: oracle.swedish_text(TYPE_LABELS_EN[r["type"]]),
    "phone": lambda r: _text(
        oracle.primary_phone(r) and oracle.phone_e164(oracle.primary_phone(r))
    ),
    "email": lambda r: _text(oracle.email(r)),
    "city": lambda r: oracle.city(r) and oracle.swedish_text(oracle.city(r)),
    "lead_score": lambda r: r.get("leadScore"),
    "gdpr": lambda r: _local_day(r, "gdprApprovalDate"),
    "changed": lambda r: oracle.moment(r, "changedAt"),
}

EMPTY_PERSON = CrmPersonContact(id="X-EMPTY", first_name="Zed")  # no phone, e-mail, city, dates
EMPTY_COMPANY = CrmCompanyContact(id="X-EMPTY-CO", name="Ärlig AB", email=Email())
# The same two as records, for the oracle.
EMPTY_RECORDS = {
    "X-EMPTY": {"id": "X-EMPTY", "type": "Person", "firstName": "Zed"},
    "X-EMPTY-CO": {"id": "X-EMPTY-CO", "type": "Company", "name": "Ärlig AB", "email": {}},
}


def test_sort_oracle_covers_every_sort_column():
    assert set(SORT_ORACLE) == set(services.SORT_COLUMNS)


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("key", list(SORT_ORACLE))
def test_sort_by_each_column_puts_missing_values_last(sample, key, descending):
    given = [EMPTY_PERSON, *contacts(sample[:300]), EMPTY_COMPANY]
    records = {**{r["id"]: r for r, _ in sample[:300]}, **EMPTY_RECORDS}
    with translation.override("en"):
        rows = services.contacts_sort(given, f"-{key}" if descending else key)
    assert sorted(c.id for c in rows) == sorted(c.id for c in given)
    values = [SORT_ORACLE[key](records[c.id]) for c in rows]
    present = [v for v in values if v is not None]
    if key not in ("name", "type"):
        assert len(present) < len(values), "the sample should hold missing values"
    assert all(v is not None for v in values[: len(present)]), (
        f"missing values must come last: None at position "
        f"{values.index(None)} of {len(values)} when sorting by {'-' if descending else ''}{key}"
    )
    assert present == sorted(present, reverse=descending)


@pytest.mark.parametrize("sort", ["", "evil", "-", "name ", "NAME", "-evil"])
def test_unknown_sort_keeps_the_order_asked(sample, sort):
    assert services.contacts_sort(contacts(sample[:100]), sort) == contacts(sample[:100])


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        # 10:00 UTC vs 09:00 UTC: Vitec may send either offset.
        (
            datetime(2024, 6, 1, 11, 0, tzinfo=STOCKHOLM_SUMMER),
            datetime(2024, 6, 1, 10, 0, tzinfo=UTC),
        ),
        # The hour that repeats when summer time ends: 02:30+02:00 is before 02:10+01:00.
        (
            datetime(2024, 10, 27, 2, 30, tzinfo=STOCKHOLM_SUMMER),
            datetime(2024, 10, 27, 2, 10, tzinfo=STOCKHOLM_WINTER),
        ),
    ],
    ids=["utc-vs-cest", "dst-end"],
)
def test_sort_by_changed_follows_the_instant_not_the_wall_clock(earlier, later):
    """Times are compared as instants, not as their local wall-clock text."""
    assert earlier < later
    a = CrmPersonContact(id="A", first_name="A", changed_at=later)
    b = CrmPersonContact(id="B", first_name="B", changed_at=earlier)
    assert [c.id for c in services.contacts_sort([a, b], "changed")] == ["B", "A"]
    assert [c.id for c in services.contacts_sort([b, a], "-changed")] == ["A", "B"]


# --- the current view: counts and the ignored category -------------------------------------------


@pytest.mark.django_db
def test_contacts_view_counts_per_type_and_per_category(credential, reference):
    ids = ids_range(1, 250)
    contacts = [reference[i] for i in ids]
    with translation.override("en"):
        view = services.contacts_view(credential=credential, query=ContactQuery(ids=tuple(ids)))
    assert [c.id for c in view.rows] == ids
    type_counter = Counter(c["type"] for c in contacts)
    assert {(t, n) for t, _label, n in view.type_counts} == {
        (t, type_counter[t]) for t in TYPE_LABELS_EN
    }
    assert {t: label for t, label, _n in view.type_counts} == TYPE_LABELS_EN

    expected = Counter(i for c in contacts for i in oracle.category_ids(c))
    got = {item.category.id: item.count for item in view.category_counts}
    assert got == dict(expected)
    names = {c["id"]: c["name"] for c in oracle.categories_of_customer("M1001")}
    read_only = {c["id"]: c["readOnly"] for c in oracle.categories_of_customer("M1001")}
    assert any(read_only.values())
    for item in view.category_counts:
        assert item.category.name == names[item.category.id]
        assert item.category.read_only == read_only[item.category.id]
    assert [i.category.name for i in view.category_counts] == sorted(
        i.category.name for i in view.category_counts
    )
    assert view.lookup.categories_error is None


@pytest.mark.django_db
def test_contacts_view_filters_sorts_and_counts_over_every_contact(credential, reference):
    ids = ids_range(1, 250)
    contacts = [reference[i] for i in ids]
    view = services.contacts_view(
        credential=credential, query=ContactQuery(ids=tuple(ids), type="Company", sort="-name")
    )
    companies = [c for c in contacts if c["type"] == "Company"]
    by_name = sorted(companies, key=lambda c: oracle.name(c).casefold(), reverse=True)
    assert [c.id for c in view.rows] == [c["id"] for c in by_name]
    # Counts describe the whole lookup, not the filtered rows.
    assert sum(n for _t, _l, n in view.type_counts) == len(contacts)
    assert [c.id for c in view.result.contacts] == ids


@pytest.mark.django_db
@pytest.mark.parametrize("unknown", ["CAT-X-99", "<script>", "cat-p-01"])
def test_contacts_view_ignores_an_unknown_category_and_says_so(credential, reference, unknown):
    ids = ids_range(1, 100)
    view = services.contacts_view(
        credential=credential, query=ContactQuery(ids=tuple(ids), category=unknown, type="Person")
    )
    assert view.ignored_category == unknown
    assert view.query.category == ""
    assert [c.id for c in view.rows] == [i for i in ids if reference[i]["type"] == "Person"]


@pytest.mark.django_db
def test_contacts_view_applies_a_known_category(credential, reference):
    ids = ids_range(1, 100)
    counts = Counter(category for i in ids for category in oracle.category_ids(reference[i]))
    category = counts.most_common(1)[0][0]
    view = services.contacts_view(
        credential=credential, query=ContactQuery(ids=tuple(ids), category=category)
    )
    assert view.ignored_category == ""
    assert [c.id for c in view.rows] == [
        i for i in ids if category in oracle.category_ids(reference[i])
    ]
    assert 0 < len(view.rows) < len(ids)


# --- the per-credential cache ---------------------------------------------------------------------


def failed_ids(result) -> tuple[str, ...]:
    return tuple(contact_id for batch in result.failed for contact_id in batch.ids)


@pytest.mark.django_db
def test_a_second_identical_lookup_makes_no_vitec_call(credential, vitec, reference):
    ids = ids_range(1, 45)
    first = services.contacts_lookup(credential=credential, ids=ids)
    assert sorted(ids_sent(vitec)) == sorted(ids)
    assert len(contact_calls(vitec)) == 3  # 20 + 20 + 5
    assert [r.endpoint for r in vitec.stats.requests].count("categories") == 1

    vitec.stats.reset()
    second = services.contacts_lookup(credential=credential, ids=ids)
    assert vitec.stats.requests == []  # neither contacts nor categories
    assert second.result.contacts == first.result.contacts
    assert [c.id for c in second.result.contacts] == ids
    assert [c.display_name for c in second.result.contacts] == [
        oracle.name(reference[i]) for i in ids
    ]
    assert second.categories == first.categories


@pytest.mark.django_db
def test_only_the_ids_not_cached_are_fetched(credential, vitec):
    services.contacts_lookup(credential=credential, ids=ids_range(1, 10))
    vitec.stats.reset()
    lookup = services.contacts_lookup(credential=credential, ids=ids_range(5, 30))
    assert sorted(ids_sent(vitec)) == sorted(ids_range(11, 30))
    assert [c.id for c in lookup.result.contacts] == ids_range(5, 30)


@pytest.mark.django_db
def test_refresh_calls_vitec_again(credential, vitec):
    ids = ids_range(1, 25)
    services.contacts_lookup(credential=credential, ids=ids)
    vitec.stats.reset()
    lookup = services.contacts_lookup(credential=credential, ids=ids, refresh=True)
    assert sorted(ids_sent(vitec)) == sorted(ids)
    assert "categories" in {r.endpoint for r in vitec.stats.requests}
    assert [c.id for c in lookup.result.contacts] == ids
    # ... and what it fetched is cached again.
    vitec.stats.reset()
    services.contacts_lookup(credential=credential, ids=ids)
    assert contact_calls(vitec) == []


@pytest.mark.django_db
def test_credentials_of_two_users_never_share_cached_contacts(broker, other_broker, vitec):
    mine = make_credential(broker, customer_id="M1001")
    theirs = make_credential(other_broker, customer_id="M1001", password="not-the-password")
    first = services.contacts_lookup(credential=mine, ids=[cid(1)])
    assert [c.id for c in first.result.contacts] == [cid(1)]

    vitec.stats.reset()
    second = services.contacts_lookup(credential=theirs, ids=[cid(1)])
    assert ids_sent(vitec) == [cid(1)]  # its own call, with its own (wrong) password
    assert second.result.contacts == ()
    assert failed_ids(second.result) == (cid(1),)
    assert isinstance(second.result.failed[0].error, AuthenticationError)
    assert isinstance(second.categories_error, AuthenticationError)


@pytest.mark.django_db
def test_two_customers_of_one_user_never_share_cached_contacts(broker, vitec, reference):
    m1001 = make_credential(broker, customer_id="M1001")
    m1002 = make_credential(broker, customer_id="M1002")
    ids = [cid(1), cid(1, "M1002")]
    first = services.contacts_lookup(credential=m1001, ids=ids)
    assert [c.id for c in first.result.contacts] == [cid(1)]
    assert first.result.not_found == (cid(1, "M1002"),)

    vitec.stats.reset()
    second = services.contacts_lookup(credential=m1002, ids=ids)
    assert sorted(ids_sent(vitec)) == sorted(ids)
    assert {r.customer_id for r in contact_calls(vitec)} == {"M1002"}
    assert [c.id for c in second.result.contacts] == [cid(1, "M1002")]
    assert second.result.contacts[0].display_name == oracle.name(reference[cid(1, "M1002")])
    assert second.result.not_found == (cid(1),)


@pytest.mark.django_db
def test_not_found_ids_are_cached_too(credential, vitec):
    ids = [cid(1), missing_id(99999), "no-such-contact"]
    first = services.contacts_lookup(credential=credential, ids=ids)
    assert first.result.not_found == (missing_id(99999), "no-such-contact")
    vitec.stats.reset()
    second = services.contacts_lookup(credential=credential, ids=ids)
    assert contact_calls(vitec) == []
    assert second.result.not_found == (missing_id(99999), "no-such-contact")
    assert [c.id for c in second.result.contacts] == [cid(1)]


@pytest.mark.django_db
def test_a_failed_batch_is_not_cached(credential, vitec):
    ids = [cid(1), "fault-500", cid(2)]
    first = services.contacts_lookup(credential=credential, ids=ids)
    assert first.result.contacts == ()
    assert failed_ids(first.result) == tuple(ids)
    assert isinstance(first.result.failed[0].error, ServerError)

    vitec.stats.reset()
    second = services.contacts_lookup(credential=credential, ids=[cid(1), cid(2)])
    assert sorted(ids_sent(vitec)) == sorted([cid(1), cid(2)])
    assert [c.id for c in second.result.contacts] == [cid(1), cid(2)]
    assert second.result.failed == ()


@pytest.mark.django_db
def test_a_lookup_that_failed_everywhere_succeeds_once_vitec_is_back(credential, vitec):
    ids = ids_range(1, 30)
    vitec.configure(fault="503", retry_after=0)
    first = services.contacts_lookup(credential=credential, ids=ids)
    assert first.result.contacts == ()
    assert sorted(failed_ids(first.result)) == sorted(ids)
    assert first.categories is None and isinstance(first.categories_error, ServerError)

    vitec.configure(fault=None)
    vitec.stats.reset()
    second = services.contacts_lookup(credential=credential, ids=ids)
    assert sorted(ids_sent(vitec)) == sorted(ids)
    assert "categories" in {r.endpoint for r in vitec.stats.requests}
    assert [c.id for c in second.result.contacts] == ids
    assert second.categories is not None and second.categories_error is None


@pytest.mark.django_db
def test_categories_error_when_only_get_categories_fails(credential, vitec):
    vitec.configure(fault="500", fault_count=1)
    lookup = services.contacts_lookup(credential=credential, ids=[])
    assert [r.endpoint for r in vitec.stats.requests] == ["categories"]
    assert lookup.categories is None
    assert isinstance(lookup.categories_error, ServerError)
    # Not cached: the next lookup asks again.
    vitec.stats.reset()
    again = services.contacts_lookup(credential=credential, ids=[])
    assert [r.endpoint for r in vitec.stats.requests] == ["categories"]
    assert again.categories is not None and again.categories_error is None


@pytest.mark.django_db
def test_one_failing_call_of_a_cold_lookup_keeps_the_other(credential, vitec, reference):
    """GetCategories runs beside the contacts call: whichever reaches Vitec first fails."""
    ids = ids_range(1, 15)
    vitec.configure(fault="500", fault_count=1)
    lookup = services.contacts_lookup(credential=credential, ids=ids)
    failed = [r for r in vitec.stats.requests if r.status == 500]
    assert len(failed) == 1
    assert len(vitec.stats.requests) == 2
    if failed[0].endpoint == "categories":
        assert isinstance(lookup.categories_error, ServerError)
        assert [c.id for c in lookup.result.contacts] == ids
    else:
        assert lookup.categories is not None and lookup.categories_error is None
        assert failed_ids(lookup.result) == tuple(ids)


# --- credentials ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_credential_for_user_never_gives_another_users_credential(broker, other_broker, vitec):
    mine_b = make_credential(broker, customer_id="M1002", label="B-kontoret")
    mine_a = make_credential(broker, customer_id="M1001", label="A-kontoret")
    inactive = make_credential(broker, customer_id="M1003")
    inactive.is_active = False
    inactive.save()
    theirs = make_credential(other_broker, customer_id="M1001")

    assert list(services.credentials_for_user(user=broker)) == [mine_a, mine_b]
    assert services.credential_for_user(user=broker, credential_id=None) == mine_a
    assert services.credential_for_user(user=broker, credential_id="") == mine_a
    assert services.credential_for_user(user=broker, credential_id=mine_b.pk) == mine_b
    assert services.credential_for_user(user=broker, credential_id=str(mine_b.pk)) == mine_b
    for garbage in (theirs.pk, str(theirs.pk), inactive.pk, "abc", "1.5", 10**9, "-1", []):
        assert services.credential_for_user(user=broker, credential_id=garbage) is None
    assert services.credential_for_user(user=other_broker, credential_id=mine_a.pk) is None


@pytest.mark.django_db
def test_client_for_credential_is_reused_until_the_password_changes(credential):
    first = services.client_for_credential(credential)
    assert services.client_for_credential(credential) is first
    credential.set_password("demo")  # same password, new token: a new client
    credential.save()
    assert services.client_for_credential(credential) is not first


# --- a contact built by hand: odd shapes never break the row ----------------------------------


@pytest.mark.parametrize(
    "contact",
    [
        CrmContact(id="U-1", type="Robot"),
        CrmPersonContact(id="P-1"),
        CrmCompanyContact(id="F-1", address=Address()),
        CrmDeceasedEstateContact(id="D-1", social_security_number="garbage"),
    ],
    ids=["unknown type", "bare person", "company, empty address", "estate, odd number"],
)
def test_contact_row_of_sparse_contacts(contact):
    row = services.contact_row(contact, {})
    assert row.values["name"] == contact.id
    assert row.values["phone"] is None and row.values["email"] == "" and row.values["city"] == ""
    assert row.values["id_number"] in ("", "****", "**** (invalid)", "**** (ogiltigt)")
    assert services.contacts_filter([contact], ContactQuery(q=contact.id.lower())) == [contact]
    for key in services.SORT_COLUMNS:
        assert services.contacts_sort([contact, EMPTY_PERSON], key)[0] in (contact, EMPTY_PERSON)


def test_gdpr_date_is_the_local_date(sample):
    """Vitec's timestamp, as the date it is in Stockholm (around midnight the UTC date differs)."""
    dated = [(r, c) for r, c in sample if r["type"] == "Person" and r["gdprApprovalDate"]]
    assert dated
    for record, person in dated:
        local = services.gdpr_date(person)
        if record["gdprApprovalDate"].startswith("0001-01-01"):  # .NET's "never set"
            assert local is None
            continue
        assert isinstance(local, date)
        assert local.isoformat() == oracle.local_date(record, "gdprApprovalDate")


# --- identity numbers (stdnum) and phones (phonenumbers): hand-written expectations ---------------


@pytest.mark.parametrize(
    ("number", "foreign", "masked", "revealed"),
    [
        ("19811218-9876", False, "811218-****", "19811218-9876"),
        ("811218-9876", False, "811218-****", "811218-9876"),
        ("8112189876", False, "811218-****", "811218-9876"),
        ("811278-9873", False, "811278-****", "811278-9873"),  # samordningsnummer (day + 60)
        ("811218-9877", False, "811218-**** (invalid)", "811218-9877 (invalid)"),  # check digit
        ("811299-9871", False, "811299-**** (invalid)", "811299-9871 (invalid)"),  # no such day
        ("12345", False, "**** (invalid)", "12345 (invalid)"),
        ("NO 17058012345", True, "NO 1705801****", "NO 17058012345"),
        ("811218-9876", True, "811218-****", "811218-9876"),  # flagged foreign: its own shape
        ("A12", True, "****", "A12"),
    ],
)
def test_personnummer_display(number, foreign, masked, revealed):
    contact = CrmPersonContact(
        id="P", social_security_number=number, is_foreign_social_security_number=foreign
    )
    with translation.override("en"):
        assert services.identity.id_number_display(contact) == masked
        assert services.identity.id_number_display(contact, reveal=True) == revealed


@pytest.mark.parametrize(
    ("number", "foreign", "shown"),
    [
        ("5567037485", False, "556703-7485"),
        ("556703-7485", False, "556703-7485"),
        ("556703-7486", False, "556703-**** (invalid)"),
        ("NO 923 456 789", True, "NO 923 456 789"),
        ("", False, ""),
    ],
)
def test_organisationsnummer_display(number, foreign, shown):
    contact = CrmCompanyContact(
        id="F", corporate_number=number, is_foreign_corporate_number=foreign
    )
    with translation.override("en"):
        assert services.identity.id_number_display(contact) == shown


def test_invalid_mark_is_translated():
    contact = CrmPersonContact(id="P", social_security_number="811218-9877")
    with translation.override("sv"):
        assert services.identity.id_number_display(contact) == "811218-**** (ogiltigt)"


@pytest.mark.parametrize(
    ("number", "e164"),
    [
        ("070-111 22 33", "+46701112233"),
        ("+46 8 123 45 67", "+4681234567"),
        ("0046 31 12 34 56", "+4631123456"),
        ("+47 22 33 44 55", "+4722334455"),
        ("12", ""),
        ("not a number", ""),
        (None, ""),
    ],
)
def test_phone_e164(number, e164):
    assert services.phones.phone_e164(number) == e164


@pytest.mark.django_db
@pytest.mark.integration
def test_the_local_memory_cache_holds_a_whole_lookup_of_1000_ids(settings, credential, vitec):
    if "LocMemCache" not in settings.CACHES["default"]["BACKEND"]:
        pytest.skip("the local-memory cache's size; this run uses another cache")
    ids = [oracle.contact_id(n) for n in range(1, 1001)]
    first = services.contacts_lookup(credential=credential, ids=ids)
    assert len(first.result.contacts) == 1000
    vitec.stats.reset()
    again = services.contacts_lookup(credential=credential, ids=ids)
    assert [c.id for c in again.result.contacts] == [c.id for c in first.result.contacts]
    assert contact_calls(vitec) == []  # with Django's default of 300 entries, most were gone
