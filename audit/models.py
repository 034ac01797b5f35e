"""Every model of the audit app, for Django: each is defined in the package of its concern.

Import models from here (`from audit.models import QueryLogEntry`) or from their package.
"""

from audit.api.models import KeyRefusal
from audit.flags.models import QueryFlag
from audit.log.models import (
    Agency,
    AppendOnlyError,
    AppendOnlyModel,
    AppendOnlyQuerySet,
    Certification,
    Integration,
    Operator,
    QueryLogEntry,
    QueryOutcome,
    Scope,
    Technology,
)
from audit.transparency.models import LogState, MerkleNode, SignedTreeHead
from audit.workspace.models import AccessRecord, AuditReview

__all__ = [
    "AccessRecord",
    "Agency",
    "AppendOnlyError",
    "AppendOnlyModel",
    "AppendOnlyQuerySet",
    "AuditReview",
    "Certification",
    "Integration",
    "KeyRefusal",
    "LogState",
    "MerkleNode",
    "Operator",
    "QueryFlag",
    "QueryLogEntry",
    "QueryOutcome",
    "Scope",
    "SignedTreeHead",
    "Technology",
]
