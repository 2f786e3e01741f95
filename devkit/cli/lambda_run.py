"""`devkit lambda-run`: the click layer over devkit.lambda_run."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from devkit.cli.options import output_options
from devkit.console import Output
from devkit.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from devkit.lambda_run import RunResult

EXIT_CODES = {
    "response": ExitCode.OK,
    "error": ExitCode.FAILURE,
    "init_error": ExitCode.FAILURE,
    "timeout": ExitCode.FUNCTION_TIMEOUT,
    "crash": ExitCode.FUNCTION_CRASH,
}


@click.command("lambda-run")
@click.argument("zip_path", metavar="ZIP", type=click.Path(path_type=Path))
@click.argument("handler", required=False)
@click.option(
    "--event",
    metavar="FILE|-",
    help="JSON event: a file, or - for stdin [default: {}].",
)
@click.option(
    "--layer",
    "layers",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="ZIP",
    help="A layer zip, unpacked under opt/ in the order given (repeatable).",
)
@click.option(
    "--env",
    "env_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A function environment variable (repeatable).",
)
@click.option(
    "--python",
    metavar="PATH",
    help="Interpreter to run [default: the zip's python3.X on PATH, pyenv or uv].",
)
@click.option(
    "--runtime",
    metavar="python3.X",
    help="The zip's runtime, for a zip that does not record it.",
)
@click.option(
    "--timeout",
    type=float,
    default=3.0,
    show_default=True,
    help="Function timeout in seconds.",
)
@click.option(
    "--memory",
    type=int,
    default=128,
    show_default=True,
    help="Memory size in MB (reported and compared, not enforced).",
)
@click.option(
    "--region",
    envvar=["AWS_REGION", "AWS_DEFAULT_REGION"],
    default="us-east-1",
    show_default=True,
    help="AWS_REGION the function sees.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    help="Runtime cache [default: ~/.cache/devkit/lambda-run, or DEVKIT_CACHE_DIR].",
)
@click.option(
    "--aws-credentials",
    is_flag=True,
    help="Give the function the credentials botocore's chain finds, as Lambda "
    "gives its role's, and a real runtime boto3 [default: none, a stand-in].",
)
@click.option(
    "--profile",
    envvar="AWS_PROFILE",
    help="With --aws-credentials: this profile's (AWS_PROFILE).",
)
@output_options
def lambda_run_cmd(
    zip_path: Path,
    handler: str | None,
    event: str | None,
    layers: tuple[Path, ...],
    env_pairs: tuple[str, ...],
    python: str | None,
    runtime: str | None,
    timeout: float,
    memory: int,
    region: str,
    cache_dir: Path | None,
    aws_credentials: bool,
    profile: str | None,
    out: Output,
) -> int:
    """Invoke a built Lambda zip locally as the Python runtime does (no docker)."""
    from devkit.aws import AwsOptions, credential_environment
    from devkit.lambda_run import RunOptions, parse_env, run_zip

    opts = RunOptions(
        zip_path=zip_path,
        handler=handler,
        event=read_event(event),
        layers=layers,
        env=parse_env(env_pairs),
        python=python,
        runtime=runtime,
        timeout_s=timeout,
        memory_mb=memory,
        region=region,
        cache_dir=cache_dir,
        credentials=(
            credential_environment(AwsOptions(profile=profile))
            if aws_credentials
            else {}
        ),
    )
    result = run_zip(opts, on_status=out.info, on_log=log_writer(out))
    render_run(out, result)
    return EXIT_CODES[result.status]


def read_event(source: str | None) -> bytes:
    """The event's bytes from a file or stdin, checked to be JSON."""
    if source is None:
        return b"{}"
    name = "stdin" if source == "-" else source
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read event {name}: {exc.strerror}") from exc
    try:
        json.loads(data)
    except ValueError as exc:
        raise ConfigError(f"event {name} is not JSON: {exc}") from exc
    return data


def log_writer(out: Output) -> Callable[[bytes], None]:
    """Write the function's log lines to stderr, unless --quiet."""

    # The function's own output (print, logging, the runtime's [ERROR]
    # lines) is its log: stderr, like CloudWatch beside the response.
    def write(line: bytes) -> None:
        if not out.quiet:
            out.err.file.write(line.decode(errors="replace").replace("\r", "\n"))
            out.err.file.flush()

    return write


def render_run(out: Output, result: RunResult) -> None:
    """Result (or error payload) on stdout, REPORT and warnings on stderr."""
    for warning in result.warnings:
        out.warn(warning)
    if out.json:
        doc: dict[str, Any] = {
            "status": result.status,
            "request_id": result.request_id,
            "handler": result.handler,
            "runtime": result.target.runtime,
            "python": result.python.path,
            "init_ms": _ms(result.init_ms),
            "duration_ms": _ms(result.duration_ms),
            "max_memory_mb": result.max_memory_mb,
            "memory_mb": result.memory_mb,
            "runtime_api": result.requests,
            "warnings": result.warnings,
        }
        if result.status == "response":
            doc["result"] = result.result
        else:
            doc["error"] = result.error
        out.result_json(doc)
        return
    payload = result.result if result.status == "response" else result.error
    out.out.file.write(json.dumps(payload) + "\n")
    out.out.file.flush()
    out.err.file.write(result.report_line() + "\n")
    out.err.file.flush()


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
