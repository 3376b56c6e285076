"""Exports of the current view: the cells of a file (no spreadsheet may run one as a formula) and
its rows, from the one column table (presentation.COLUMNS)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import RegisterContact
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


def export_columns(*, include_personnummer: bool) -> list[Column]:
    """The columns of a file: every exported column, and the full personnummer on request."""
    return [c for c in COLUMNS if c.in_export or (include_personnummer and c.on_request)]


def contacts_export_rows(
    *, view: ContactView, include_personnummer: bool = False
) -> Iterator[list[str]]:
    """The header, then one row per contact of the view (every page), as CSV-safe cells."""
    columns = export_columns(include_personnummer=include_personnummer)
    context = RowContext(names=view.category_names)
    yield [csv_cell(str(column.header)) for column in columns]
    for contact in view.rows:
        yield [csv_cell(column.value(contact, context)) for column in columns]


def register_export_rows(
    rows: Iterable[RegisterContact], *, include_personnummer: bool = False
) -> Iterator[list[str]]:
    """The header, then one row per register contact (read in chunks as the file is written),
    as CSV-safe cells; category names are the ones each contact carries."""
    columns = export_columns(include_personnummer=include_personnummer)
    yield [csv_cell(str(column.header)) for column in columns]
    iterate = getattr(rows, "iterator", None)
    for row in iterate(chunk_size=500) if iterate else rows:
        contact = contact_of(row)
        names = {c.id: c.name or c.id for c in contact.categories}
        context = RowContext(names=names)
        yield [csv_cell(column.value(contact, context)) for column in columns]
