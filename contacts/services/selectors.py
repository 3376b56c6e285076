"""The current view: the query that defines it (`ContactQuery`), the declared filters, the sort
and the counts beside each choice; the HTML page and every export read the same `ContactView`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from django.utils.translation import gettext_lazy as _

from ..models import VitecCredential
from ..vitec.ids import LookupResult
from ..vitec.models import Category, Contact
from .lookup import Lookup, contacts_lookup
from .messages import broker_message, vitec_text
from .phones import phone_digits
from .presentation import PHONE_SHAPED, SORT_COLUMNS, TYPE_LABELS, search_text

PAGE_SIZE = 50
PAGE_SIZES = (25, 50, 100)  # the broker's choice of rows per page, lookups and register alike


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter of the list, declared once; the page and the CSV both apply it."""

    param: str
    label: object
    matches: Callable[[Contact, str], bool]


def _type_matches(contact: Contact, value: str) -> bool:
    return contact.type == value


def _category_matches(contact: Contact, value: str) -> bool:
    return any(category.id == value for category in contact.categories)


def _text_matches(contact: Contact, value: str) -> bool:
    needle = value.casefold().strip()
    haystack = search_text(contact)
    if needle in haystack:
        return True
    # A phone number typed another way ("0701234567" for "070-123 45 67") matches by its digits.
    digits = phone_digits(needle)
    return bool(PHONE_SHAPED.match(needle)) and len(digits) >= 3 and digits in haystack


FILTERS: tuple[Filter, ...] = (
    Filter("type", _("Type"), _type_matches),
    Filter("category", _("Category"), _category_matches),
    Filter("q", _("Text"), _text_matches),
)


@dataclass(frozen=True, slots=True)
class ContactQuery:
    """Everything that defines the current view, as read from the query string or form."""

    ids: tuple[str, ...] = ()
    type: str = ""
    category: str = ""
    q: str = ""
    sort: str = ""  # a SORT_COLUMNS key, "-key" for descending, "" for the order asked
    page: int = 1
    per_page: int = PAGE_SIZE

    def filter_values(self) -> dict[str, str]:
        return {f.param: getattr(self, f.param) for f in FILTERS if getattr(self, f.param)}


@dataclass(frozen=True, slots=True)
class CategoryCount:
    category: Category
    count: int


@dataclass(frozen=True, slots=True)
class ContactView:
    query: ContactQuery
    lookup: Lookup
    rows: tuple[Contact, ...]  # filtered and sorted: every page of it
    type_counts: tuple[tuple[str, str, int], ...]  # (type, label, count) over the lookup
    category_counts: tuple[CategoryCount, ...]
    category_names: dict[str, str] = field(default_factory=dict)
    ignored_category: str = ""

    @property
    def result(self) -> LookupResult:
        return self.lookup.result

    @property
    def failures(self) -> list[Failure]:
        """Failed batches grouped by what went wrong (the broker's words and Vitec's own text),
        so 50 alike failures make one notice."""
        groups: dict[tuple[str, str], list[str]] = {}
        for batch in self.result.failed:
            key = (broker_message(batch.error), vitec_text(batch.error))
            groups.setdefault(key, []).extend(batch.ids)
        return [
            Failure(message=message, ids=tuple(ids), vitec_text=text)
            for (message, text), ids in groups.items()
        ]

    @property
    def categories_error_message(self) -> str:
        """Why category names are missing, in the broker's words ("" when they are not)."""
        error = self.lookup.categories_error
        return broker_message(error) if error is not None else ""


@dataclass(frozen=True, slots=True)
class Failure:
    message: str  # the broker's words
    ids: tuple[str, ...]
    vitec_text: str = ""  # Vitec's own text, shown apart from the broker's words


def contacts_sort(contacts: Iterable[Contact], sort: str) -> list[Contact]:
    """Sorted by a SORT_COLUMNS key ("-key" descending); contacts without a value come last
    either way, and equal values keep the order asked (the sort is stable)."""
    rows = list(contacts)
    column = SORT_COLUMNS.get(sort.removeprefix("-"))
    sort_key = column.sort_key if column is not None else None
    if sort_key is None:
        return rows
    keyed = [(sort_key(contact), contact) for contact in rows]
    present = [(key, contact) for key, contact in keyed if key is not None]
    missing = [contact for key, contact in keyed if key is None]
    # One column's keys are all of one kind (text, number or time), which the types cannot say.
    present.sort(key=lambda pair: pair[0], reverse=sort.startswith("-"))  # type: ignore[arg-type,return-value]
    return [contact for _, contact in present] + missing


def contacts_filter(contacts: Iterable[Contact], query: ContactQuery) -> list[Contact]:
    values = query.filter_values()
    active = [(f, values[f.param]) for f in FILTERS if f.param in values]
    return [c for c in contacts if all(f.matches(c, value) for f, value in active)]


def category_names(lookup: Lookup) -> dict[str, str]:
    """Category names by id: from GetCategories, then from the contacts themselves."""
    names: dict[str, str] = {}
    if lookup.categories is not None:
        names.update({c.id: c.name or c.id for c in lookup.categories.all})
    for contact in lookup.result.contacts:
        for category in contact.categories:
            names.setdefault(category.id, category.name or category.id)
    return names


def contacts_view(
    *, credential: VitecCredential, query: ContactQuery, refresh: bool = False
) -> ContactView:
    """The current view: lookup, then the declared filters, then the sort."""
    return contacts_view_of(
        contacts_lookup(credential=credential, ids=query.ids, refresh=refresh), query
    )


def contacts_view_of(lookup: Lookup, query: ContactQuery) -> ContactView:
    """The view of a lookup's contacts: the declared filters, then the sort."""
    contacts = lookup.result.contacts
    names = category_names(lookup)
    ignored_category = query.category if query.category and query.category not in names else ""
    if ignored_category:  # a category these contacts cannot have: ignore it, say so
        query = replace(query, category="")
    rows = contacts_sort(contacts_filter(contacts, query), query.sort)
    type_counter = Counter(c.type for c in contacts)
    # The three documented types always; a type Vitec adds (e.g. Association) when present.
    others = sorted(str(t) for t in type_counter if t not in TYPE_LABELS)
    type_counts = tuple(
        (str(t), str(label), type_counter.get(t, 0)) for t, label in TYPE_LABELS.items()
    ) + tuple((t, t, type_counter[t]) for t in others)
    read_only = {c.id: c.read_only for c in lookup.categories.all} if lookup.categories else {}
    category_counter = Counter(cat.id for c in contacts for cat in c.categories)
    category_counts = tuple(
        CategoryCount(
            Category(id=cid, name=names.get(cid, cid), read_only=read_only.get(cid, False)), n
        )
        for cid, n in sorted(category_counter.items(), key=lambda item: names.get(item[0], ""))
    )
    return ContactView(
        query=query,
        lookup=lookup,
        rows=tuple(rows),
        type_counts=type_counts,
        category_counts=category_counts,
        category_names=names,
        ignored_category=ignored_category,
    )
