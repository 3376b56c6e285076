"""`page_numbers`: the page links of a long list, elided around the current page
(1 … 4 5 6 7 8 … 25), as Django's Paginator.get_elided_page_range gives them.

    {% load pagination %}
    {% page_numbers page as numbers %}
"""

from __future__ import annotations

from django import template
from django.core.paginator import Page

register = template.Library()


@register.simple_tag
def page_numbers(page: Page) -> list[int | str]:
    """Page numbers, with the paginator's ellipsis ("…") where some are left out."""
    return list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
