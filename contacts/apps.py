from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        from .audit import login_failed_record

        user_login_failed.connect(login_failed_record, dispatch_uid="contacts.audit.login_failed")
