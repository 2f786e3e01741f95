"""Errors of the play commands, kept apart so play-verify can map them to exit codes."""

from __future__ import annotations

from devkit.errors import AuthError, DevkitError


class CredentialsRejected(AuthError):
    """Google refused the credentials: invalid_grant, invalid_client, 401 or 403."""


class PurchaseNotFound(DevkitError):
    """The purchase token is malformed, unknown for the package, or too old."""


class ServiceUnavailable(DevkitError):
    """A Google endpoint could not be reached or failed on its side."""
