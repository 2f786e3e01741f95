"""Errors of the play commands, each with its own exit code."""

from __future__ import annotations

from devkit.errors import AuthError, DevkitError, ExitCode


class CredentialsRejected(AuthError):
    """Google refused the credentials: invalid_grant, invalid_client, 401 or 403."""

    exit_code = ExitCode.CREDENTIALS_REJECTED


class PurchaseNotFound(DevkitError):
    """The purchase token is malformed, unknown for the package, or too old."""

    exit_code = ExitCode.NOT_FOUND


class ServiceUnavailable(DevkitError):
    """A Google endpoint could not be reached or failed on its side."""

    exit_code = ExitCode.UNAVAILABLE
