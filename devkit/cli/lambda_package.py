"""`devkit lambda-package`: the click layer over devkit.lambda_package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from devkit.aws import AwsOptions
from devkit.cli.options import aws_options, output_options
from devkit.console import Output
from devkit.errors import DevkitError, ExitCode

if TYPE_CHECKING:
    from devkit.lambda_package import BuildResult, DeployResult
    from devkit.lambda_run import RunResult


@click.command("lambda-package")
@click.argument("src_dir", default=".", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Zip to write [default: ./<SRC_DIR name>.zip].",
)
@click.option(
    "-r",
    "--requirements",
    type=click.Path(path_type=Path),
    help="Requirements or lock file [default: the first of pylock.toml, uv.lock, "
    "poetry.lock, pyproject.toml, requirements.txt in SRC_DIR].",
)
@click.option(
    "--runtime", help="Lambda runtime, e.g. python3.12 [default: python3.14]."
)
@click.option("--arch", help="x86_64 or arm64 [default: x86_64].")
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out matching files or folders (repeatable).",
)
@click.option(
    "--installer",
    default="uv",
    show_default=True,
    help="uv or pip: which tool installs the wheels.",
)
@click.option(
    "--find-links",
    multiple=True,
    metavar="DIR|URL",
    help="Extra wheel location, passed to the installer (repeatable).",
)
@click.option("--no-index", is_flag=True, help="Do not use the package index.")
@click.option("--index-url", help="Package index URL, passed to the installer.")
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    help="Dependency cache [default: ~/.cache/devkit, or DEVKIT_CACHE_DIR].",
)
@click.option(
    "--refresh",
    is_flag=True,
    help="Resolve and install the dependencies again, ignoring the cache.",
)
@click.option(
    "--compile",
    "compile_pyc",
    is_flag=True,
    help="Add hash-checked .pyc for faster cold starts (needs python3.X).",
)
@click.option(
    "--layer",
    is_flag=True,
    help="Put the dependencies in a layer zip (<OUT>-layer.zip); the zip keeps "
    "the sources.",
)
@click.option(
    "--layer-name",
    metavar="NAME",
    help="With --deploy --layer: the layer to publish [default: <FUNCTION>-deps].",
)
@click.option(
    "--deploy",
    "function",
    metavar="FUNCTION",
    help="Upload the zip to this existing function.",
)
@click.option("--s3-bucket", help="Deploy through this bucket (needed above 50 MB).")
@click.option(
    "--run-check",
    "run_check_event",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[EVENT]",
    help="After building, invoke the zip once with devkit lambda-run (EVENT: a "
    "JSON file, default {}); fail if the handler cannot be imported. Runs "
    "before --deploy uploads.",
)
@click.option(
    "--handler",
    help="Handler for --run-check [default: lambda_function.lambda_handler or "
    "handler.handler, whichever module exists].",
)
@aws_options
@output_options
def lambda_package_cmd(
    src_dir: Path,
    output: Path | None,
    requirements: Path | None,
    runtime: str | None,
    arch: str | None,
    exclude: tuple[str, ...],
    installer: str,
    find_links: tuple[str, ...],
    no_index: bool,
    index_url: str | None,
    cache_dir: Path | None,
    refresh: bool,
    compile_pyc: bool,
    layer: bool,
    layer_name: str | None,
    function: str | None,
    s3_bucket: str | None,
    run_check_event: str | None,
    handler: str | None,
    aws: AwsOptions,
    out: Output,
) -> int:
    """Build a reproducible Lambda zip: sources at the root, dependencies in lib/."""
    from devkit.lambda_package import (
        BuildOptions,
        InstallOptions,
        build_package,
        check_function,
        deploy_package,
        resolve_target,
    )

    install = InstallOptions(
        installer=installer,
        find_links=find_links,
        no_index=no_index,
        index_url=index_url,
        compile=compile_pyc,
        refresh=refresh,
    )
    if cache_dir is not None:
        install = InstallOptions(**{**install.__dict__, "cache_dir": cache_dir})
    opts = BuildOptions(
        src=src_dir,
        output=output,
        requirements=requirements,
        runtime=runtime,
        arch=arch,
        excludes=exclude,
        install=install,
        layer=layer,
    )
    if function:  # fail before building when the function cannot take the zip
        check_function(function, aws.lambda_(), resolve_target(runtime, arch))
    result = build_package(opts, on_status=out.info)
    for warning in result.warnings:
        out.warn(warning)
    checked = None
    if run_check_event is not None:
        layers = [result.layer.output] if result.layer else []
        checked = _run_check(out, result.output, run_check_event, handler, layers)
    deployed = None
    if function:
        deployed = deploy_package(
            result,
            function,
            aws.lambda_(),
            aws.s3() if s3_bucket else None,
            s3_bucket,
            on_status=out.info,
            layer_name=layer_name,
        )
        if deployed.note:
            out.warn(deployed.note)
    _render(out, result, deployed, checked)
    return ExitCode.OK


def _run_check(
    out: Output,
    zip_path: Path,
    event: str,
    handler: str | None,
    layers: list[Path],
) -> RunResult:
    from devkit.cli.lambda_run import log_writer, read_event
    from devkit.lambda_run import run_check

    out.info(f"run-check: invoking {zip_path.name} once")
    try:
        checked = run_check(
            zip_path,
            read_event(event or None),
            handler,
            on_status=out.info,
            on_log=log_writer(out),
            layers=layers,
        )
    except DevkitError:
        zip_path.unlink(missing_ok=True)  # a zip that cannot start is not a build
        raise
    if checked.status != "response":
        error = checked.error or {}
        out.warn(
            f"run-check: {checked.handler} imported, but the invocation ended in "
            f"{checked.status} ({error.get('errorType')}: "
            f"{error.get('errorMessage')})"
        )
    out.info(checked.report_line())
    return checked


def _render(
    out: Output,
    result: BuildResult,
    deployed: DeployResult | None,
    checked: RunResult | None = None,
) -> None:
    cache = {None: "none (no requirements)", True: "cached", False: "installed"}
    if out.json:
        doc = {
            "output": str(result.output),
            "sha256": result.sha256,
            "code_sha256": result.code_sha256,
            "content_sha256": result.content_sha256,
            "zipped_size": result.zipped_size,
            "unzipped_size": result.unzipped_size,
            "files": result.files,
            "runtime": result.target.runtime,
            "arch": result.target.arch,
            "dependencies": cache[result.cache_hit],
            "dependency_source": result.dependency_source,
            "environment": result.environment,
            "warnings": result.warnings,
            "layer": _layer_doc(result),
            "deploy": deployed.__dict__ if deployed else None,
            "run_check": None
            if checked is None
            else {
                "status": checked.status,
                "handler": checked.handler,
                "init_ms": checked.init_ms,
                "duration_ms": checked.duration_ms,
                "max_memory_mb": checked.max_memory_mb,
                "error": checked.error,
            },
        }
        out.result_json(doc)
        return
    out.result(f"zip          {result.output}")
    out.result(f"target       {result.target.describe()}")
    out.result(
        f"size         {result.zipped_size:,} bytes zipped, "
        f"{result.unzipped_size:,} unzipped, {result.files} files"
    )
    source = f" from {result.dependency_source}" if result.dependency_source else ""
    out.result(f"dependencies {cache[result.cache_hit]}{source}")
    out.result(f"sha256       {result.sha256}")
    out.result(f"CodeSha256   {result.code_sha256}")
    if result.layer:
        lay = result.layer
        out.result(f"layer        {lay.output}")
        out.result(
            f"layer-size   {lay.zipped_size:,} bytes zipped, "
            f"{lay.unzipped_size:,} unzipped, {lay.files} files"
        )
        out.result(f"layer-sha256 {lay.sha256}")
        out.result(
            f"environment  none needed: the layer is on sys.path at "
            f"{result.target.site_packages}; leave PYTHONPATH unset"
        )
    elif result.cache_hit is None:  # no requirements: no lib/, no .pth
        out.result("environment  none needed (no dependencies)")
    else:
        out.result(
            "environment  none needed: lib/ is put on sys.path by _devkit_lib.pth; "
            "leave PYTHONPATH unset so layers stay on the path"
        )
    if deployed:
        code = "updated" if deployed.code_updated else "unchanged (same CodeSha256)"
        env = "updated" if deployed.environment_changed else "unchanged"
        out.result(f"deployed     {deployed.function}: code {code}, environment {env}")
        if deployed.layer_arn:
            how = "published" if deployed.layer_published else "unchanged"
            out.result(f"layer        {deployed.layer_arn} ({how}), attached")


def _layer_doc(result: BuildResult) -> dict[str, object] | None:
    if result.layer is None:
        return None
    return {k: str(v) if k == "output" else v for k, v in result.layer.__dict__.items()}
