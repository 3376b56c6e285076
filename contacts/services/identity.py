"""Identity numbers: personnummer, samordningsnummer and organisationsnummer checked and written
with `python-stdnum`, masked unless revealed (the date of birth stays visible, the last four
never do), foreign ones kept in their own shape, invalid Swedish ones marked."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _
from stdnum import luhn
from stdnum.se import orgnr, personnummer

from ..vitec.models import Contact, CrmCompanyContact, CrmDeceasedEstateContact, CrmPersonContact

_DIGITS = re.compile(r"\d")


def personnummer_mask(number: str | None) -> str:
    """`YYMMDD-****`: the date of birth stays visible, the last four digits never do."""
    if not number:
        return ""
    digits = "".join(_DIGITS.findall(number))
    if len(digits) == 12:
        return f"{digits[2:8]}-****"
    if len(digits) == 10:
        return f"{digits[:6]}-****"
    return "****"  # an odd number: hide it whole


def foreign_number_mask(number: str | None) -> str:
    """A foreign number in its own shape, its last four letters or digits hidden (no Swedish
    `YYMMDD-****` made up from it); a short one is hidden whole."""
    if not number:
        return ""
    positions = [i for i, char in enumerate(number) if char.isalnum()]
    if len(positions) <= 4:
        return "****"
    hidden = set(positions[-4:])
    return "".join("*" if i in hidden else char for i, char in enumerate(number))


INVALID_MARK = _("(invalid)")


def _marked_invalid(text: str) -> str:
    return f"{text} {INVALID_MARK}"


def social_security_number(contact: Contact) -> str | None:
    if isinstance(contact, CrmPersonContact | CrmDeceasedEstateContact):
        return contact.social_security_number
    return None


def swedish_personnummer_valid(number: str) -> bool:
    """A valid personnummer, or samordningsnummer (the day plus 60), by stdnum.se.personnummer:
    stdnum checks the date and the Luhn digit of a personnummer; for a samordningsnummer the Luhn
    digit is checked on the number as written and the date with 60 taken off the day."""
    if personnummer.is_valid(number):
        return True
    try:
        compact = personnummer.compact(number)
    except ValueError:
        return False
    digits = "".join(_DIGITS.findall(compact))
    if len(digits) not in (10, 12) or not 61 <= int(digits[-6:-4]) <= 91:
        return False
    day = f"{int(digits[-6:-4]) - 60:02d}"
    birth = compact[:-7] + day + compact[-5:]
    ten = digits[-10:]
    if not luhn.is_valid(ten):
        return False
    try:
        personnummer.get_birth_date(birth)
    except ValueError:
        return False
    return True


def _personnummer_display(number: str, *, foreign: bool, reveal: bool) -> str:
    """Personnummer and samordningsnummer checked with stdnum.se.personnummer: a valid one as
    `YYYYMMDD-NNNN` (revealed) or `YYMMDD-****`; a foreign one as given or masked in its own
    shape; an invalid Swedish one masked (or as given, revealed) and marked."""
    if foreign:
        return number if reveal else foreign_number_mask(number)
    if swedish_personnummer_valid(number):
        compact = personnummer.compact(number)  # `YYMMDD-NNNN` or `YYYYMMDD-NNNN`, as Vitec had it
        return compact if reveal else personnummer_mask(compact)
    return _marked_invalid(number if reveal else personnummer_mask(number))


def corporate_number_display(contact: CrmCompanyContact) -> str:
    """Organisationsnummer checked with stdnum.se.orgnr and written `NNNNNN-NNNN`; a foreign one
    as given; an invalid Swedish one masked (it may be a mistyped personnummer) and marked."""
    number = (contact.corporate_number or "").strip()
    if not number or contact.is_foreign_corporate_number:
        return number
    if orgnr.is_valid(number):
        return str(orgnr.format(number))
    if personnummer.is_valid(number):  # a sole trader's organisationsnummer is a personnummer
        return personnummer_mask(number)
    return _marked_invalid(personnummer_mask(number))


def id_number_display(contact: Contact, *, reveal: bool = False) -> str:
    """Organisationsnummer for companies; personnummer masked unless `reveal`."""
    if isinstance(contact, CrmCompanyContact):
        return corporate_number_display(contact)
    number = (social_security_number(contact) or "").strip()
    if not number:
        return ""
    foreign = bool(getattr(contact, "is_foreign_social_security_number", False))
    return _personnummer_display(number, foreign=foreign, reveal=reveal)
