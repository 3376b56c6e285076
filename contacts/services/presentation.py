"""How a contact is shown: its values in the broker's words (type, GDPR date, map link...; the
identity numbers in identity.py, the phones in phones.py) and the one column table that the
HTML list, its sorting and every export read."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ..vitec.models import (
    Category,
    Contact,
    ContactType,
    Coordinate,
    CrmPersonContact,
)
from .identity import id_number_display, social_security_number
from .ordering import sort_name, swedish_sort_key
from .phones import Phone, contact_phones, phone_digits, phone_e164, primary_phone_display

TYPE_LABELS = {
    ContactType.PERSON: _("Person"),
    ContactType.COMPANY: _("Company"),
    ContactType.DECEASED_ESTATE: _("Deceased estate"),
}
_DIGITS = re.compile(r"\d")
# A phone number as people write it: digits, spaces, dashes and parentheses, maybe a leading +.
PHONE_SHAPED = re.compile(r"\A\+?[0-9][0-9 ()-]*\Z")


def type_label(contact: Contact) -> str:
    label = TYPE_LABELS.get(contact.type)  # type: ignore[call-overload]
    return str(label) if label else str(contact.type)


def is_deceased(contact: Contact) -> bool | None:
    """Whether Vitec marks the person as deceased (None: not said, or not a person)."""
    return contact.is_deceased if isinstance(contact, CrmPersonContact) else None


def map_url(coordinate: Coordinate | None) -> str:
    """A plain link to the place on openstreetmap.org (nothing is embedded or fetched)."""
    if coordinate is None:
        return ""
    lat, lon = f"{coordinate.latitude:.6f}", f"{coordinate.longitude:.6f}"
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"


def contact_map_url(contact: Contact) -> str:
    return map_url(contact.address.coordinate if contact.address else None)


def lead_score(contact: Contact) -> int | None:
    return getattr(contact, "lead_score", None)


def gdpr_date(contact: Contact) -> date | None:
    value = getattr(contact, "gdpr_approval_date", None)
    return timezone.localdate(value) if isinstance(value, datetime) else None


def city(contact: Contact) -> str:
    return (contact.address.city or "") if contact.address else ""


def email(contact: Contact) -> str:
    """The first e-mail address the contact has (`emailAddress`, else `emailAddress2`)."""
    addresses = contact.email.addresses if contact.email else []
    return addresses[0] if addresses else ""


def second_email(contact: Contact) -> str:
    """The other address, when the contact has both."""
    addresses = contact.email.addresses if contact.email else []
    return addresses[1] if len(addresses) > 1 else ""


def search_text(contact: Contact) -> str:
    """What the text filter looks through: name, e-mail, phone and city."""
    phones = [n for _, n in getattr(getattr(contact, "telephone", None), "numbers", [])]
    emails = contact.email.addresses if contact.email else []
    parts = [contact.display_name, *emails, *phones, city(contact)]
    digit_forms = [form for p in phones for form in ("".join(_DIGITS.findall(p)), phone_digits(p))]
    return " ".join([*parts, *digit_forms]).casefold()


# --- the one column table -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowContext:
    """What a column's value may depend on besides the contact."""

    names: Mapping[str, str]  # category names by id
    reveal: bool = False  # the full personnummer (asked for, and audited) instead of the mask


@dataclass(frozen=True, slots=True)
class Column:
    """One column, declared once: the HTML list, its sorting and every export read it."""

    key: str  # in URLs (?sort=key) and templates
    header: Promise  # the export's header, and the list's unless `short` is given
    value: Callable[[Contact, RowContext], object]  # what an export writes
    kind: str = "text"  # how the list shows it: text, name, nowrap, phone, email, tags, yes_no,
    # date or number (templates/contacts/lookup.html)
    html: Callable[[Contact, RowContext], object] | None = None  # the list's value, if not `value`
    sort_key: Callable[[Contact], object] | None = None  # None: not sortable; a None key sorts last
    short: Promise | None = None  # the list's header, when shorter than `header`
    in_html: bool = True
    in_export: bool = True
    on_request: bool = False  # exported only when the broker asks (the full personnummer)

    @property
    def label(self) -> str:
        return str(self.short or self.header)

    @property
    def sortable(self) -> bool:
        return self.sort_key is not None


def _text_key(value: str | None) -> str | None:
    """Codes (phones, e-mails) as they read, ignoring case; none sorts last."""
    return value.casefold() if value else None


def _words_key(value: str | None) -> str | None:
    """Words (names, places) in Swedish order, Å, Ä, Ö after Z; none sorts last."""
    return swedish_sort_key(value) if value else None


def _time_key(value: datetime | date | None) -> float | None:
    """Datetimes by the instant (offsets differ across DST), dates by the day."""
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value.toordinal()) if isinstance(value, date) else None


def _category_tags(contact: Contact, context: RowContext) -> tuple[Category, ...]:
    return tuple(
        Category(id=c.id, name=context.names.get(c.id, c.name or c.id), read_only=c.read_only)
        for c in contact.categories
    )


def _categories_text(contact: Contact, context: RowContext) -> str:
    return ", ".join(category.name or category.id for category in _category_tags(contact, context))


def _first_phone(contact: Contact, context: RowContext) -> Phone | None:
    phones = contact_phones(contact)
    return phones[0] if phones else None


COLUMNS: tuple[Column, ...] = (
    Column("id", _("Contact id"), lambda c, x: c.id, in_html=False),
    Column(
        "name",
        _("Name"),
        lambda c, x: c.display_name,
        kind="name",
        sort_key=lambda c: _words_key(sort_name(c)),  # persons by surname
    ),
    Column("deceased", _("Deceased"), lambda c, x: is_deceased(c), kind="yes_no", in_html=False),
    Column(
        "type", _("Type"), lambda c, x: type_label(c), sort_key=lambda c: _words_key(type_label(c))
    ),
    Column(
        "id_number",
        _("Organisationsnummer / personnummer"),
        lambda c, x: id_number_display(c, reveal=x.reveal),
        kind="nowrap",
        short=_("Org./personnummer"),
    ),
    Column(
        "phone",
        _("Phone"),
        lambda c, x: primary_phone_display(c),
        kind="phone",
        html=_first_phone,
        sort_key=lambda c: _text_key(phone_e164(c.primary_phone) or c.primary_phone),
    ),
    Column(
        "phone_e164",
        _("Phone (E.164)"),
        lambda c, x: phone_e164(c.primary_phone),
        in_html=False,
    ),
    Column(
        "email",
        _("E-mail"),
        lambda c, x: email(c),
        kind="email",
        sort_key=lambda c: _text_key(email(c)),
    ),
    Column("email2", _("Second e-mail"), lambda c, x: second_email(c), in_html=False),
    Column(
        "street",
        _("Street address"),
        lambda c, x: c.address.street_address if c.address else "",
        in_html=False,
    ),
    Column(
        "zip", _("Zip code"), lambda c, x: c.address.zip_code if c.address else "", in_html=False
    ),
    Column("city", _("City"), lambda c, x: city(c), sort_key=lambda c: _words_key(city(c))),
    Column("categories", _("Categories"), _categories_text, kind="tags", html=_category_tags),
    Column(
        "lead_score",
        _("Lead score"),
        lambda c, x: lead_score(c),
        kind="number",
        sort_key=lead_score,
    ),
    Column(
        "advertising",
        _("Advertising allowed"),
        lambda c, x: c.advertising_enabled,
        kind="yes_no",
        short=_("Advertising"),
    ),
    Column(
        "gdpr",
        _("GDPR informed"),
        lambda c, x: gdpr_date(c),
        kind="date",
        sort_key=lambda c: _time_key(gdpr_date(c)),
    ),
    Column(
        "changed",
        _("Changed"),
        lambda c, x: c.changed_at,
        kind="date",
        sort_key=lambda c: _time_key(c.changed_at),
    ),
    Column(
        "personnummer",
        _("Personnummer"),
        lambda c, x: social_security_number(c) or "",
        in_html=False,
        in_export=False,
        on_request=True,
    ),
)
HTML_COLUMNS: tuple[Column, ...] = tuple(c for c in COLUMNS if c.in_html)
SORT_COLUMNS: dict[str, Column] = {c.key: c for c in COLUMNS if c.sortable}


@dataclass(frozen=True, slots=True)
class Cell:
    kind: str
    value: object
    key: str = ""  # the column's: the cell's class, which the phone's card layout reads
    label: str = ""  # the column's header, repeated beside the value on a phone's card


@dataclass(frozen=True, slots=True)
class ContactRow:
    """One line of the list, computed once from the typed contact: the values by column key (the
    contact's page reads them too) and the cells in the list's order."""

    contact: Contact
    values: dict[str, object]
    cells: tuple[Cell, ...]
    deceased: bool = False  # marked beside the name, so that nobody mails a deceased person


def contact_row(
    contact: Contact,
    names: Mapping[str, str],
    *,
    reveal: bool = False,
    columns: Sequence[Column] = HTML_COLUMNS,
) -> ContactRow:
    """The row, its values and cells those of `columns` (the broker's choice; a contact's page
    takes them all); the personnummer masked unless `reveal` (the broker asked, and it is
    audited)."""
    context = RowContext(names=names, reveal=reveal)
    values = {c.key: (c.html or c.value)(contact, context) for c in columns}
    return ContactRow(
        contact=contact,
        values=values,
        cells=tuple(
            Cell(kind=c.kind, value=values[c.key], key=c.key, label=c.label) for c in columns
        ),
        deceased=bool(is_deceased(contact)),
    )
