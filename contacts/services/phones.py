"""Phone numbers as brokers and their phones need them, read with `phonenumbers` (Swedish unless
a number says otherwise): national format on screen, E.164 in `tel:` links and exports."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneNumberType

from ..vitec.models import Contact

_DIGITS = re.compile(r"\d")


def phone_digits(number: str) -> str:
    """A phone number as national digits: "+46 70 123 45 67" and "070-123 45 67" alike."""
    digits = "".join(_DIGITS.findall(number))
    if number.strip().startswith("+46"):
        return "0" + digits[2:]
    if digits.startswith("0046"):
        return "0" + digits[4:]
    return digits


PHONE_LABELS = {
    "cell": _("Mobile"),
    "home": _("Home"),
    "work": _("Work"),
    "switch": _("Switchboard"),
    "other": _("Other"),
}


@dataclass(frozen=True, slots=True)
class Phone:
    label: str
    number: str  # on screen: Swedish national format (a foreign number: international format)
    href: str  # tel: link, E.164 when the number parses
    e164: str = ""  # "" when phonenumbers cannot read the number
    sms: str = ""  # sms: link for a mobile number, "" for any other


_SE = "SE"
_INTERNATIONAL = phonenumbers.PhoneNumberFormat.INTERNATIONAL


def phone_parsed(number: str) -> phonenumbers.PhoneNumber | None:
    """The number read by phonenumbers (Swedish unless it says otherwise), or None."""
    try:
        parsed = phonenumbers.parse(number, _SE)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_valid_number(parsed) else None


def _shown(parsed: phonenumbers.PhoneNumber | None, number: str) -> str:
    if parsed is None:
        return number.strip()
    swedish = phonenumbers.region_code_for_number(parsed) == _SE
    style = phonenumbers.PhoneNumberFormat.NATIONAL if swedish else _INTERNATIONAL
    return phonenumbers.format_number(parsed, style)


def _e164(parsed: phonenumbers.PhoneNumber | None) -> str:
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) if parsed else ""


def phone_display(number: str) -> str:
    """`070-111 22 33` for a Swedish number, `+47 22 33 44 55` for a foreign one; a number
    phonenumbers cannot read stays as Vitec sent it (its leading zero with it)."""
    return _shown(phone_parsed(number), number)


def phone_e164(number: str | None) -> str:
    """`+46701112233`, or "" when the number cannot be read."""
    return _e164(phone_parsed(number) if number else None)


@functools.lru_cache(maxsize=20_000)
def _phone(kind: str, number: str) -> Phone:
    """One phone of a contact, its number read once for the screen, the link and E.164 (and
    remembered: reading a number is the slowest part of a list's row, and a Phone is frozen)."""
    parsed = phone_parsed(number)
    e164 = _e164(parsed)
    plus = "+" if number.strip().startswith("+") else ""
    return Phone(
        label=str(PHONE_LABELS.get(kind, kind)),
        number=_shown(parsed, number),
        href="tel:" + (e164 or plus + "".join(_DIGITS.findall(number))),
        e164=e164,
        sms="sms:" + e164 if parsed is not None and _mobile(parsed) else "",
    )


def _mobile(parsed: phonenumbers.PhoneNumber) -> bool:
    kind = phonenumbers.number_type(parsed)
    return kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def contact_phones(contact: Contact) -> list[Phone]:
    numbers = getattr(getattr(contact, "telephone", None), "numbers", [])
    return [_phone(kind, number) for kind, number in numbers]


def primary_phone_display(contact: Contact) -> str | None:
    return phone_display(contact.primary_phone) if contact.primary_phone else None
