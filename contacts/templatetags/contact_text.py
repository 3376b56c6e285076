"""`breakable`: a long code (an e-mail address) that may wrap between its parts, never inside
one: a `<wbr>` after `@` and before each `.`, the text escaped.

    {% load contact_text %}
    {{ address|breakable }}
"""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_BREAKS = re.compile(r"(@)|(?=\.)")


@register.filter
def breakable(value: object) -> SafeString:
    text = escape(str(value or ""))  # escaping adds no "@" and no "."
    return mark_safe(_BREAKS.sub(lambda m: (m.group(1) or "") + "<wbr>", text))  # noqa: S308
