"""Exports of the current view: the cells of a file (no spreadsheet may run one as a formula), its
columns, from the one column table (presentation.COLUMNS), and its rows; CSV here, Excel in
xlsx.py, vCard in vcard.py."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import RegisterContact
from ..vitec.models import Contact
from .identity import id_number_display, social_security_number
from .phones import phone_display
from .presentation import COLUMNS, PHONE_SHAPED, Column, RowContext
from .register_store import contact_of
from .selectors import ContactView

# OWASP "CSV injection": a cell whose first character is one of these may run as a formula in a
# spreadsheet, and so may one that starts with a control character. The full-width and small
# forms (U+FF1D, U+FF0B, U+FF0D, U+FF20, U+FE66, U+FE62, U+FE63, U+FE6B) count too: spreadsheets
# read them as the ASCII ones (their NFKC form), and so does the minus sign U+2212.
_FORMULA_CHARACTERS = frozenset("=+-@\u2212")


def _is_formula_character(char: str) -> bool:
    return char in _FORMULA_CHARACTERS or unicodedata.normalize("NFKC", char) in _FORMULA_CHARACTERS


def _is_invisible(char: str) -> bool:
    """Spaces of every kind, line breaks, control and format characters (zero-width space, BOM)."""
    return char.isspace() or unicodedata.category(char) in {"Zs", "Zl", "Zp", "Cc", "Cf"}


def formula_risk(text: str) -> bool:
    """Whether a spreadsheet might run the text as a formula.

    True for a text that starts with a control character (tab, CR, LF...), or whose first
    visible character, after any spaces and invisible characters, starts a formula. A phone
    number ("+46 70 123 45 67": digits, spaces, dashes and parentheses only) holds no function,
    reference or command and stays readable.
    """
    if not text or PHONE_SHAPED.match(text):
        return False
    if unicodedata.category(text[0]) == "Cc":
        return True
    for char in text:
        if not _is_invisible(char):
            return _is_formula_character(char)
    return False


def csv_cell(value: object) -> str:
    """A value as a CSV cell that no spreadsheet will run as a formula (a leading `'`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = str(_("Yes") if value else _("No"))
    elif isinstance(value, datetime):
        text = timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    else:
        text = str(value)
    return "'" + text if formula_risk(text) else text


# --- the columns of a file ----------------------------------------------------------------------

# Every phone in a column of its own, by its kind, as the broker dials it (national format, the
# leading zero kept; a foreign number in international format).
PHONE_COLUMNS: tuple[tuple[str, Promise], ...] = (
    ("cell", _("Mobile phone")),
    ("home", _("Home phone")),
    ("work", _("Work phone")),
    ("switch", _("Switchboard")),
    ("other", _("Other phone")),
)


def _phone_of(kind: str) -> Callable[[Contact, RowContext], str]:
    def value(contact: Contact, context: RowContext) -> str:
        numbers = getattr(getattr(contact, "telephone", None), "numbers", [])
        return next((phone_display(number) for k, number in numbers if k == kind), "")

    return value


def _id_number(contact: Contact, context: RowContext) -> str:
    """The one identity column: the organisationsnummer, or the personnummer masked; the full
    personnummer as Vitec has it when the broker asked for it (context.reveal)."""
    number = social_security_number(contact) if context.reveal else None
    return number or id_number_display(contact)


_EXPORT_PHONES = tuple(
    Column(f"phone_{kind}", header, _phone_of(kind), kind="phone", in_html=False)
    for kind, header in PHONE_COLUMNS
)


def export_columns(*, include_personnummer: bool = False) -> list[Column]:
    """The columns of every file (CSV and Excel alike), from the one column table: the phone
    column becomes one column per kind of phone, and the identity column holds the full
    personnummer when the broker asks for it (one column either way; `include_personnummer`
    changes its values, not the columns)."""
    columns: list[Column] = []
    for column in COLUMNS:
        if column.key == "phone":
            columns.extend(_EXPORT_PHONES)
        elif column.key == "id_number":
            columns.append(replace(column, value=_id_number, kind="text"))
        elif column.in_export:
            columns.append(column)
    return columns


# --- the rows of a file -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportRows:
    """What a file holds: the contacts of the view (read lazily: the register's in chunks), each
    with what its values depend on, and the ids that could not be fetched (a partial export)."""

    contacts: Iterable[tuple[Contact, RowContext]]
    missing: tuple[str, ...] = ()
    include_personnummer: bool = False

    @property
    def columns(self) -> list[Column]:
        return export_columns(include_personnummer=self.include_personnummer)


def view_contacts(
    view: ContactView, *, reveal: bool = False
) -> Iterator[tuple[Contact, RowContext]]:
    """Every contact of a lookup's view (every page), with the view's category names."""
    context = RowContext(names=view.category_names, reveal=reveal)
    for contact in view.rows:
        yield contact, context


def register_contacts(
    rows: Iterable[RegisterContact], *, reveal: bool = False
) -> Iterator[tuple[Contact, RowContext]]:
    """Every register contact of the view, read in chunks as the file is written; category
    names are the ones each contact carries."""
    iterate = getattr(rows, "iterator", None)
    for row in iterate(chunk_size=500) if iterate else rows:
        contact = contact_of(row)
        names = {c.id: c.name or c.id for c in contact.categories}
        yield contact, RowContext(names=names, reveal=reveal)


def missing_line(missing: Iterable[str]) -> str:
    """The last line of a partial file: "Missing: id1, id2, ..."."""
    return gettext("Missing: %(ids)s") % {"ids": ", ".join(missing)}


def csv_rows(source: ExportRows) -> Iterator[list[str]]:
    """The header, then one row per contact, as CSV-safe cells; a partial file ends with a row
    that names the missing ids."""
    columns = source.columns
    yield [csv_cell(str(column.header)) for column in columns]
    for contact, context in source.contacts:
        yield [csv_cell(column.value(contact, context)) for column in columns]
    if source.missing:
        yield [csv_cell(missing_line(source.missing))]


def contacts_export_rows(
    *, view: ContactView, include_personnummer: bool = False
) -> Iterator[list[str]]:
    """The header, then one row per contact of the view (every page), as CSV-safe cells."""
    contacts = view_contacts(view, reveal=include_personnummer)
    return csv_rows(ExportRows(contacts, include_personnummer=include_personnummer))


def register_export_rows(
    rows: Iterable[RegisterContact], *, include_personnummer: bool = False
) -> Iterator[list[str]]:
    """The header, then one row per register contact (read in chunks as the file is written),
    as CSV-safe cells."""
    contacts = register_contacts(rows, reveal=include_personnummer)
    return csv_rows(ExportRows(contacts, include_personnummer=include_personnummer))
