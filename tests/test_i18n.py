"""The Swedish catalogue is complete, and the compiled one committed beside it matches it."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.test import Client

LOCALE = Path(__file__).resolve().parent.parent / "locale" / "sv" / "LC_MESSAGES"
ENTRY = re.compile(
    r'^(?:msgctxt ((?:".*"\n)+))?msgid ((?:".*"\n)+)'
    r'(?:msgid_plural ((?:".*"\n)+))?((?:msgstr(?:\[\d\])? (?:".*"\n)+)+)',
    re.M,
)


def _text(block: str) -> str:
    return "".join(ast.literal_eval(line) for line in block.strip().splitlines())


def po_entries() -> list[tuple[str | None, str, str | None, list[str]]]:
    """(context, msgid, plural, translations) of every entry but the header."""
    source = (LOCALE / "django.po").read_text(encoding="utf-8")
    entries = []
    for match in ENTRY.finditer(source):
        context = _text(match.group(1)) if match.group(1) else None
        msgid = _text(match.group(2))
        plural = _text(match.group(3)) if match.group(3) else None
        strings = [
            _text(part)
            for part in re.split(r"^msgstr(?:\[\d\])? ", match.group(4), flags=re.M)
            if part
        ]
        if msgid:  # the header entry has an empty msgid
            entries.append((context, msgid, plural, strings))
    return entries


def test_every_message_is_translated_and_none_is_fuzzy():
    entries = po_entries()
    assert len(entries) > 100
    untranslated = [msgid for _, msgid, _, strings in entries if not all(strings)]
    assert untranslated == []
    assert "#, fuzzy" not in (LOCALE / "django.po").read_text(encoding="utf-8")


def test_the_compiled_catalogue_matches_the_source():
    with (LOCALE / "django.mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    for context, msgid, plural, strings in po_entries():
        if context is not None:
            assert catalogue.pgettext(context, msgid) == strings[0], (context, msgid)
        elif plural is None:
            assert catalogue.gettext(msgid) == strings[0], msgid
        else:
            assert catalogue.ngettext(msgid, plural, 1) == strings[0], msgid
            assert catalogue.ngettext(msgid, plural, 5) == strings[1], msgid


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [("sv", "Logga in", "Log in</button>"), ("en", "Log in</button>", "Logga in")],
)
def test_the_login_page_speaks_the_asked_language(language, expected, absent):
    response = Client(headers={"Accept-Language": language}).get("/accounts/login/")
    page = response.content.decode()
    assert f'<html lang="{language}">' in page
    assert expected in page and absent not in page


@pytest.mark.django_db
def test_swedish_is_the_default_language():
    page = Client().get("/accounts/login/").content.decode()
    assert '<html lang="sv">' in page and "Hoppa till innehållet" in page
