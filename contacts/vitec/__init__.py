"""Everything that speaks Vitec Connect: the client, typed contact models, errors, the sandbox.

Nothing here renders HTML or knows about views; the dashboard calls it through contacts.services.
"""

from .client import FailedBatch, LookupResult, RetryPolicy, VitecClient
from .errors import (
    AuthenticationError,
    BadResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ValidationError,
    VitecConnectionError,
    VitecError,
    VitecTimeoutError,
)
from .models import (
    Contact,
    ContactType,
    CrmCompanyContact,
    CrmContact,
    CrmDeceasedEstateContact,
    CrmPersonContact,
)

__all__ = [
    "AuthenticationError",
    "BadResponseError",
    "Contact",
    "ContactType",
    "CrmCompanyContact",
    "CrmContact",
    "CrmDeceasedEstateContact",
    "CrmPersonContact",
    "FailedBatch",
    "LookupResult",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "ValidationError",
    "VitecClient",
    "VitecConnectionError",
    "VitecError",
    "VitecTimeoutError",
]
