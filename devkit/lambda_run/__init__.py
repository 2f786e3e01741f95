"""`devkit lambda-run`: invoke a built zip locally as Lambda's Python runtime does."""

from __future__ import annotations

from devkit.lambda_run.invoke import (
    RunOptions,
    RunResult,
    parse_env,
    run_check,
    run_zip,
)

__all__ = ["RunOptions", "RunResult", "parse_env", "run_check", "run_zip"]
