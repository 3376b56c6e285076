"""A local stand-in for Vitec Connect: real HTTP, the documented contract, switchable faults.

Used by the integration tests and by `python manage.py vitec_sandbox` for demos.
"""

from contacts.vitec.sandbox.server import (
    DEFAULT_ACCOUNTS,
    FAULTS,
    NOTIFICATION_NAME,
    RUNTIME_FIELDS,
    Account,
    NotificationRecord,
    RequestRecord,
    SandboxConfig,
    SandboxServer,
    SandboxStats,
    UnknownContact,
    parse_accounts,
)

__all__ = [
    "DEFAULT_ACCOUNTS",
    "FAULTS",
    "NOTIFICATION_NAME",
    "RUNTIME_FIELDS",
    "Account",
    "NotificationRecord",
    "RequestRecord",
    "SandboxConfig",
    "SandboxServer",
    "SandboxStats",
    "UnknownContact",
    "parse_accounts",
]
