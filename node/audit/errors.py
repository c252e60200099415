"""The audit's refusals: one base, a subclass per failure (node/errors.py)."""

from node.errors import DomainError


class AuditError(DomainError):
    """A refusal of the audit domain."""

    code, status = "audit_failed", 500


class BundleError(AuditError):
    """The file cannot be read as an audit bundle: the detail says where and why."""

    code, status = "not_a_bundle", 422


class ChainUnreadable(AuditError):
    """The chain (or the index) cannot tell what the audit needs."""

    code, status = "chain_unreadable", 502


class ExportFailed(AuditError):
    """The store cannot be exported as it stands."""

    code, status = "export_failed", 500
