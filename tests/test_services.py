"""contacts.services: id parsing, masking, filters, sorting, counts and the per-credential cache.

Expectations come from the sandbox data as a plain VitecClient fetches it (the `reference`
fixture), or from contacts built here; the code under test is never its own oracle.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from django.utils import translation
from django.utils.timezone import localdate

from contacts import services
from contacts.services import ContactQuery
from contacts.vitec.errors import AuthenticationError, ServerError
from contacts.vitec.models import (
    Address,
    CompanyTelephone,
    CrmCompanyContact,
    CrmContact,
    CrmDeceasedEstateContact,
    CrmPersonContact,
    Email,
    PersonTelephone,
)
from tests.dashboard_fixtures import cid, contact_calls, ids_range, ids_sent, make_credential

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
        ("b,a,B", ("b", "a", "B"), (), ()),  # ids are case sensitive; order as given
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
    """C1 characters (U+0080..U+009F) are control characters too (Unicode category Cc).

    BUG: _UNSAFE_ID only lists \\x00-\\x1f and \\x7f, so e.g. "A\\x9bB" (CSI, a terminal escape)
    is accepted as an id and sent to Vitec.
    """
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
    assert len(services.ids_parse(",".join(pieces)).ids) == min(count, services.MAX_LOOKUP_IDS)


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
    numbers = [n for c in reference.values() if (n := getattr(c, "social_security_number", None))]
    assert len(numbers) > 500
    for number in numbers:
        masked = services.personnummer_mask(number)
        assert masked.endswith("****")
        assert digits(number)[-4:] not in masked.replace("****", "")
        if len(digits(number)) in (10, 12):
            assert masked == f"{digits(number)[-10:-4]}-****"


# --- presenting a contact -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "href"),
    [
        ("+46 70 123 45 67", "tel:+46701234567"),
        ("070-123 45 67", "tel:0701234567"),
        ("0701234567", "tel:0701234567"),
        ("08-123 45 67", "tel:081234567"),
        (" +46 (0)8 12 34", "tel:+46081234"),
    ],
)
def test_contact_phones_give_tel_hrefs_of_the_digits(number, href):
    contact = CrmPersonContact(id="P", telephone=PersonTelephone(cell=number, home="08-1"))
    phones = services.contact_phones(contact)
    assert [(p.number, p.href) for p in phones] == [(number, href), ("08-1", "tel:081")]
    with translation.override("en"):
        assert [p.label for p in services.contact_phones(contact)] == ["Mobile", "Home"]


def test_contact_phones_of_a_company_and_of_none():
    company = CrmCompanyContact(id="F", telephone=CompanyTelephone(switch="031-12 34 56"))
    with translation.override("en"):
        phones = services.contact_phones(company)
    assert [(p.label, p.href) for p in phones] == [("Switchboard", "tel:031123456")]
    assert services.contact_phones(CrmPersonContact(id="P")) == []


def test_contact_row_of_sandbox_contacts(reference):
    people = [c for c in reference.values() if c.type == "Person" and c.social_security_number]
    companies = [c for c in reference.values() if c.type == "Company" and c.corporate_number]
    for contact in people[:50] + companies[:20]:
        row = services.contact_row(contact, {})
        assert row.values["name"] == contact.display_name
        assert row.values["city"] == (contact.address.city or "" if contact.address else "")
        assert row.values["email"] == (contact.email.email_address or "" if contact.email else "")
        assert row.values["phone"] is None or row.values["phone"].number == contact.primary_phone
        if contact.type == "Company":
            assert row.values["id_number"] == contact.corporate_number
        else:
            assert row.values["id_number"] == services.personnummer_mask(
                contact.social_security_number
            )
            assert contact.social_security_number not in row.values["id_number"]
        assert [c.id for c in row.values["categories"]] == [c.id for c in contact.categories]


# --- filters --------------------------------------------------------------------------------------


def phones_of(contact) -> list[str]:
    return [n for _, n in getattr(getattr(contact, "telephone", None), "numbers", [])]


def fields_of(contact) -> list[str]:
    emails = contact.email.addresses if contact.email else []
    city = contact.address.city if contact.address and contact.address.city else ""
    return [contact.display_name, *emails, *phones_of(contact), city]


def text_oracle(contact, needle: str) -> bool:
    """Does the needle occur in the name, an e-mail, a phone (or its digits) or the city?"""
    wanted = needle.casefold().strip()
    if any(wanted in value.casefold() for value in fields_of(contact)):
        return True
    wanted_digits = digits(wanted)
    return len(wanted_digits) >= 3 and any(wanted_digits in digits(p) for p in phones_of(contact))


@pytest.fixture(scope="module")
def sample(reference):
    return [reference[i] for i in ids_range(1, 600)]


@pytest.mark.parametrize("contact_type", ["Person", "Company", "DeceasedEstate"])
def test_filter_by_type(sample, contact_type):
    rows = services.contacts_filter(sample, ContactQuery(type=contact_type))
    expected = [c for c in sample if c.type == contact_type]
    assert rows == expected
    assert 0 < len(rows) < len(sample)


def test_filter_by_each_category(sample):
    category_ids = sorted({cat.id for c in sample for cat in c.categories})
    assert any(i.startswith("CAT-P-") for i in category_ids)
    assert any(i.startswith("CAT-F-") for i in category_ids)
    for category_id in category_ids:
        rows = services.contacts_filter(sample, ContactQuery(category=category_id))
        assert rows == [c for c in sample if any(cat.id == category_id for cat in c.categories)]
        assert rows


def needles(sample) -> list[tuple[str, str]]:
    """(what, needle) pairs derived from the data: a name, an e-mail, a city, phones."""
    person = next(c for c in sample if c.type == "Person" and " " not in (c.last_name or " "))
    with_second_email = next(c for c in sample if c.email and c.email.email_address2)
    with_city = next(c for c in sample if c.address and c.address.city)
    separated = next(
        p for c in sample for p in phones_of(c) if p.startswith("0") and re.search(r"[ -]", p)
    )
    international = next(p for c in sample for p in phones_of(c) if p.startswith("+46"))
    return [
        ("last name", person.last_name),
        ("last name, upper case", person.last_name.upper()),
        ("first name, with spaces around", f"  {person.first_name}  "),
        ("second e-mail", with_second_email.email.email_address2),
        ("e-mail domain", "telia.com"),
        ("city", with_city.address.city),
        ("city, lower case", with_city.address.city.lower()),
        ("phone as written", separated),
        ("phone digits only", digits(separated)),
        ("phone, other separators", "-".join(digits(separated)[i : i + 3] for i in (0, 3, 6))),
        ("international phone as written", international),
        ("international phone digits", digits(international)),
        ("nothing", "zzzz-no-such-text"),
    ]


def test_filter_by_text_over_name_email_phone_and_city(sample):
    for what, needle in needles(sample):
        rows = services.contacts_filter(sample, ContactQuery(q=needle))
        expected = [c for c in sample if text_oracle(c, needle)]
        assert rows == expected, what
        if what != "nothing":
            assert rows, what


def test_filters_combine(sample):
    category = Counter(cat.id for c in sample for cat in c.categories).most_common(1)[0][0]
    city = Counter(c.address.city for c in sample if c.address).most_common(1)[0][0]
    query = ContactQuery(type="Person", category=category, q=city)
    rows = services.contacts_filter(sample, query)
    expected = [
        c
        for c in sample
        if c.type == "Person"
        and any(cat.id == category for cat in c.categories)
        and text_oracle(c, city)
    ]
    assert rows == expected
    assert rows
    assert len(rows) < len(services.contacts_filter(sample, ContactQuery(type="Person", q=city)))


def test_text_with_letters_does_not_match_on_its_digits_alone():
    """BUG: _text_matches falls back to "the needle's digits occur anywhere" as soon as a needle
    holds three digits, even when it also holds letters. Searching the e-mail "anna123" then
    also lists everyone whose phone number contains 123. The digit fallback is meant for phone
    numbers written differently (the sandbox's own search uses it only for digit-like terms)."""
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

TYPE_LABELS_EN = {"Person": "Person", "Company": "Company", "DeceasedEstate": "Deceased estate"}


def _text(value: str | None) -> str | None:
    return value.casefold() if value else None


SORT_ORACLE = {
    "name": lambda c: c.display_name.casefold(),
    "type": lambda c: TYPE_LABELS_EN[c.type].casefold(),
    "phone": lambda c: _text(c.primary_phone),
    "email": lambda c: _text(c.email.email_address if c.email else None),
    "city": lambda c: _text(c.address.city if c.address else None),
    "lead_score": lambda c: getattr(c, "lead_score", None),
    "gdpr": lambda c: (
        localdate(c.gdpr_approval_date) if getattr(c, "gdpr_approval_date", None) else None
    ),
    "changed": lambda c: c.changed_at,
}

EMPTY_PERSON = CrmPersonContact(id="X-EMPTY", first_name="Zed")  # no phone, e-mail, city, dates
EMPTY_COMPANY = CrmCompanyContact(id="X-EMPTY-CO", name="Ärlig AB", email=Email())


def test_sort_oracle_covers_every_sort_column():
    assert set(SORT_ORACLE) == set(services.SORT_COLUMNS)


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("key", list(SORT_ORACLE))
def test_sort_by_each_column_puts_missing_values_last(sample, key, descending):
    contacts = [EMPTY_PERSON, *sample[:300], EMPTY_COMPANY]
    with translation.override("en"):
        rows = services.contacts_sort(contacts, f"-{key}" if descending else key)
    assert sorted(c.id for c in rows) == sorted(c.id for c in contacts)
    values = [SORT_ORACLE[key](c) for c in rows]
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
    assert services.contacts_sort(sample[:100], sort) == sample[:100]


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
    """BUG: _sort_time compares isoformat() strings, i.e. local wall-clock text, not instants."""
    assert earlier < later
    a = CrmPersonContact(id="A", first_name="A", changed_at=later)
    b = CrmPersonContact(id="B", first_name="B", changed_at=earlier)
    assert [c.id for c in services.contacts_sort([a, b], "changed")] == ["B", "A"]
    assert [c.id for c in services.contacts_sort([b, a], "-changed")] == ["A", "B"]


# --- the current view: counts and the ignored category -------------------------------------------


@pytest.mark.django_db
def test_contacts_view_counts_per_type_and_per_category(
    credential, reference, reference_categories
):
    ids = ids_range(1, 250)
    contacts = [reference[i] for i in ids]
    with translation.override("en"):
        view = services.contacts_view(credential=credential, query=ContactQuery(ids=tuple(ids)))
    assert [c.id for c in view.rows] == ids
    type_counter = Counter(c.type for c in contacts)
    assert {(t, n) for t, _label, n in view.type_counts} == {
        (t, type_counter[t]) for t in TYPE_LABELS_EN
    }
    assert {t: label for t, label, _n in view.type_counts} == TYPE_LABELS_EN

    expected = Counter(cat.id for c in contacts for cat in c.categories)
    got = {item.category.id: item.count for item in view.category_counts}
    assert got == dict(expected)
    names = {c.id: c.name for c in reference_categories.all}
    read_only = {c.id: c.read_only for c in reference_categories.all}
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
    companies = [c for c in contacts if c.type == "Company"]
    assert [c.id for c in view.rows] == [
        c.id for c in sorted(companies, key=lambda c: c.display_name.casefold(), reverse=True)
    ]
    # Counts describe the whole lookup, not the filtered rows.
    assert sum(n for _t, _l, n in view.type_counts) == len(contacts)
    assert view.result.contacts == tuple(contacts)


@pytest.mark.django_db
@pytest.mark.parametrize("unknown", ["CAT-X-99", "<script>", "cat-p-01"])
def test_contacts_view_ignores_an_unknown_category_and_says_so(credential, reference, unknown):
    ids = ids_range(1, 100)
    view = services.contacts_view(
        credential=credential, query=ContactQuery(ids=tuple(ids), category=unknown, type="Person")
    )
    assert view.ignored_category == unknown
    assert view.query.category == ""
    assert [c.id for c in view.rows] == [i for i in ids if reference[i].type == "Person"]


@pytest.mark.django_db
def test_contacts_view_applies_a_known_category(credential, reference):
    ids = ids_range(1, 100)
    category = Counter(cat.id for i in ids for cat in reference[i].categories).most_common(1)[0][0]
    view = services.contacts_view(
        credential=credential, query=ContactQuery(ids=tuple(ids), category=category)
    )
    assert view.ignored_category == ""
    assert [c.id for c in view.rows] == [
        i for i in ids if any(cat.id == category for cat in reference[i].categories)
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
    assert second.result.contacts == tuple(reference[i] for i in ids)
    assert second.categories == first.categories


@pytest.mark.django_db
def test_only_the_ids_not_cached_are_fetched(credential, vitec):
    services.contacts_lookup(credential=credential, ids=ids_range(1, 10))
    vitec.stats.reset()
    lookup = services.contacts_lookup(credential=credential, ids=ids_range(5, 30))
    assert sorted(ids_sent(vitec)) == ids_range(11, 30)
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
    assert second.result.contacts[0] == reference[cid(1, "M1002")]
    assert second.result.not_found == (cid(1),)


@pytest.mark.django_db
def test_not_found_ids_are_cached_too(credential, vitec):
    ids = [cid(1), "M1001-99999", "no-such-contact"]
    first = services.contacts_lookup(credential=credential, ids=ids)
    assert first.result.not_found == ("M1001-99999", "no-such-contact")
    vitec.stats.reset()
    second = services.contacts_lookup(credential=credential, ids=ids)
    assert contact_calls(vitec) == []
    assert second.result.not_found == ("M1001-99999", "no-such-contact")
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
    assert sorted(ids_sent(vitec)) == [cid(1), cid(2)]
    assert [c.id for c in second.result.contacts] == [cid(1), cid(2)]
    assert second.result.failed == ()


@pytest.mark.django_db
def test_a_lookup_that_failed_everywhere_succeeds_once_vitec_is_back(credential, vitec):
    ids = ids_range(1, 30)
    vitec.configure(fault="503", retry_after=0)
    first = services.contacts_lookup(credential=credential, ids=ids)
    assert first.result.contacts == ()
    assert sorted(failed_ids(first.result)) == ids
    assert first.categories is None and isinstance(first.categories_error, ServerError)

    vitec.configure(fault=None)
    vitec.stats.reset()
    second = services.contacts_lookup(credential=credential, ids=ids)
    assert sorted(ids_sent(vitec)) == ids
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
        assert lookup.result.contacts == tuple(reference[i] for i in ids)
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
    assert row.values["id_number"] in ("", "****")
    assert services.contacts_filter([contact], ContactQuery(q=contact.id.lower())) == [contact]
    for key in services.SORT_COLUMNS:
        assert services.contacts_sort([contact, EMPTY_PERSON], key)[0] in (contact, EMPTY_PERSON)


def test_gdpr_date_is_the_local_date(reference):
    person = next(
        c for c in reference.values() if c.type == "Person" and c.gdpr_approval_date is not None
    )
    assert services.gdpr_date(person) == localdate(person.gdpr_approval_date)
    assert isinstance(services.gdpr_date(person), date)
