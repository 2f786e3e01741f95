"""The click layer: parse, build options, call one feature function, render.

This package is the only place that imports click. Each command lives in its
own module as a plain click command; `_register_commands` adds them to `cli`
explicitly (as pip-tools does), and `run_command` is the one place where a
command's outcome becomes an exit code, for `devkit` and for the fast
`python -m devkit.cli.hook` entry point alike.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

import click

from devkit.errors import DevkitError, ExitCode

CONTEXT_SETTINGS = {
    "help_option_names": ["-h", "--help"],
    "auto_envvar_prefix": "DEVKIT",
}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(
    None, "-V", "--version", package_name="devkit", prog_name="devkit"
)
def cli() -> None:
    """devkit: tools for Python developers who ship to AWS and Google Play."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the devkit CLI and return its exit code."""
    _register_commands()
    return run_command(cli, argv, prog_name="devkit")


def run_command(
    command: click.Command, argv: Sequence[str] | None, *, prog_name: str
) -> int:
    """Run a click command and map every outcome to an exit code; never a traceback.

    The one error handler (pre-commit's `error_handler()` is the model):
    ClickException -> its own code (2 for usage), DevkitError -> `error: <msg>`
    and its code, Ctrl-C -> 130, a closed stdout -> quietly 1, anything else ->
    3 with a hint to rerun with DEVKIT_DEBUG=1.
    """
    try:
        rv = command.main(
            args=list(argv) if argv is not None else None,
            prog_name=prog_name,
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:  # --help, --version
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return ExitCode.INTERRUPTED
    except DevkitError as exc:
        _print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (`devkit ... | head`): not an error worth a message.
        return ExitCode.FAILURE
    except Exception:
        if os.environ.get("DEVKIT_DEBUG"):
            traceback.print_exc()
        _print_error("internal error; rerun with DEVKIT_DEBUG=1 and report it")
        return ExitCode.INTERNAL
    return int(rv) if isinstance(rv, int) else ExitCode.OK


def _print_error(message: str) -> None:
    # Plain write: rich could wrap a long path in the middle of a one-line error.
    first_line = message.strip().splitlines()[0] if message.strip() else "failed"
    sys.stderr.write(f"error: {first_line}\n")
    sys.stderr.flush()


def _register_commands() -> None:
    # Imported here, not at module top, so `devkit --help` stays fast and one
    # command's heavy imports (boto3, pyflakes, google-auth) load only when used.
    from devkit.cli.hook import hook_group
    from devkit.cli.lambda_package import lambda_package_cmd
    from devkit.cli.lambda_run import lambda_run_cmd
    from devkit.cli.play import (
        play_acknowledge_cmd,
        play_auth_cmd,
        play_consume_cmd,
        play_notify_group,
        play_verify_cmd,
        play_voided_cmd,
    )
    from devkit.cli.s3_stream import s3_stream_cmd
    from devkit.cli.sfn import sfn_group

    for command in (
        s3_stream_cmd,
        hook_group,
        lambda_package_cmd,
        lambda_run_cmd,
        play_auth_cmd,
        play_verify_cmd,
        play_acknowledge_cmd,
        play_consume_cmd,
        play_voided_cmd,
        play_notify_group,
        sfn_group,
    ):
        cli.add_command(command)
