"""What a broker chose for their screens: the list's columns, kept per user
(`BrokerPreference`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from ..models import BrokerPreference
from .presentation import HTML_COLUMNS, Column

# What a broker sees first: the columns that fit a 1280-1440 px screen beside the filters.
# Organisationsnummer/personnummer, lead score and advertising are a click away.
DEFAULT_COLUMNS = ("name", "type", "phone", "email", "city", "categories", "gdpr", "changed")
ALWAYS_SHOWN = "name"  # the link to the contact's page


def list_columns(user: AbstractBaseUser) -> tuple[Column, ...]:
    """The list's columns for the broker, in the list's order: their choice, else the default."""
    chosen = (
        BrokerPreference.objects.filter(user_id=user.pk).values_list("columns", flat=True).first()
    )
    return _columns(chosen or DEFAULT_COLUMNS)


def list_columns_save(user: AbstractBaseUser, keys: Iterable[str]) -> tuple[Column, ...]:
    """Keep the broker's choice (unknown keys dropped, the name always shown); the default
    choice is stored as "the default", so that a later change of the default reaches them."""
    columns = _columns(keys)
    chosen = [c.key for c in columns]
    stored = [] if tuple(chosen) == DEFAULT_COLUMNS else chosen
    BrokerPreference.objects.update_or_create(user_id=user.pk, defaults={"columns": stored})
    return columns


def _columns(keys: Iterable[object]) -> tuple[Column, ...]:
    wanted = {str(k) for k in keys} | {ALWAYS_SHOWN}
    return tuple(c for c in HTML_COLUMNS if c.key in wanted)
