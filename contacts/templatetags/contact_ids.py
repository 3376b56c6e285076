"""`ids_summary`: how every notice names the contact ids it is about.

The first few ids, then "and N more" ("och N till"), with the whole list (for copying) in a
`<details>` below when some were left out of the line: a notice about 400 ids stays a notice,
and every id can still be copied into the lookup form (which takes commas and spaces).

    {% load contact_ids %}
    {{ result.not_found|ids_summary }}
"""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import ngettext

register = template.Library()

SHOWN_IDS = 3  # ids named in the notice's own line; the rest are counted


@register.filter
def ids_summary(ids: Iterable[object] | None) -> SafeString | str:
    """`<p><span class="ids">a, b, c</span> and 47 more</p>` and the full list in a `<details>`;
    `<p class="ids">a, b, c</p>` alone when every id fits in the line; "" for no ids. Every id is
    escaped."""
    listed = [str(i) for i in ids or ()]
    if not listed:
        return ""
    if len(listed) <= SHOWN_IDS:
        return format_html('<p class="ids">{}</p>', ", ".join(listed))
    more = len(listed) - SHOWN_IDS
    return format_html(
        '<p><span class="ids">{}</span> {}</p>'
        '<details class="ids-all"><summary>{}</summary><p class="ids">{}</p></details>',
        ", ".join(listed[:SHOWN_IDS]),
        ngettext("and %(count)d more", "and %(count)d more", more) % {"count": more},
        ngettext("Show all %(count)d id", "Show all %(count)d ids", len(listed))
        % {"count": len(listed)},
        ", ".join(listed),
    )
