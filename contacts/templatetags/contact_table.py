"""`contact_rows`: the body of the contacts table, written in Python.

The list is the dashboard's busiest markup (up to 100 rows of up to 11 cells); written with the
template language's loops and conditions per cell it was most of a cached page's time. Each cell
here is one `format_html` of the same markup the template wrote (templates/contacts/_table.html
keeps the table's frame and headers); every value is escaped.

    {% load contact_table %}
    <tbody>{% contact_rows rows no_sort=no_sort %}</tbody>
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import cast
from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import is_aware, localtime
from django.utils.translation import gettext

from ..services.phones import Phone
from ..services.presentation import Cell, ContactRow
from ..vitec.models import Category
from .contact_text import breakable

register = template.Library()


@register.simple_tag(takes_context=True)
def contact_rows(
    context: template.Context, rows: Iterable[ContactRow], no_sort: bool = False
) -> SafeString:
    """Every row of the table: the name linking to the contact's page (and back to this very
    page), then the row's cells."""
    request = context["request"]
    customer = quote(context["credential"].customer_id, safe="/")
    back = quote(request.get_full_path(), safe="/")
    # A category tag's link: this view's query with that category instead (and page 1), the
    # rest of the query encoded once for all the tags.
    rest = request.GET.copy()
    for key in ("category", "page"):
        rest.pop(key, None)
    category_link = "?" + (rest.urlencode() + "&" if rest else "") + "category="
    words = {
        "deceased": gettext("Deceased"),
        "yes": gettext("Yes"),
        "no": gettext("No"),
        "sms": gettext("SMS"),
        "only": gettext("Show only this category"),
    }
    html = []
    for row in rows:
        cells = []
        for cell in row.cells:
            if cell.kind == "name":
                cells.append(_name(row, cell, customer, back, words))
            else:
                cells.append(_cell(cell, no_sort, category_link, words))
        html.append(format_html("<tr>{}</tr>\n", mark_safe("".join(cells))))  # noqa: S308
    return mark_safe("".join(html))  # noqa: S308 (each piece built by format_html)


def _name(row: ContactRow, cell: Cell, customer: str, back: str, words: dict[str, str]) -> str:
    url = f"{reverse('contacts:detail', args=[row.contact.id])}?customer={customer}&back={back}"
    deceased = (
        format_html(
            ' <span class="deceased" title="{}">†<span class="visually-hidden"> {}</span></span>',
            words["deceased"],
            words["deceased"],
        )
        if row.deceased
        else ""
    )
    return format_html('<th scope="row"><a href="{}">{}</a>{}</th>', url, cell.value, deceased)


def _cell(cell: Cell, no_sort: bool, category_link: str, words: dict[str, str]) -> str:
    value = cell.value
    classes = f"col-{cell.key}"
    inner: str = ""
    if cell.kind == "nowrap":
        classes += " nowrap"
        inner = format_html("{}", value)
    elif cell.kind == "phone":
        classes += " nowrap"
        if isinstance(value, Phone):
            inner = format_html('<a href="{}">{}</a>', value.href, value.number)
            if value.sms:
                label = gettext("Text %(number)s") % {"number": value.number}
                inner += format_html(
                    ' <a href="{}" class="sms" aria-label="{}">{}</a>',
                    value.sms,
                    label,
                    words["sms"],
                )
    elif cell.kind == "email":
        if value:
            inner = format_html('<a href="mailto:{}">{}</a>', value, breakable(value))
    elif cell.kind == "tags":
        categories = cast("Iterable[Category]", value)
        if no_sort:
            inner = format_html_join(
                "", '<span class="tag">{}</span> ', ((c.name,) for c in categories)
            )
        else:
            inner = format_html_join(
                "",
                '<a class="tag" href="{}" title="{}">{}</a> ',
                ((category_link + quote(c.id, safe=""), words["only"], c.name) for c in categories),
            )
    elif cell.kind == "number":
        classes += " num"
        inner = format_html("{}", value) if value is not None else ""
    elif cell.kind == "yes_no":
        inner = words["yes"] if value is True else words["no"] if value is False else ""
    elif cell.kind == "date":
        classes += " nowrap"
        inner = _day(value)
    else:
        inner = format_html("{}", value)
    return format_html('<td class="{}" data-label="{}">{}</td>', classes, cell.label, inner)


def _day(value: object) -> str:
    """As the template's `date:"Y-m-d"`: a moment in the site's time zone, "" for none."""
    if isinstance(value, datetime):
        return date_format(localtime(value) if is_aware(value) else value, "Y-m-d")
    if isinstance(value, date):
        return value.isoformat()
    return ""
