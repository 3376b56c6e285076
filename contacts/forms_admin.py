"""The admin's form for a Vitec credential: the password is write-only.

The stored password is never rendered back, not even masked: the input is always empty. A new
credential needs a password; on an existing one an empty input keeps the stored password.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import VitecCredential

PASSWORD_FIELD = "password"  # noqa: S105  (the name of the form field, not a secret)
# Changing any of these makes it another login, whose last connection test is unknown.
LOGIN_FIELDS = frozenset({"customer_id", "api_username"})


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

    def __init__(self, *args, **kwargs) -> None:
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

    def save(self, commit: bool = True) -> VitecCredential:
        password = self.cleaned_data.get(PASSWORD_FIELD)
        if password:
            self.instance.set_password(password)
        if not self.is_creating and (password or LOGIN_FIELDS & set(self.changed_data)):
            # The last test was of another login: it says nothing about this one.
            self.instance.last_verified_at = None
            self.instance.last_error = ""
        return super().save(commit=commit)
