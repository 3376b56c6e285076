from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("Contacts")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed
        from django.db.models.signals import pre_delete

        from .audit import login_failed_record
        from .models import VitecCredential
        from .signals import credential_deleted_record

        user_login_failed.connect(login_failed_record, dispatch_uid="contacts.audit.login_failed")
        pre_delete.connect(
            credential_deleted_record,
            sender=VitecCredential,
            dispatch_uid="contacts.signals.credential_deleted",
        )
