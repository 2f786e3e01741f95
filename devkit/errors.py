"""One error tree for every command, mapped to exit codes by the CLI."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # a DevkitError, hook findings, a purchase that does not entitle
    USAGE = 2  # bad arguments (click's own code)
    INTERNAL = 3  # a bug in devkit
    CREDENTIALS_REJECTED = 4  # a service refused the stored credentials
    NOT_FOUND = 5  # the thing asked about does not exist (e.g. a purchase token)
    UNAVAILABLE = 6  # a remote service could not be reached or failed (5xx)
    CONFLICT = 7  # its state forbids the change (acknowledge a pending purchase)
    REJECTED = 8  # an incoming message failed verification (a forged push)
    FUNCTION_TIMEOUT = 9  # lambda-run: the function ran past its timeout
    FUNCTION_CRASH = 10  # lambda-run: the runtime process died without an answer
    # sfn wait: how the execution ended (20s, clear of the per-command codes above)
    EXECUTION_FAILED = 20
    EXECUTION_TIMED_OUT = 21
    EXECUTION_ABORTED = 22
    WAIT_TIMEOUT = 23  # --timeout passed while the execution was still running
    INTERRUPTED = 130  # Ctrl-C or SIGTERM


class DevkitError(Exception):
    """A failure the user can act on; its message is printed as `error: <msg>`."""

    exit_code: ExitCode = ExitCode.FAILURE


class ConfigError(DevkitError):
    """Bad input: arguments, files or settings that cannot be used (exit 2).

    Only for what the user can fix by changing what they asked for; a failure
    of the world (a full disk, a refused request) is one of the classes below.
    """

    exit_code = ExitCode.USAGE


class WriteError(DevkitError):
    """A file devkit writes (a zip, a hook, a token or state file) could not be."""


class SourceError(DevkitError):
    """The data source (HTTP, stdin, file) failed or lied about its length."""


class UploadError(DevkitError):
    """S3 refused or failed the upload."""


class GitError(DevkitError):
    """git failed or the folder is not a repository."""


class BuildError(DevkitError):
    """A Lambda package could not be built."""


class DeployError(DevkitError):
    """AWS refused a deploy, or the deployed function is not what was asked for."""


class AuthError(DevkitError):
    """An OAuth or Google API credential problem."""


class Interrupted(DevkitError):
    """The user or the system asked devkit to stop (SIGINT/SIGTERM)."""

    exit_code = ExitCode.INTERRUPTED
