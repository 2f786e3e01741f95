"""Errors of the play commands, each with its own exit code.

Each carries what happened (`message`), a short machine-readable `code` (the
OAuth error, Google's reason, or `http_<status>`) and the next step (`hint`),
so `--json` can print them as fields and the one-line error joins them.
"""

from __future__ import annotations

from typing import Any

from devkit.errors import AuthError, DevkitError, ExitCode


class PlayError(DevkitError):
    """A Google Play API or token-endpoint answer the user has to act on."""

    def __init__(self, message: str, *, code: str = "", hint: str = "") -> None:
        super().__init__(f"{message}: {hint}" if hint else message)
        self.message = message
        self.code = code
        self.hint = hint


class CredentialsRejected(PlayError, AuthError):
    """Google refused the credentials: invalid_grant, invalid_client, 401 or 403."""

    exit_code = ExitCode.CREDENTIALS_REJECTED


class PurchaseNotFound(PlayError):
    """The purchase token is malformed, unknown for the package, or too old."""

    exit_code = ExitCode.NOT_FOUND


class ServiceUnavailable(PlayError):
    """A Google endpoint could not be reached, failed, or did not speak its protocol."""

    exit_code = ExitCode.UNAVAILABLE


class PurchaseStateConflict(PlayError):
    """The purchase's state forbids the change (acknowledging a pending purchase)."""

    exit_code = ExitCode.CONFLICT


class NotificationRejected(PlayError):
    """A Pub/Sub push that is not a verified Play notification."""

    exit_code = ExitCode.REJECTED


def error_document(exc: DevkitError) -> dict[str, Any]:
    """The `--json` form of an error: error, code, exit_code, hint."""
    if isinstance(exc, PlayError):
        return {
            "error": exc.message,
            "code": exc.code or exc.exit_code.name.lower(),
            "exit_code": int(exc.exit_code),
            "hint": exc.hint or None,
        }
    return {
        "error": str(exc),
        "code": ExitCode(exc.exit_code).name.lower(),
        "exit_code": int(exc.exit_code),
        "hint": None,
    }
