"""Lists of contact ids kept in the database: what `list=` names in a URL when the ids are more
than a URL carries, and the lists a broker saves by name (and may share with colleagues).

Who may do what:
- open a list by its token: any user with an active credential for the list's customer (a link
  works for a colleague with their own credential); anybody else gets None, as for a token that
  does not exist, so nobody can probe for other customers' lists;
- rename, share, unshare, delete: its owner only (for anybody else it does not exist);
- the lists page: the user's own named lists and colleagues' shared ones, of one customer.

Unnamed lists (made for a long lookup) unused for ID_LIST_RETENTION_DAYS are purged by
`id_lists_purge` (run by `schedule_syncs`); a named list is kept until its owner deletes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone

from ..models import IdList, VitecCredential
from .credentials import credentials_for_user

# `used_at` is written at most this often for one list: opening a page is not a write each time.
USED_AT_EVERY = timedelta(hours=1)
MAX_TOKEN = 32


def _may_browse(user: User, customer_id: str) -> bool:
    return credentials_for_user(user=user).filter(customer_id=customer_id).exists()


def _touch(id_list: IdList, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if now - id_list.used_at >= USED_AT_EVERY:
        IdList.objects.filter(pk=id_list.pk).update(used_at=now)
        id_list.used_at = now


def id_list_for_ids(*, user: User, customer_id: str, ids: str) -> IdList:
    """An unnamed list of these comma-separated ids for the user and customer: the one already
    made for the same ids (touched), else a new one."""
    existing = (
        IdList.objects.filter(owner=user, customer_id=customer_id, name="", ids=ids)
        .order_by("-used_at")
        .first()
    )
    if existing is not None:
        _touch(existing)
        return existing
    return IdList.objects.create(owner=user, customer_id=customer_id, ids=ids)


def id_list_open(*, credential: VitecCredential, token: str) -> IdList | None:
    """The list with this token when it is of the credential's customer, its use recorded;
    None otherwise, garbage included. The credential is one the user may use (the caller found
    it among theirs): whoever may browse a customer may open its lists."""
    if not token or len(token) > MAX_TOKEN:
        return None
    id_list = IdList.objects.filter(token=token).select_related("owner").first()
    if id_list is None or id_list.customer_id != credential.customer_id:
        return None
    _touch(id_list)
    return id_list


def _owned(user: User, token: str) -> IdList | None:
    if not token or len(token) > MAX_TOKEN:
        return None
    return IdList.objects.filter(token=token, owner=user).first()


def id_list_save(
    *, user: User, customer_id: str, ids: str, name: str, token: str = ""
) -> IdList | None:
    """Save the ids under a name: the user's own unnamed list `token` is named in place (its
    links keep working), otherwise a new named list is made. None when the user may not browse
    the customer or there are no ids."""
    if not ids or not _may_browse(user, customer_id):
        return None
    own = _owned(user, token) if token else None
    if own is not None and not own.name and own.customer_id == customer_id and own.ids == ids:
        own.name = name
        own.used_at = timezone.now()
        own.save(update_fields=["name", "used_at"])
        return own
    return IdList.objects.create(owner=user, customer_id=customer_id, ids=ids, name=name)


def id_list_rename(*, user: User, token: str, name: str) -> IdList | None:
    """Rename the user's own list; None when it is not theirs or does not exist."""
    id_list = _owned(user, token)
    if id_list is None:
        return None
    id_list.name = name
    id_list.save(update_fields=["name"])
    return id_list


def id_list_share(*, user: User, token: str, shared: bool) -> IdList | None:
    """Share (or stop sharing) the user's own named list; None when it is not theirs, does not
    exist, or has no name (an automatic list is not offered to colleagues)."""
    id_list = _owned(user, token)
    if id_list is None or not id_list.name:
        return None
    id_list.shared = shared
    id_list.save(update_fields=["shared"])
    return id_list


def id_list_delete(*, user: User, token: str) -> IdList | None:
    """Delete the user's own list; the list deleted, None when it was not theirs or none."""
    id_list = _owned(user, token)
    if id_list is None:
        return None
    id_list.delete()
    return id_list


def id_lists_for_user(*, user: User, customer_id: str) -> list[IdList]:
    """The named lists of a customer the user sees: their own and colleagues' shared ones (none
    when the user may not browse the customer), the most recently used first."""
    if not _may_browse(user, customer_id):
        return []
    return list(
        IdList.objects.filter(customer_id=customer_id)
        .exclude(name="")
        .filter(Q(owner=user) | Q(shared=True))
        .select_related("owner")
        .order_by("-used_at", "pk")
    )


def id_lists_purge(now: datetime | None = None) -> int:
    """Delete the unnamed lists unused for ID_LIST_RETENTION_DAYS; how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.ID_LIST_RETENTION_DAYS)
    deleted, _ = IdList.objects.filter(name="", used_at__lt=cutoff).delete()
    return deleted


class IdListResolver:
    """The lists of one user and one of their credentials' customer, for reading a query string
    (`get`) and for making the parameters of a long id list (`reference`); `opened` is the list
    `get` last found."""

    def __init__(self, user: User, credential: VitecCredential) -> None:
        self.user = user
        self.credential = credential
        self.customer_id = credential.customer_id
        self.opened: IdList | None = None

    def get(self, token: str, default: str | None = None) -> str | None:
        """The ids of the list with this token, if it is of this customer."""
        self.opened = id_list_open(credential=self.credential, token=token)
        return self.opened.ids if self.opened is not None else default

    def reference(self, ids: str) -> str:
        """The token of a list holding these comma-separated ids."""
        return id_list_for_ids(user=self.user, customer_id=self.customer_id, ids=ids).token
