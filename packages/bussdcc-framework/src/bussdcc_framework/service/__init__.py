"""The framework's services."""

from .identity import IDENTITY_STATE, SystemIdentityService, identity_record, read_identity

__all__ = ["IDENTITY_STATE", "SystemIdentityService", "identity_record", "read_identity"]
