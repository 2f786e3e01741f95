"""Options shared between commands, as decorators (like pip-tools' options.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from devkit.aws import AwsOptions
from devkit.console import Output

F = TypeVar("F", bound=Callable[..., Any])


def aws_options(func: F) -> F:
    """--profile, --region, --endpoint-url, folded into one `aws: AwsOptions`."""

    @click.option("--profile", envvar="AWS_PROFILE", help="AWS profile (AWS_PROFILE).")
    @click.option(
        "--region",
        envvar=["AWS_REGION", "AWS_DEFAULT_REGION"],
        help="AWS region (AWS_REGION, AWS_DEFAULT_REGION).",
    )
    @click.option(
        "--endpoint-url",
        envvar="AWS_ENDPOINT_URL",
        help="Custom endpoint, e.g. a local S3-compatible server (AWS_ENDPOINT_URL).",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        profile: str | None,
        region: str | None,
        endpoint_url: str | None,
        **kwargs: Any,
    ) -> Any:
        aws = AwsOptions(
            profile=profile or None,
            region=region or None,
            endpoint_url=endpoint_url or None,
        )
        return func(*args, aws=aws, **kwargs)

    return wrapper  # type: ignore[return-value]


def output_options(func: F) -> F:
    """-q/--quiet, -v/--verbose and --json, folded into one `out: Output`."""

    @click.option("-q", "--quiet", is_flag=True, help="No progress or info on stderr.")
    @click.option("-v", "--verbose", count=True, help="More detail on stderr.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
    @functools.wraps(func)
    def wrapper(
        *args: Any, quiet: bool, verbose: int, as_json: bool, **kwargs: Any
    ) -> Any:
        out = Output(quiet=quiet, json=as_json, verbose=verbose)
        return func(*args, out=out, **kwargs)

    return wrapper  # type: ignore[return-value]
