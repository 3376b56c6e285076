"""Everything that speaks Vitec Connect: the client, typed contact models and their parsing,
errors, retries, the circuit breaker, and the sandbox beside them.

HTTP and JSON only: nothing here imports Django or the app (import-linter checks it); the
dashboard calls it through contacts.services.
"""

from .client import VitecClient
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
from .ids import FailedBatch, LookupResult
from .models import (
    Contact,
    ContactRelation,
    ContactRelations,
    ContactType,
    CrmCompanyContact,
    CrmContact,
    CrmDeceasedEstateContact,
    CrmPersonContact,
    RelationType,
    VitecUser,
)
from .retry import RetryPolicy

__all__ = [
    "AuthenticationError",
    "BadResponseError",
    "Contact",
    "ContactRelation",
    "ContactRelations",
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
    "RelationType",
    "RetryPolicy",
    "ServerError",
    "ValidationError",
    "VitecClient",
    "VitecConnectionError",
    "VitecError",
    "VitecTimeoutError",
    "VitecUser",
]
