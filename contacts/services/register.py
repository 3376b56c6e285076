"""Browsing and searching an office's register: the query, its filters and the counts beside
each choice, one definition shared by the page and the export (as `selectors` is for lookups).

A search term `q` is read as what it looks like: a personnummer or samordningsnummer finds the
exact contact through the blind index (and nothing else stores it); digits find phone numbers
in any format, organisationsnummer and postcodes; words find names, e-mail, street, postcode,
city and contact id, each word anywhere, without regard to case or accents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import RegisterCategory, RegisterContact, RegisterSync, VitecCredential
from ..vitec.ids import id_key
from .identity import swedish_personnummer_valid
from .ordering import fold
from .phones import phone_digits
from .presentation import PHONE_SHAPED, TYPE_LABELS
from .register_store import personnummer_index

MAX_TERM = 200
_DIGITS = re.compile(r"\d")

YES_NO = (("yes", _("Yes")), ("no", _("No")))
GDPR_CHOICES = (("informed", _("Informed")), ("missing", _("Not informed")))
LEAD_SCORES = tuple((str(n), str(n)) for n in range(6))


@dataclass(frozen=True, slots=True)
class RegisterQuery:
    """Everything that defines a view of the register, read from the query string."""

    q: str = ""
    type: str = ""
    category: str = ""
    gdpr: str = ""  # informed | missing
    advertising: str = ""  # yes | no
    deceased: str = ""  # yes | no
    lead_score: str = ""  # "0".."5"
    agent: str = ""
    changed_since: date | None = None
    ids: tuple[str, ...] = ()
    sort: str = "name"  # name | -name | changed | -changed | city | -city
    page: int = 1
    per_page: int = 50

    def params(self) -> dict[str, str]:
        """The query as URL parameters (empty ones left out), page and size excluded."""
        values = {
            "q": self.q,
            "type": self.type,
            "category": self.category,
            "gdpr": self.gdpr,
            "advertising": self.advertising,
            "deceased": self.deceased,
            "lead_score": self.lead_score,
            "agent": self.agent,
            "changed_since": self.changed_since.isoformat() if self.changed_since else "",
            "ids": " ".join(self.ids),
            "sort": "" if self.sort == "name" else self.sort,
        }
        return {key: value for key, value in values.items() if value}


# Sort keys (the list's column keys) and the columns they order by; ties in Swedish name order.
SORTS = {
    "name": ("sort_key", "contact_id"),
    "type": ("contact_type", "sort_key"),
    "email": ("email", "sort_key"),
    "city": ("city", "sort_key"),
    "lead_score": ("lead_score", "sort_key"),
    "gdpr": ("gdpr_informed_at", "sort_key"),
    "changed": ("changed_at", "sort_key"),
}


@dataclass(frozen=True, slots=True)
class Facet:
    param: str
    label: object
    choices: tuple[tuple[str, str, int], ...]  # (value, label, count with the other filters)


@dataclass(frozen=True, slots=True)
class RegisterView:
    query: RegisterQuery
    rows: QuerySet[RegisterContact]  # filtered and sorted: every page of it
    total: int
    facets: tuple[Facet, ...]
    sync: RegisterSync | None
    unknown_ids: tuple[str, ...] = ()  # asked in `ids` but not in the register
    notices: tuple[str, ...] = field(default_factory=tuple)


def register_state(customer_id: str) -> RegisterSync | None:
    return RegisterSync.objects.filter(customer_id=customer_id).first()


_UNREAD: Any = object()  # a register state not read yet


def register_open_to(
    credential: VitecCredential, state: RegisterSync | None = _UNREAD
) -> RegisterSync | None:
    """The customer's register state when this credential may browse it: the register has
    completed a full sync and Vitec has accepted the credential (and not refused it since).
    `state`: the customer's register state when the caller has read it already."""
    if credential.standing != VitecCredential.Standing.ACCEPTED:
        return None
    if state is _UNREAD:
        state = register_state(credential.customer_id)
    return state if state is not None and state.ready else None


def _term_filter(term: str) -> Q:
    folded = fold(term)[:MAX_TERM]
    if not folded:
        return Q()
    digits = "".join(_DIGITS.findall(term))
    condition = Q()
    if len(digits) in (10, 12) and swedish_personnummer_valid(term.strip()):
        condition |= Q(personnummer_index=personnummer_index(term))
        if not (len(digits) == 10 and digits.startswith("0") and digits == term.strip()):
            # Written as a personnummer (a century, a dash or a plus, or not a phone's leading
            # 0): found by the index alone, one row read. Ten bare digits from 0 may be a phone.
            return condition
    if PHONE_SHAPED.match(term.strip()) and len(digits) >= 3:
        condition |= Q(phone_digits__contains=phone_digits(term.strip()))
        condition |= Q(search_text__contains=digits)
        condition |= Q(search_text__contains=folded)
        return condition
    words = Q()
    for word in folded.split(" "):
        words &= Q(search_text__contains=word)
    return condition | words if condition else words


def _filters(query: RegisterQuery) -> dict[str, Q]:
    """Each active filter's condition, by parameter (so a facet can leave its own out)."""
    conditions: dict[str, Q] = {}
    if query.q:
        conditions["q"] = _term_filter(query.q)
    if query.type:
        conditions["type"] = Q(contact_type=query.type)
    if query.category:
        conditions["category"] = Q(tags__category_id=query.category)
    if query.gdpr == "informed":
        conditions["gdpr"] = Q(gdpr_informed_at__isnull=False)
    elif query.gdpr == "missing":
        conditions["gdpr"] = Q(gdpr_informed_at__isnull=True, contact_type="Person")
    if query.advertising in ("yes", "no"):
        conditions["advertising"] = Q(advertising=query.advertising == "yes")
    if query.deceased in ("yes", "no"):
        conditions["deceased"] = Q(deceased=query.deceased == "yes")
    if query.lead_score:
        conditions["lead_score"] = Q(lead_score=int(query.lead_score))
    if query.agent:
        conditions["agent"] = Q(agent_id=query.agent)
    if query.changed_since:
        start = timezone.make_aware(datetime.combine(query.changed_since, time()))
        conditions["changed_since"] = Q(changed_at__gte=start)
    if query.ids:
        conditions["ids"] = Q(id_key__in=[id_key(i) for i in query.ids])
    return conditions


def _filtered(customer_id: str, conditions: Mapping[str, Q], *, leave_out: str = "") -> QuerySet:
    rows = RegisterContact.objects.filter(customer_id=customer_id)
    for param, condition in conditions.items():
        if param != leave_out:
            rows = rows.filter(condition)
    return rows


def _counts(rows: QuerySet, column: str) -> dict[Any, int]:
    return {
        value: count for value, count in rows.order_by().values_list(column).annotate(n=Count("pk"))
    }


# Facets whose choices are fixed: counted together, one conditional COUNT per choice, in one
# query over the rows that the other filters leave (see _facets).
_FIXED_CHOICES: dict[str, dict[str, Q]] = {
    "gdpr": {
        "informed": Q(gdpr_informed_at__isnull=False),
        "missing": Q(gdpr_informed_at__isnull=True, contact_type="Person"),
    },
    "advertising": {"yes": Q(advertising=True), "no": Q(advertising=False)},
    "deceased": {"yes": Q(deceased=True), "no": Q(deceased=False)},
    "lead_score": {value: Q(lead_score=int(value)) for value, _label in LEAD_SCORES},
}
_FIXED_LABELS: dict[str, tuple[tuple[str, Any], ...]] = {
    "gdpr": GDPR_CHOICES,
    "advertising": YES_NO,
    "deceased": YES_NO,
    "lead_score": LEAD_SCORES,
}


def _fixed_counts(rows: QuerySet, params: list[str], *, total: bool) -> dict[str, int]:
    """Counts of each choice of these fixed facets (keys "param:value"), and of all the rows
    ("total") when asked, in one query."""
    counts = {
        f"{param}:{value}": Count("pk", filter=condition)
        for param in params
        for value, condition in _FIXED_CHOICES[param].items()
    }
    if total:
        counts["total"] = Count("pk")
    return rows.order_by().aggregate(**counts) if counts else {}


def _facets(
    customer_id: str, conditions: Mapping[str, Q], agents: Mapping[str, str]
) -> tuple[int, tuple[Facet, ...]]:
    """The number of rows of the view and its facets: beside each choice, how many rows it would
    leave with the other filters kept (a facet leaves its own filter out, as Django admin's do).

    The fixed facets whose filter is not set share the view's own rows: they are counted in one
    query with the total; each set one is counted in one query without its filter.
    """

    def without(param: str) -> QuerySet:
        return _filtered(customer_id, conditions, leave_out=param)

    unset = [param for param in _FIXED_CHOICES if param not in conditions]
    fixed = _fixed_counts(without(""), unset, total=True)
    for param in _FIXED_CHOICES:
        if param in conditions:
            fixed.update(_fixed_counts(without(param), [param], total=False))

    types = _counts(without("type"), "contact_type")
    known = {str(t): str(label) for t, label in TYPE_LABELS.items()}
    type_choices = [(t, known.get(t, t), n) for t, n in types.items() if t]
    order = list(known)
    type_choices.sort(key=lambda c: (order.index(c[0]) if c[0] in order else len(order), c[1]))

    tag_rows = RegisterCategory.objects.filter(contact__in=without("category").values("pk"))
    category_choices = sorted(
        (
            (category_id, name or category_id, n)
            for category_id, name, n in tag_rows.order_by()
            .values_list("category_id", "name")
            .annotate(n=Count("pk"))
        ),
        key=lambda c: fold(c[1]),
    )
    merged: dict[str, tuple[str, str, int]] = {}
    for value, label, n in category_choices:  # one category named twice: counted once
        old = merged.get(value)
        merged[value] = (value, label, n + (old[2] if old else 0))

    agent_counts = _counts(without("agent"), "agent_id")

    def fixed_facet(param: str, label: object) -> Facet:
        return Facet(
            param,
            label,
            tuple((v, str(text), fixed[f"{param}:{v}"]) for v, text in _FIXED_LABELS[param]),
        )

    return fixed["total"], (
        Facet("type", _("Type"), tuple(type_choices)),
        Facet("category", _("Category"), tuple(merged.values())),
        fixed_facet("gdpr", _("GDPR")),
        fixed_facet("advertising", _("Advertising consent")),
        fixed_facet("deceased", _("Deceased")),
        fixed_facet("lead_score", _("Lead score")),
        Facet(
            "agent",
            _("Agent"),
            tuple(
                sorted(
                    ((a, agents.get(a, a), n) for a, n in agent_counts.items() if a),
                    key=lambda c: fold(c[1]),
                )
            ),
        ),
    )


def register_view(
    *,
    customer_id: str,
    query: RegisterQuery,
    agents: Mapping[str, str] | None = None,
    with_facets: bool = True,
    state: RegisterSync | None = _UNREAD,
) -> RegisterView:
    """The filtered, sorted register of a customer with the counts beside each choice.
    `state`: the customer's register state when the caller has read it already."""
    conditions = _filters(query)
    rows = _filtered(customer_id, conditions)
    if "category" in conditions:
        rows = rows.distinct()
    descending = query.sort.startswith("-")
    order = SORTS.get(query.sort.removeprefix("-"), SORTS["name"])
    # Rows without a value come last either way; ties in Swedish name order.
    rows = rows.order_by(
        *(
            F(part).desc(nulls_last=True) if descending else F(part).asc(nulls_last=True)
            for part in order
        )
    )
    unknown: tuple[str, ...] = ()
    if query.ids:
        held = set(
            RegisterContact.objects.filter(
                customer_id=customer_id, id_key__in=[id_key(i) for i in query.ids]
            ).values_list("id_key", flat=True)
        )
        unknown = tuple(i for i in query.ids if id_key(i) not in held)
    if with_facets:
        total, facets = _facets(customer_id, conditions, agents or {})
    else:
        total, facets = rows.count(), ()
    return RegisterView(
        query=query,
        rows=rows,
        total=total,
        facets=facets,
        sync=register_state(customer_id) if state is _UNREAD else state,
        unknown_ids=unknown,
    )


def changed_since_parse(text: str) -> date | None:
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.year < 1900 or value > timezone.localdate() + timedelta(days=1):
        return None
    return value


__all__ = [
    "SORTS",
    "Facet",
    "RegisterQuery",
    "RegisterView",
    "changed_since_parse",
    "register_open_to",
    "register_state",
    "register_view",
]


def register_opening(
    credential: VitecCredential, state: RegisterSync | None = _UNREAD
) -> RegisterSync | None:
    """As register_open_to; a credential Vitec has not answered yet is tried once first, with
    one cheap call (its categories), so a register opens only to a password Vitec accepts."""
    if state is _UNREAD:
        state = register_state(credential.customer_id)
    if credential.standing == VitecCredential.Standing.UNTRIED:
        if state is None or not state.ready:
            return None
        from .credentials import credential_test_connection  # credentials imports lookup

        credential_test_connection(credential=credential)
        credential.refresh_from_db(fields=["standing", "standing_at"])
    return register_open_to(credential, state)
