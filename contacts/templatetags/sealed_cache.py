"""`{% sealedcache name key %}…{% endsealedcache %}`: a part of a page made only of cached Vitec
answers, rendered once and then taken from the cache beside them.

`key` is the view's `fragment_key` (contacts.services.fragment_key: the cached values' fingerprint,
the page's address, the language, the columns); the fragment is cached under it and its `name`,
sealed like the contacts it shows, for as long. An empty key (something came from Vitec just now)
renders the part as usual. Whatever the part shows must be decided by what the key covers: no
CSRF token, nothing of the session.

    {% load sealed_cache %}
    {% sealedcache "table" fragment_key %}{% include "contacts/_table.html" %}{% endsealedcache %}
"""

from __future__ import annotations

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.utils.safestring import SafeString, mark_safe

from ..services import fragment_cached

register = template.Library()


class SealedCacheNode(template.Node):
    def __init__(self, nodelist: NodeList, name: FilterExpression, key: FilterExpression) -> None:
        self.nodelist = nodelist
        self.name = name
        self.key = key

    def render(self, context: template.Context) -> SafeString:
        key = self.key.resolve(context)
        if not key:
            return self.nodelist.render(context)
        name = str(self.name.resolve(context))
        html = fragment_cached(f"{key}:{name}", lambda: str(self.nodelist.render(context)))
        return mark_safe(html)  # noqa: S308 (the template's own output, cached as rendered)


@register.tag("sealedcache")
def sealedcache(parser: Parser, token: Token) -> SealedCacheNode:
    bits = token.split_contents()
    if len(bits) != 3:
        raise template.TemplateSyntaxError(f"'{bits[0]}' takes a name and a key.")
    nodelist = parser.parse(("endsealedcache",))
    parser.delete_first_token()
    return SealedCacheNode(nodelist, parser.compile_filter(bits[1]), parser.compile_filter(bits[2]))
