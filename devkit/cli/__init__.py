"""The click layer: parse, build options, call one feature function, render.

This package is the only place that imports click. Each command lives in its
own module and registers itself on `cli` when imported below.
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
    """Run the CLI and map every outcome to an exit code; never a traceback."""
    _register_commands()
    try:
        rv = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="devkit",
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
    from devkit.cli import commands  # noqa: F401
