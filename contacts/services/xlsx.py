"""The current view as an Excel workbook (.xlsx), written with XlsxWriter in constant-memory mode
(row by row, never the whole sheet in memory) to a temporary file that is deleted when closed.

Text is always written as text (write_string: never a formula, a number or a link), so phone
numbers and personnummer keep their leading zero and `=cmd|...` stays a string; a text that a
spreadsheet might run as a formula (formula_risk, the CSV's rule) also gets Excel's quote prefix,
so that it stays text when the broker edits the cell. Dates are real dates in a date format.
"""

from __future__ import annotations

import re
import tempfile
from datetime import date, datetime
from typing import IO, Any

import xlsxwriter  # type: ignore[import-untyped]
from django.utils import timezone
from django.utils.translation import gettext

from .exports import ExportRows, formula_risk, missing_line

# Column widths (in characters) by column key; the rest get DEFAULT_WIDTH.
WIDTHS = {
    "id": 38,
    "name": 28,
    "type": 14,
    "id_number": 20,
    "email": 32,
    "email2": 32,
    "street": 28,
    "city": 16,
    "categories": 30,
    "changed": 17,
}
DEFAULT_WIDTH = 16
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _sheet_name() -> str:
    return _SHEET_NAME_FORBIDDEN.sub("", gettext("Contacts"))[:31] or "Sheet1"


def xlsx_file(source: ExportRows) -> IO[bytes]:
    """The rows as a workbook: a bold header row, frozen, with an autofilter over the contacts;
    a partial file ends, after an empty row, with a row that names the missing ids. Handed
    back as a temporary file at its start; closing it deletes it."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (closed by the response)
    try:
        _write(source, handle)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle


def _write(source: ExportRows, handle: IO[bytes]) -> None:
    workbook = xlsxwriter.Workbook(
        handle,
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    header = workbook.add_format({"bold": True, "bg_color": "#E8EEF4", "bottom": 1})
    formats = {
        "text": workbook.add_format({"num_format": "@"}),
        "quoted": workbook.add_format({"num_format": "@", "quote_prefix": True}),
        "date": workbook.add_format({"num_format": DATE_FORMAT}),
        "datetime": workbook.add_format({"num_format": DATETIME_FORMAT}),
    }
    sheet = workbook.add_worksheet(_sheet_name())
    columns = source.columns
    for index, column in enumerate(columns):
        # Text columns formatted as text: a number typed in later keeps its leading zero too.
        number_like = column.kind in ("date", "number")
        width = WIDTHS.get(column.key, DEFAULT_WIDTH)
        sheet.set_column(index, index, width, None if number_like else formats["text"])
    for index, column in enumerate(columns):
        sheet.write_string(0, index, str(column.header), header)
    row = 0
    for contact, context in source.contacts:
        row += 1
        for index, column in enumerate(columns):
            _cell(sheet, row, index, column.value(contact, context), formats)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, row, len(columns) - 1)
    if source.missing:
        # One empty row apart, so that the autofilter and a sort leave the line alone.
        _cell(sheet, row + 2, 0, missing_line(source.missing), formats)
    workbook.close()


def _cell(sheet: Any, row: int, col: int, value: object, formats: dict[str, Any]) -> None:
    """One value in its own type: nothing for none, Yes/No for a boolean, a date or a
    date and time (in the site's time zone), a number, else text."""
    if value is None or value == "":
        return
    if isinstance(value, bool):
        sheet.write_string(row, col, gettext("Yes") if value else gettext("No"), formats["text"])
    elif isinstance(value, datetime):
        moment = timezone.localtime(value) if timezone.is_aware(value) else value
        sheet.write_datetime(row, col, moment.replace(tzinfo=None), formats["datetime"])
    elif isinstance(value, date):
        sheet.write_datetime(row, col, value, formats["date"])
    elif isinstance(value, int | float):
        sheet.write_number(row, col, value)
    else:
        text = str(value)
        sheet.write_string(row, col, text, formats["quoted" if formula_risk(text) else "text"])
