"""The framework's services."""

from .identity import IDENTITY_STATE, SystemIdentityService, read_identity

__all__ = ["IDENTITY_STATE", "SystemIdentityService", "read_identity"]
