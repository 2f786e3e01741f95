"""`devkit sfn new|check|simulate|deploy|wait|run`: the click layer over devkit.sfn."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from devkit.aws import AwsOptions
from devkit.cli.options import F, aws_options, output_options
from devkit.console import Output
from devkit.errors import ExitCode

if TYPE_CHECKING:
    from devkit.sfn.budget import Budget
    from devkit.sfn.check import Diagnostic
    from devkit.sfn.scaffold import Scaffold
    from devkit.sfn.simulate import Execution, World


@click.group("sfn")
def sfn_group() -> None:
    """Step Functions: generate, check, simulate, deploy, run and wait on a machine.

    Two patterns: the gatekeeper loop (a Task polls a Lambda that raises
    NotReadyError until work done elsewhere is finished), and a fanout of
    many URLs into S3 on a Distributed Map over devkit's s3-stream handler.
    """


MACHINE_TYPE = click.Choice(["STANDARD", "EXPRESS"], case_sensitive=False)
# devkit.sfn.scaffold.CHECKS's keys, spelled here so that loading this module
# for another sfn command does not import the scaffold (a test keeps them equal).
CHECK_KINDS = ("s3-prefix", "sqs-empty", "marker", "custom")


@sfn_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--type",
    "machine_type",
    type=MACHINE_TYPE,
    default="STANDARD",
    show_default=True,
    help="The machine type it will run as.",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@output_options
def check_cmd(
    files: tuple[Path, ...], machine_type: str, strict: bool, out: Output
) -> int:
    """Check definitions: schema, pattern rules, and a budget for every loop.

    Exit 0 when no ERROR (--strict: no finding at all), 1 when any, 2 when a
    file cannot be read.
    """
    from devkit.sfn.asl import load_definition
    from devkit.sfn.budget import budgets
    from devkit.sfn.check import ERROR, check_definition

    found: list[Diagnostic] = []
    loops: list[tuple[str, Budget]] = []
    for path in files:
        doc = load_definition(path)
        found.extend(check_definition(doc, str(path), machine_type.upper()))
        loops.extend((str(path), b) for b in budgets(doc))
    if out.json:
        out.result_json(
            {
                "diagnostics": [d.to_json() for d in found],
                "budgets": [{"file": f, **b.to_json()} for f, b in loops],
            }
        )
    else:
        _render_check(out, found, loops)
    failed = any(d.severity == ERROR for d in found) or (strict and bool(found))
    return ExitCode.FAILURE if failed else ExitCode.OK


def _render_check(
    out: Output, found: list[Diagnostic], loops: list[tuple[str, Budget]]
) -> None:
    for d in found:
        out.result(f"{d.file}:{d.location}: {d.severity} {d.code} {d.message}")
        out.result(f"    fix: {d.hint}")
    for file, b in loops:
        out.result(f"{file}:{b.location}: budget ({b.kind}) {' -> '.join(b.states)}")
        for line in budget_lines(b):
            out.result(f"    {line}")
    errors = sum(d.severity == "ERROR" for d in found)
    out.info(
        f"{errors} error(s), {len(found) - errors} warning(s), {len(loops)} loop(s)"
    )


def budget_lines(b: Budget) -> list[str]:
    """The human form of one loop's budget."""
    per = " per iteration" if b.kind in ("choice", "catch-unbounded") else ""
    lines = [f"polls        {b.polls}{per}"]
    if b.delay_max or b.delay_first:
        lines.append(
            f"delays       first {_secs(b.delay_first)}; "
            f"total min {_secs(b.delay_min)} / "
            f"expected {_secs(b.delay_expected)} / max {_secs(b.delay_max)}"
        )
    lines.append(f"wall time    {_secs(b.delay_max)} of waiting, worst case{per}")
    lines.append(
        f"transitions  {b.transitions}{per} (execution: {b.execution_transitions})"
    )
    lines.append(
        f"events       {b.events}{per} (execution: {b.execution_events} of 25,000)"
    )
    lines.append(f"cost         ${b.usd:.5f}{per or ' per execution'} (Standard)")
    if b.iterations_to_cap is not None:
        lines.append(f"history cap  after ~{b.iterations_to_cap:,} iterations")
    lines.extend(f"note         {n}" for n in b.notes)
    return lines


def _secs(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds:,.0f} s ({seconds / 60:,.1f} min)"
    return f"{seconds:g} s"


def distributed_map_options(func: F) -> F:
    """--scale and --lambda-memory: how `sfn simulate` prices a Distributed Map."""
    func = click.option(
        "--scale",
        type=click.IntRange(min=1),
        metavar="N",
        help="Also price the run scaled to N items (e.g. 100000).",
    )(func)
    return click.option(
        "--lambda-memory",
        type=click.IntRange(128, 10_240),
        default=1024,
        show_default=True,
        metavar="MB",
        help="The Lambda function's memory, for its GB-seconds.",
    )(func)


@sfn_group.command("simulate")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--task",
    "task_specs",
    multiple=True,
    metavar="STATE=OUTCOMES",
    help="Outcomes of a Task, in order: error names or JSON values, ITEM*N "
    "repeats; the last repeats for ever (repeatable).",
)
@click.option(
    "--tasks",
    "tasks_module",
    type=click.Path(path_type=Path),
    metavar="MODULE.py",
    help="One function per Task state, called with (input, context).",
)
@click.option("--input", "input_json", default="{}", help="The execution input (JSON).")
@click.option("--seed", type=int, default=0, show_default=True, help="Jitter seed.")
@distributed_map_options
@aws_options
@output_options
def simulate_cmd(
    file: Path,
    task_specs: tuple[str, ...],
    tasks_module: Path | None,
    input_json: str,
    seed: int,
    scale: int | None,
    lambda_memory: int,
    aws: AwsOptions,
    out: Output,
) -> int:
    """Run a definition offline on a virtual clock and print its history.

    A Distributed Map reads its ItemReader from S3 and writes its ResultWriter
    export there (--endpoint-url: a local S3), runs each child through the
    simulator and prints what the run costs.

    Exit 0 when the execution SUCCEEDED, 1 when it FAILED or TIMED_OUT.
    """
    import json

    from devkit.errors import ConfigError
    from devkit.sfn.asl import load_definition
    from devkit.sfn.simulate import simulate, task_states
    from devkit.sfn.simulate.outcomes import (
        TaskFunc,
        load_tasks_module,
        parse_task_option,
    )

    doc = load_definition(file)
    try:
        execution_input = json.loads(input_json)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--input is not JSON: {exc}") from None
    tasks: dict[str, TaskFunc] = {}
    scripts = [parse_task_option(spec) for spec in task_specs]
    if tasks_module is not None:
        # The module serves the Task states no --task scripts (so a Lambda
        # handler module can serve the one that is left).
        scripted = {s.state for s in scripts}
        left = [n for n in task_states(doc) if n not in scripted]
        tasks.update(load_tasks_module(tasks_module, left))
    for script in scripts:
        tasks[script.state] = script
    with _tasks_see(aws):
        execution = simulate(doc, tasks, execution_input, seed=seed, world=_world(aws))
    if out.json:
        out.result_json(
            execution.to_json() | _cost_json(execution, lambda_memory, scale)
        )
    else:
        for event in execution.history:
            out.result(_event_line(event.to_json(), event.seconds))
        out.result(f"status       {execution.status}")
        if execution.error is not None:
            out.result(f"error        {execution.error}: {execution.cause}")
        else:
            out.result(f"output       {json.dumps(execution.output)}")
        out.result(f"elapsed      {_secs(execution.elapsed_seconds)} (virtual)")
        out.result(f"transitions  {execution.transitions}")
        out.result(f"events       {len(execution.history)}")
        out.result(f"cost         ${execution.cost_usd:.5f} (Standard)")
        for line in _distributed_lines(execution, lambda_memory, scale):
            out.result(line)
    if out.verbose:
        for run in execution.map_runs:
            for child in run.children:
                if child.status != "SUCCEEDED":
                    why = child.execution.error if child.execution else ""
                    out.info(
                        f"{run.state} child {child.name}: {child.status} "
                        f"({child.items} item(s)) {why or ''}".rstrip()
                    )
    return ExitCode.OK if execution.status == "SUCCEEDED" else ExitCode.FAILURE


# --- sfn simulate of a Distributed Map -----------------------------------------------


def _world(aws: AwsOptions) -> World:
    from devkit.sfn.simulate import World

    return World(lambda: aws.s3())


@contextlib.contextmanager
def _tasks_see(aws: AwsOptions) -> Iterator[None]:
    """The tasks (a real Lambda handler) reach the same endpoint as the simulator,
    as a function's SDK does through AWS_ENDPOINT_URL."""
    import os

    if aws.endpoint_url is None:
        yield
        return
    saved = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = aws.endpoint_url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = saved


def _cost_json(
    execution: Execution, memory: int, scale: int | None
) -> dict[str, object]:
    from devkit.sfn.simulate.cost import run_cost

    cost = run_cost(execution, memory)
    if cost is None:
        return {}
    doc: dict[str, object] = {"map_cost": cost.to_json()}
    if scale is not None:
        doc["map_cost_scaled"] = cost.scaled(scale).to_json()
    return doc


def _distributed_lines(
    execution: Execution, memory: int, scale: int | None
) -> list[str]:
    from devkit.sfn.simulate.cost import run_cost

    lines = []
    for run in execution.map_runs:
        n = run.item_counts()
        lines.append(
            f"map run      {run.state}: {n['total']:,} items in "
            f"{len(run.children):,} {run.execution_type} children: "
            f"{n['succeeded']:,} succeeded, {n['failed']:,} failed, "
            f"{n['aborted']:,} aborted, {n['pending']:,} not started "
            "(items, counted by child as the threshold counts them)"
        )
        if run.result_key:
            lines.append(f"results      {run.result_key}")
    cost = run_cost(execution, memory)
    if cost is None:
        return lines
    costs = [("as run", cost)]
    if scale is not None:
        costs.append((f"at {scale:,} items", cost.scaled(scale)))
    for label, c in costs:
        lines.append(f"cost {label} ({c.items:,} items, {c.children:,} children):")
        lines.append(
            f"  Standard children  {c.parent_transitions + c.child_transitions:,} "
            f"transitions ({c.parent_transitions:,} in the parent)  "
            f"${c.standard_usd:,.4f}"
        )
        lines.append(
            f"  Express children   {c.children:,} requests, "
            f"{c.express_gb_seconds:,.2f} GB-s  ${c.express_usd:,.4f}"
        )
        lines.append(
            f"  Lambda             {c.lambda_calls:,} calls, "
            f"{c.lambda_gb_seconds:,.2f} GB-s at {c.lambda_memory_mb} MB  "
            f"${c.lambda_usd:,.4f} (durations measured here: a floor)"
        )
    return lines


def _event_line(event: dict[str, object], seconds: float) -> str:
    detail = event.get("name") or event.get("error") or ""
    return (
        f"{event['id']:>6}  +{seconds:>10.3f}s  {event['type']:<28} {detail}".rstrip()
    )


@sfn_group.group("new")
def new_group() -> None:
    """Write a new project from a template."""


@new_group.command("gatekeeper")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--check",
    type=click.Choice(CHECK_KINDS),
    default="s3-prefix",
    show_default=True,
    help="What 'ready' means.",
)
@click.option(
    "--interval",
    type=click.IntRange(1, 99_999_999),
    default=5,
    show_default=True,
    help="IntervalSeconds.",
)
@click.option(
    "--backoff",
    type=click.FloatRange(min=1.0),
    default=2.0,
    show_default=True,
    help="BackoffRate.",
)
@click.option(
    "--max-delay",
    type=click.IntRange(1, 31_622_400),
    default=60,
    show_default=True,
    help="MaxDelaySeconds.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(0, 99_999_999),
    default=30,
    show_default=True,
    help="MaxAttempts.",
)
@click.option(
    "--jitter/--no-jitter", default=True, show_default=True, help="JitterStrategy FULL."
)
@click.option(
    "--no-force",
    is_flag=True,
    help="Fail when the retries run out instead of moving on.",
)
@click.option(
    "--query-language",
    type=click.Choice(["jsonpath", "jsonata"]),
    default="jsonpath",
    show_default=True,
)
@click.option(
    "--force", "overwrite", is_flag=True, help="Write into a non-empty DIRECTORY."
)
@output_options
def new_gatekeeper_cmd(
    directory: Path,
    check: str,
    interval: int,
    backoff: float,
    max_delay: int,
    max_attempts: int,
    jitter: bool,
    no_force: bool,
    query_language: str,
    overwrite: bool,
    out: Output,
) -> int:
    """Write a gatekeeper poll loop: machine, Lambda handler and its test."""
    from devkit.sfn.scaffold import GatekeeperOptions, new_gatekeeper

    opts = GatekeeperOptions(
        check=check,
        interval=interval,
        backoff=backoff,
        max_delay=max_delay,
        max_attempts=max_attempts,
        jitter=jitter,
        force=not no_force,
        query_language=query_language,
    )
    made = new_gatekeeper(directory, opts, overwrite)
    if out.json:
        out.result_json(_scaffold_json(made))
        return ExitCode.OK
    for path in made.files:
        out.result(str(path))
    machine = directory / "statemachine.asl.json"
    out.info(f"next: devkit sfn check {machine}")
    out.info(
        f"      devkit sfn simulate {machine} --task 'Gatekeeper=NotReadyError*4,{{}}'"
    )
    return ExitCode.OK


@new_group.command("fanout")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--max-concurrency",
    type=click.IntRange(0, 10_000),
    default=100,
    show_default=True,
    help="MaxConcurrency: child executions at once (0: as many as AWS allows).",
)
@click.option(
    "--tolerated-failure-percentage",
    type=click.FloatRange(0, 100),
    default=5.0,
    show_default=True,
    help="ToleratedFailurePercentage: failed items the run accepts.",
)
@click.option(
    "--batch-items",
    type=click.IntRange(1, 10_000),
    default=10,
    show_default=True,
    help="ItemBatcher MaxItemsPerBatch: manifest items per child.",
)
@click.option(
    "--wait-for",
    type=click.Choice(CHECK_KINDS),
    help="Put the gatekeeper loop in front: the Map starts once this check "
    "(as in `sfn new gatekeeper --check`) says the upstream export is ready.",
)
@click.option(
    "--force", "overwrite", is_flag=True, help="Write into a non-empty DIRECTORY."
)
@output_options
def new_fanout_cmd(
    directory: Path,
    max_concurrency: int,
    tolerated_failure_percentage: float,
    batch_items: int,
    wait_for: str | None,
    overwrite: bool,
    out: Output,
) -> int:
    """Write a Distributed Map that streams a manifest's URLs into S3."""
    from devkit.sfn.scaffold.fanout import FanoutOptions, new_fanout

    opts = FanoutOptions(
        max_concurrency=max_concurrency,
        tolerated_failure_percentage=tolerated_failure_percentage,
        batch_items=batch_items,
        wait_for=wait_for,
    )
    made = new_fanout(directory, opts, overwrite)
    if out.json:
        out.result_json(_scaffold_json(made))
        return ExitCode.OK
    for path in made.files:
        out.result(str(path))
    out.info(f"next: devkit sfn check {directory / 'statemachine.asl.json'}")
    return ExitCode.OK


def _scaffold_json(made: Scaffold) -> dict[str, object]:
    return {
        "directory": str(made.directory),
        "files": [str(p) for p in made.files],
        "timeout_seconds": made.timeout_seconds,
    }


@sfn_group.command("deploy")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--name", help="State machine name [default: DIRECTORY's name].")
@click.option(
    "--role-arn",
    help="IAM role for the function and the machine (needed to create them).",
)
@click.option("--runtime", help="Lambda runtime [default: lambda-package's].")
@click.option("--arch", help="x86_64 or arm64 [default: x86_64].")
@click.option("--no-index", is_flag=True, help="Do not use the package index.")
@click.option(
    "--find-links", multiple=True, metavar="DIR|URL", help="Extra wheel location."
)
@click.option("--s3-bucket", help="Deploy the zips through this bucket (above 50 MB).")
@aws_options
@output_options
def deploy_cmd(
    directory: Path,
    name: str | None,
    role_arn: str | None,
    runtime: str | None,
    arch: str | None,
    no_index: bool,
    find_links: tuple[str, ...],
    s3_bucket: str | None,
    aws: AwsOptions,
    out: Output,
) -> int:
    """Build each function's zip and create or update the functions and machine.

    gatekeeper/ (sfn new gatekeeper) and stream/ (sfn new fanout, with devkit
    itself in its lib/) are each a function NAME-FOLDER.
    """
    from devkit.lambda_package import InstallOptions
    from devkit.sfn.deploy import SfnDeployOptions, deploy_project

    opts = SfnDeployOptions(
        directory=directory,
        name=name or directory.resolve().name,
        role_arn=role_arn,
        runtime=runtime,
        arch=arch,
        install=InstallOptions(no_index=no_index, find_links=find_links),
        s3_bucket=s3_bucket,
    )
    result = deploy_project(opts, aws, on_status=out.info)
    for f in result.functions:
        for warning in f.warnings:
            out.warn(f"{f.name}: {warning}")
    if out.json:
        out.result_json(result.to_json())
        return ExitCode.OK
    for f in result.functions:
        fn = (
            "created"
            if f.created
            else ("code updated" if f.code_updated else "unchanged")
        )
        out.result(f"function       {f.arn} ({fn})")
    sm = (
        "created"
        if result.state_machine_created
        else ("updated" if result.state_machine_updated else "unchanged")
    )
    out.result(f"state machine  {result.state_machine_arn} ({sm})")
    return ExitCode.OK


@sfn_group.command("wait")
@click.argument("execution_arn")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    help="Give up after this many seconds (exit 23).",
)
@aws_options
@output_options
def wait_cmd(
    execution_arn: str, timeout: float | None, aws: AwsOptions, out: Output
) -> int:
    """Wait for an execution to end; print its output (--json: the description).

    Exit 0 SUCCEEDED, 20 FAILED, 21 TIMED_OUT, 22 ABORTED, 23 --timeout reached.
    """
    return wait_and_show(aws, out, execution_arn, timeout)


def wait_and_show(
    aws: AwsOptions, out: Output, execution_arn: str, timeout: float | None
) -> int:
    """`sfn wait`'s code path: poll, show the status, print the output or raise."""
    import json

    from devkit.sfn.wait import wait_for_execution

    sfn = aws.client("stepfunctions")
    show = not (out.quiet or out.json) and out.err.is_terminal
    if show:
        with out.err.status("waiting") as status:

            def on_poll(state: str, elapsed: float) -> None:
                status.update(f"{state} for {elapsed:,.0f} s")

            desc = wait_for_execution(sfn, execution_arn, timeout, on_poll=on_poll)
    else:
        desc = wait_for_execution(sfn, execution_arn, timeout)
    if out.json:
        out.result_json(json.loads(json.dumps(desc, default=str)))
    else:
        out.result(str(desc.get("output", "")))
    return ExitCode.OK


# --- sfn results ----------------------------------------------------------------------


@sfn_group.command("results")
@click.argument("uri", metavar="S3_PREFIX_OR_MANIFEST")
@click.option(
    "--retry-manifest",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Write the items that did not succeed as a JSONL manifest.",
)
@aws_options
@output_options
def results_cmd(
    uri: str, retry_manifest: Path | None, aws: AwsOptions, out: Output
) -> int:
    """Summarize a Distributed Map's ResultWriter export in S3.

    S3_PREFIX_OR_MANIFEST is the ResultWriter prefix (the newest Map Run
    under it is read) or the s3://.../manifest.json of one Map Run.

    Exit 0 when every item succeeded, 1 when any failed or never ran, 5 when
    there is no export there.
    """
    from devkit.errors import WriteError
    from devkit.fileio import atomic_write
    from devkit.sfn.results import find_manifest, retry_lines, summarize

    s3 = aws.s3()
    bucket, key, chosen = find_manifest(s3, uri)
    if chosen:
        out.info(
            f"several Map Runs under {uri}: reading the newest, s3://{bucket}/{key}"
        )
    summary = summarize(s3, bucket, key)
    if retry_manifest is not None:
        try:
            atomic_write(retry_manifest, retry_lines(summary).encode())
        except OSError as exc:
            raise WriteError(
                f"cannot write {retry_manifest}: {exc.strerror or exc}"
            ) from None
    if out.json:
        out.result_json(summary.to_json())
    else:
        out.result(f"map run    {summary.map_run_arn}")
        out.result(f"items      {summary.items:,}")
        out.result(f"succeeded  {summary.succeeded:,}")
        out.result(f"failed     {len(summary.failed):,}")
        out.result(f"bytes      {summary.bytes:,} (stored by the items with a record)")
        children = ", ".join(f"{n:,} {s}" for s, n in sorted(summary.children.items()))
        out.result(f"children   {children}")
        for cause, n in summary.by_cause().most_common():
            out.result(f"  {n:>8,}  {cause}")
    if retry_manifest is not None:
        out.info(
            f"{len(summary.failed):,} item(s) to retry in {retry_manifest}: "
            f"devkit s3-stream --manifest {retry_manifest} s3://BUCKET/PREFIX/"
        )
    return ExitCode.OK if summary.ok else ExitCode.FAILURE


@sfn_group.command("run")
@click.argument("directory", type=click.Path(path_type=Path))
@click.argument("dest", metavar="[s3://BUCKET/PREFIX/]", required=False)
@click.option(
    "--manifest",
    type=click.Path(path_type=Path),
    required=True,
    help="JSONL (or CSV url,dest) of the items, as s3-stream --manifest takes.",
)
@click.option("--name", help="State machine name [default: DIRECTORY's name].")
@click.option(
    "--manifest-uri",
    metavar="s3://BUCKET/KEY",
    help="Where the manifest goes [default: s3://BUCKET/devkit-sfn/NAME/"
    "EXECUTION/manifest.jsonl, BUCKET the destination's].",
)
@click.option(
    "--results-uri",
    metavar="s3://BUCKET/PREFIX",
    help="ResultWriter's prefix [default: beside the manifest, .../results].",
)
@click.option("--execution-name", help="[default: run-UTCSTAMP-MANIFESTHASH].")
@click.option(
    "--input",
    "input_json",
    default="{}",
    help="More execution input (a JSON object), e.g. --wait-for's "
    '{"wait_for": {...}}.',
)
@click.option("--no-wait", is_flag=True, help="Print the execution ARN and return.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    help="Give up waiting after this many seconds (exit 23).",
)
@aws_options
@output_options
def run_cmd(
    directory: Path,
    dest: str | None,
    manifest: Path,
    name: str | None,
    manifest_uri: str | None,
    results_uri: str | None,
    execution_name: str | None,
    input_json: str,
    no_wait: bool,
    timeout: float | None,
    aws: AwsOptions,
    out: Output,
) -> int:
    """Upload a manifest and run a deployed fanout machine over it, then wait.

    s3://BUCKET/PREFIX/ is where items that give a `key` go. Exit codes as
    `sfn wait`: 0 SUCCEEDED, 20 FAILED, 21 TIMED_OUT, 22 ABORTED, 23 --timeout.
    """
    import json

    from devkit.errors import ConfigError
    from devkit.sfn.run import RunOptions, start_run

    try:
        extra = json.loads(input_json)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--input is not JSON: {exc}") from None
    if not isinstance(extra, dict):
        raise ConfigError("--input must be a JSON object")
    opts = RunOptions(
        directory=directory,
        name=name or directory.resolve().name,
        manifest=manifest,
        dest=dest,
        manifest_uri=manifest_uri,
        results_uri=results_uri,
        execution_name=execution_name,
        extra_input=extra,
    )
    started = start_run(opts, aws, on_status=out.info)
    if no_wait:
        if out.json:
            out.result_json(started.to_json())
        else:
            out.result(started.execution_arn)
        return ExitCode.OK
    out.info(f"execution    {started.execution_arn}")
    out.info(f"results      {started.results_uri}")
    return wait_and_show(aws, out, started.execution_arn, timeout)
