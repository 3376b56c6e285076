"""The admin's form for a Vitec credential: the password is write-only.

The stored password is never rendered back, not even masked: the input is always empty. A new
credential needs a password; on an existing one an empty input keeps the stored password. Saving
(encrypting the password, forgetting the last connection test of a changed login, the audit
event) is `services.credential_save`, which the admin calls.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import VitecCredential

PASSWORD_FIELD = "password"  # noqa: S105  (the name of the form field, not a secret)


class VitecCredentialAdminForm(forms.ModelForm):
    password = forms.CharField(
        label=_("API password"),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        required=False,
        strip=False,
    )

    class Meta:
        model = VitecCredential
        fields = ["user", "label", "customer_id", "api_username", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields[PASSWORD_FIELD]
        if self.is_creating:
            field.required = True
            field.error_messages["required"] = _("Enter the API password of the new credential.")
            field.help_text = _("Stored encrypted. It is never shown again.")
        else:
            field.help_text = _(
                "Leave empty to keep the stored password. The stored password is never shown."
            )

    @property
    def is_creating(self) -> bool:
        return self.instance._state.adding
