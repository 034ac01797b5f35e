"""Every model of the audit app, for Django: each is defined in the package of its concern.

Import models from here (`from audit.models import QueryLogEntry`) or from their package.
"""

from audit.api.models import KeyRefusal
from audit.flags.models import EntryFlags
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
from audit.transparency.models import (
    Cosignature,
    LogState,
    MerkleNode,
    SignedTreeHead,
    Witness,
)
from audit.workspace.models import AccessRecord, AuditReview

# isort: split
# Vendor imports last: they read the models above and register a flag source with flags.
from audit.imports.models import (
    AgencyAlias,
    ImportRow,
    ImportSource,
    OperatorAlias,
    RowMatch,
    RowRecording,
    VendorImport,
)

__all__ = [
    "AccessRecord",
    "Agency",
    "AgencyAlias",
    "AppendOnlyError",
    "AppendOnlyModel",
    "AppendOnlyQuerySet",
    "AuditReview",
    "Certification",
    "Cosignature",
    "EntryFlags",
    "ImportRow",
    "ImportSource",
    "Integration",
    "KeyRefusal",
    "LogState",
    "MerkleNode",
    "Operator",
    "OperatorAlias",
    "QueryLogEntry",
    "QueryOutcome",
    "RowMatch",
    "RowRecording",
    "Scope",
    "SignedTreeHead",
    "Technology",
    "VendorImport",
    "Witness",
]
