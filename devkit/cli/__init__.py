"""The click layer: parse, build options, call one feature function, render.

This package is the only place that imports click. Each command lives in its
own module as a plain click command; `_COMMANDS` names them for `cli`, which
imports one only when it runs, and `run_command` is the one place where a
command's outcome becomes an exit code, for `devkit` and for the fast
`python -m devkit.cli.hook` entry point alike.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

import click

from devkit.errors import DevkitError, ExitCode

CONTEXT_SETTINGS = {
    "help_option_names": ["-h", "--help"],
    "auto_envvar_prefix": "DEVKIT",
}


class _LazyGroup(click.Group):
    """A group that imports a command's module only when the command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return _load_command(cmd_name)


@click.group(cls=_LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(
    None, "-V", "--version", package_name="devkit", prog_name="devkit"
)
def cli() -> None:
    """devkit: tools for Python developers who ship to AWS and Google Play."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the devkit CLI and return its exit code."""
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
            import traceback  # only here: it loads linecache and tokenize

            traceback.print_exc()
        _print_error("internal error; rerun with DEVKIT_DEBUG=1 and report it")
        return ExitCode.INTERNAL
    return int(rv) if isinstance(rv, int) else ExitCode.OK


def _print_error(message: str) -> None:
    # Plain write: rich could wrap a long path in the middle of a one-line error.
    first_line = message.strip().splitlines()[0] if message.strip() else "failed"
    sys.stderr.write(f"error: {first_line}\n")
    sys.stderr.flush()


# Each command's module, imported only when that command runs (or for --help),
# so `devkit hook run` does not pay for boto3, rich or google-auth.
_COMMANDS = {
    "s3-stream": ("devkit.cli.s3_stream", "s3_stream_cmd"),
    "hook": ("devkit.cli.hook", "hook_group"),
    "lambda-package": ("devkit.cli.lambda_package", "lambda_package_cmd"),
    "lambda-run": ("devkit.cli.lambda_run", "lambda_run_cmd"),
    "play-auth": ("devkit.cli.play", "play_auth_cmd"),
    "play-verify": ("devkit.cli.play", "play_verify_cmd"),
    "play-acknowledge": ("devkit.cli.play", "play_acknowledge_cmd"),
    "play-consume": ("devkit.cli.play", "play_consume_cmd"),
    "play-voided": ("devkit.cli.play", "play_voided_cmd"),
    "play-notify": ("devkit.cli.play", "play_notify_group"),
    "sfn": ("devkit.cli.sfn", "sfn_group"),
}


def _load_command(name: str) -> click.Command | None:
    if name not in cli.commands and name in _COMMANDS:
        module, attribute = _COMMANDS[name]
        command = getattr(importlib.import_module(module), attribute)
        cli.add_command(command, name)
    return cli.commands.get(name)


def _register_commands() -> None:
    """Load every command now (for code that walks `cli.commands`)."""
    for name in _COMMANDS:
        _load_command(name)
