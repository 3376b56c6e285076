"""Reading the broker's input: the lookup form, and the query string that defines the current view.

Nothing here raises on garbage: an unknown type, sort or page is dropped (the page still renders),
control characters (NUL among them) are stripped from every parameter before it is used or
recorded, and whatever was wrong with the ids comes back as a notice for the broker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .audit import control_strip
from .services import MAX_LOOKUP_IDS, SORT_COLUMNS, ContactQuery, ids_parse
from .services.register import SORTS as REGISTER_SORTS
from .services.register import RegisterQuery, changed_since_parse
from .services.selectors import PAGE_SIZE, PAGE_SIZES
from .vitec.models import ContactType

MAX_TEXT_FILTER = 100
MAX_ID_TEXT = 100_000  # 1,000 ids of 40 characters with separators fit comfortably
# Above this length the ids travel by a list stored in the database (`list=`) instead of the URL.
MAX_IDS_IN_URL = 1500
MAX_LIST_NAME = 100


class IdLists(Protocol):
    """Where `list=` tokens are read (contacts.services.IdListResolver: the database lists one
    user may open for one customer)."""

    def get(self, token: str, default: str | None = None, /) -> str | None: ...


class IdListMaker(IdLists, Protocol):
    """...and where a long id list gets its token."""

    def reference(self, ids: str, /) -> str: ...


def list_not_found_notice() -> str:
    return str(
        _(
            "That list of ids was not found: it was deleted, or it belongs to a customer you "
            "have no access to."
        )
    )


class LookupForm(forms.Form):
    ids = forms.CharField(
        label=_("Contact ids"),
        help_text=_("Separate the ids with commas, spaces or new lines. At most 1,000."),
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off"}),
        max_length=MAX_ID_TEXT,
        required=False,
    )

    def clean_ids(self) -> str:
        text = self.cleaned_data["ids"]
        if not ids_parse(text).ids:
            raise forms.ValidationError(_("Enter at least one contact id."))
        return text


YES = frozenset({"on", "1", "true"})


def explicit_yes(value: object) -> bool:
    """Only `on` (a ticked checkbox), `1` and `true` mean yes; anything else, `0`, `off`, `no`
    and `false` included, means no."""
    return isinstance(value, str) and value.strip().lower() in YES


class ExplicitCheckbox(forms.CheckboxInput):
    """A checkbox that is ticked only by an explicit yes (Django's own takes `off` and `no` as
    ticked)."""

    def value_from_datadict(
        self, data: Mapping[str, Any], files: Mapping[str, Any], name: str
    ) -> bool:
        return explicit_yes(data.get(name))


class ExportForm(forms.Form):
    """Options of the download (CSV, Excel or vCard); the rows are those of the current view.

    A file with personnummer is made only from a POST (with its CSRF token), and never as a
    vCard: see views.exports. The separator is the CSV's only.
    """

    include_personnummer = forms.BooleanField(
        label=_("Include personnummer"),
        help_text=_("CSV and Excel only: a vCard never holds a personnummer."),
        required=False,
        widget=ExplicitCheckbox,
    )
    delimiter = forms.ChoiceField(
        label=_("Separator (CSV)"),
        choices=[("semicolon", _("Semicolon (Excel, Swedish)")), ("comma", _("Comma"))],
        required=False,
    )
    partial = forms.BooleanField(
        label=_("Export what arrived"),
        help_text=_("The file then names the ids that could not be fetched."),
        required=False,
        widget=ExplicitCheckbox,
    )

    @property
    def delimiter_char(self) -> str:
        if self.is_valid() and self.cleaned_data.get("delimiter") == "comma":
            return ","
        return ";"

    @property
    def personnummer(self) -> bool:
        return self.is_valid() and bool(self.cleaned_data.get("include_personnummer"))

    @property
    def what_arrived(self) -> bool:
        """A partial export asked for: the contacts that arrived, the missing ids named."""
        return self.is_valid() and bool(self.cleaned_data.get("partial"))


@dataclass
class ParsedQuery:
    query: ContactQuery
    notices: list[str] = field(default_factory=list)
    ids_text: str = ""  # the ids as one line, for the form


def param_text(params: Mapping[str, object], name: str, limit: int = 200) -> str:
    """A parameter as text: control characters dropped, trimmed, cut at `limit`; "" for none."""
    value = params.get(name, "")
    return control_strip(value).strip()[:limit] if isinstance(value, str) else ""


def _ids_param(params: Mapping[str, object]) -> str:
    """The ids as typed: line breaks and tabs separate them, and an id with any other control
    character is left out by ids_parse, with a notice."""
    value = params.get("ids", "")
    return value.strip()[:MAX_ID_TEXT] if isinstance(value, str) else ""


def ids_notices(text: str) -> tuple[tuple[str, ...], list[str]]:
    """The ids to look up from the broker's text, and what to tell them about the rest."""
    parsed = ids_parse(text)
    notices: list[str] = []
    if parsed.too_many:
        notices.append(
            str(
                _("Only the first %(max)s ids were looked up. Split longer lists.")
                % {"max": f"{MAX_LOOKUP_IDS:,}".replace(",", "\u00a0")}
            )
        )
    if parsed.too_long:
        notices.append(
            ngettext(
                "%(count)d id longer than 40 characters was left out: %(ids)s",
                "%(count)d ids longer than 40 characters were left out: %(ids)s",
                len(parsed.too_long),
            )
            % {"count": len(parsed.too_long), "ids": _named(parsed.too_long)}
        )
    if parsed.unsafe:
        notices.append(
            ngettext(
                "%(count)d id with characters no contact id has (/ ? # %% or control "
                "characters) was left out: %(ids)s",
                "%(count)d ids with characters no contact id has (/ ? # %% or control "
                "characters) were left out: %(ids)s",
                len(parsed.unsafe),
            )
            % {"count": len(parsed.unsafe), "ids": _named(parsed.unsafe)}
        )
    return parsed.ids, notices


NAMED_IDS = 3  # the ids a notice names; the rest are counted
NAMED_LENGTH = 24  # characters of each; a longer piece is cut, with "…"


def _named(pieces: tuple[str, ...]) -> str:
    """The first pieces as typed (control characters dropped, long ones cut), then "and N
    more": `a/b, x%2Fy and 5 more`."""
    shown = []
    for piece in pieces[:NAMED_IDS]:
        clean = control_strip(piece)
        shown.append(clean[:NAMED_LENGTH] + "…" if len(clean) > NAMED_LENGTH else clean)
    text = ", ".join(shown)
    more = len(pieces) - len(shown)
    if more:
        text += " " + ngettext("and %(more)d more", "and %(more)d more", more) % {"more": more}
    return text


def query_from_params(params: Mapping[str, str], lists: IdLists | None = None) -> ParsedQuery:
    """The current view from a query string (page and CSV alike). Garbage is dropped. `list=`
    is read from `lists` (an unknown token, or one of a list the user may not open: a notice and
    no ids)."""
    notices: list[str] = []
    ids_text = _ids_param(params)
    list_key = param_text(params, "list", 40)
    if not ids_text and list_key and lists is not None:
        ids_text = lists.get(list_key) or ""
        if not ids_text:
            notices.append(list_not_found_notice())
    ids, id_notices = ids_notices(ids_text)
    notices.extend(id_notices)

    contact_type = param_text(params, "type")
    if contact_type not in ContactType._value2member_map_:
        contact_type = ""
    sort = param_text(params, "sort", 40)
    if sort.removeprefix("-") not in SORT_COLUMNS:
        sort = ""
    try:
        page = max(1, int(param_text(params, "page", 12) or 1))
    except ValueError:
        page = 1
    try:
        per_page = int(param_text(params, "per_page", 4) or PAGE_SIZE)
    except ValueError:
        per_page = PAGE_SIZE
    if per_page not in PAGE_SIZES:
        per_page = PAGE_SIZE
    query = ContactQuery(
        ids=ids,
        type=contact_type,
        category=param_text(params, "category", 40),
        q=param_text(params, "q", MAX_TEXT_FILTER),
        sort=sort,
        page=page,
        per_page=per_page,
    )
    return ParsedQuery(query=query, notices=notices, ids_text=", ".join(ids))


def ids_reference(ids: tuple[str, ...], lists: IdListMaker) -> dict[str, str]:
    """Query parameters that carry the ids: in the URL when short, else by a list kept in the
    database (the same list again for the same ids)."""
    text = ",".join(ids)
    if len(text) <= MAX_IDS_IN_URL:
        return {"ids": text}
    return {"list": lists.reference(text)}


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ListNameForm(forms.Form):
    """The name a list is saved or renamed under: 1 to 100 characters, no control characters."""

    name = forms.CharField(
        label=_("Name"),
        max_length=MAX_LIST_NAME,
        strip=True,
        error_messages={
            "required": _("Give the list a name."),
            "max_length": _("A list's name is at most %(limit_value)d characters."),
        },
    )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if _CONTROL.search(name):
            raise forms.ValidationError(_("A list's name cannot hold control characters."))
        return name


_CHOICES = {
    "gdpr": frozenset({"informed", "missing"}),
    "advertising": frozenset({"yes", "no"}),
    "deceased": frozenset({"yes", "no"}),
    "lead_score": frozenset(str(n) for n in range(6)),
}


def register_query_from_params(
    params: Mapping[str, str], lists: IdLists | None = None
) -> tuple[RegisterQuery, list[str]]:
    """The register's current view from a query string (page and CSV alike). A value that is
    not one of a filter's choices is dropped; an unreadable date is dropped with a notice."""
    parsed = query_from_params(params, lists)
    notices = list(parsed.notices)
    values = {name: param_text(params, name, 20) for name in _CHOICES}
    chosen = {name: value if value in _CHOICES[name] else "" for name, value in values.items()}
    contact_type = param_text(params, "type", 40)
    if not contact_type.isalpha():
        contact_type = ""
    changed_text = param_text(params, "changed_since", 20)
    changed_since = changed_since_parse(changed_text) if changed_text else None
    if changed_text and changed_since is None:
        notices.append(str(_("The date “changed since” was not understood; use YYYY-MM-DD.")))
    sort = param_text(params, "sort", 20) or "name"
    if sort.removeprefix("-") not in REGISTER_SORTS:
        sort = "name"
    agent = param_text(params, "agent", 40)
    query = RegisterQuery(
        q=param_text(params, "q", MAX_TEXT_FILTER),
        type=contact_type,
        category=param_text(params, "category", 100),
        agent=agent if ids_parse(agent).ids == (agent,) else "",
        changed_since=changed_since,
        ids=parsed.query.ids,
        sort=sort,
        page=parsed.query.page,
        per_page=parsed.query.per_page,
        **chosen,
    )
    return query, notices
