"""`devkit sfn new gatekeeper`: a poll-loop project that is correct by construction.

The machine keeps its input on every Catch, retries the transient Lambda
errors in a retrier of their own, is STANDARD, and has a machine-level
TimeoutSeconds above its worst case; `devkit sfn check` finds nothing in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from devkit.errors import ConfigError, WriteError
from devkit.fileio import atomic_write
from devkit.sfn.asl import LAMBDA_TRANSIENT, Retrier, dumps

CHECKS = {
    "s3-prefix": "at least `expected` objects under s3://`bucket`/`prefix`",
    "sqs-empty": "the queue at `queue_url` has no visible, in-flight or delayed "
    "messages",
    "marker": "the object s3://`bucket`/`key` exists",
    "custom": "fill in check()",
}
FUNCTION_ARN = "${GatekeeperFunctionArn}"  # filled by `devkit sfn deploy`
TASK_TIMEOUT = 60  # seconds one gatekeeper call may take (the Lambda gets 30)
TRANSIENT_RETRIER = {
    "ErrorEquals": list(LAMBDA_TRANSIENT),
    "IntervalSeconds": 2,
    "BackoffRate": 2.0,
    "MaxAttempts": 6,
    "JitterStrategy": "FULL",
}


@dataclass(frozen=True)
class GatekeeperOptions:
    """What `devkit sfn new gatekeeper` was asked for."""

    check: str = "s3-prefix"
    interval: int = 5
    backoff: float = 2.0
    max_delay: int | None = 60
    max_attempts: int = 30
    jitter: bool = True
    force: bool = True  # False: fail instead of moving on
    query_language: str = "jsonpath"


@dataclass(frozen=True)
class Scaffold:
    """The files written and the machine's worst case."""

    directory: Path
    files: list[Path]
    timeout_seconds: int


def new_gatekeeper(
    directory: Path, opts: GatekeeperOptions, overwrite: bool
) -> Scaffold:
    """Write the project; refuse a non-empty folder unless `overwrite`."""
    check_option(opts.check)
    check_folder(directory, overwrite)
    definition = gatekeeper_definition(opts)
    files = {"statemachine.asl.json": dumps(definition), **gatekeeper_files(opts)}
    written = write_files(directory, files)
    return Scaffold(directory, written, int(definition["TimeoutSeconds"]))


def check_option(check: str) -> None:
    """An unknown --check (or --wait-for) is a ConfigError naming the known ones."""
    if check not in CHECKS:
        raise ConfigError(f"unknown --check {check!r}: use one of {', '.join(CHECKS)}")


def gatekeeper_files(opts: GatekeeperOptions) -> dict[str, str]:
    """The gatekeeper's handler folder and its test, by relative path."""
    return {
        "gatekeeper/handler.py": handler_source(opts),
        "gatekeeper/requirements.txt": "# boto3 comes with the Lambda runtime.\n",
        "tests/test_handler.py": test_source(opts),
    }


def check_folder(directory: Path, overwrite: bool) -> None:
    """A project goes into a new or empty folder, or any folder with --force."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is a file: pass a folder for the project")
    if directory.is_dir() and any(directory.iterdir()) and not overwrite:
        raise ConfigError(
            f"{directory} is not empty: pick another folder or pass --force"
        )


def write_files(directory: Path, files: dict[str, str]) -> list[Path]:
    """Write each file atomically under `directory`; return their paths."""
    written = []
    for rel, text in files.items():
        path = directory / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, text.encode("utf-8"))
        except OSError as exc:
            raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
        written.append(path)
    return written


def _retrier(opts: GatekeeperOptions) -> dict[str, Any]:
    retrier: dict[str, Any] = {
        "ErrorEquals": ["NotReadyError"],
        "IntervalSeconds": opts.interval,
        "BackoffRate": float(opts.backoff),
        "MaxAttempts": opts.max_attempts,
    }
    if opts.max_delay is not None:
        retrier["MaxDelaySeconds"] = opts.max_delay
    if opts.jitter:
        retrier["JitterStrategy"] = "FULL"
    return retrier


def machine_timeout(opts: GatekeeperOptions) -> int:
    """Above the worst case: every wait, every call at its timeout, then a margin."""
    poll = Retrier.of(_retrier(opts))
    transient = Retrier.of(TRANSIENT_RETRIER)
    waits = poll.total_delay(poll.max_attempts)
    rounds = 2 if opts.force else 1  # the forced round enters the state again
    transient_waits = rounds * transient.total_delay(transient.max_attempts)
    calls = (poll.max_attempts + 1 + transient.max_attempts) * rounds
    worst = waits + transient_waits + calls * TASK_TIMEOUT
    return int(math.ceil(worst / 300.0) * 300 + 300)


def gatekeeper_definition(opts: GatekeeperOptions) -> dict[str, Any]:
    """The state machine, JSONPath or JSONata."""
    retry = [_retrier(opts), dict(TRANSIENT_RETRIER)]
    comment = "Gatekeeper poll loop (devkit sfn new gatekeeper)"
    give_up = {
        "Type": "Fail",
        "Error": "GatekeeperGaveUp",
        "Cause": "the work was not finished when the retries ran out",
    }
    if opts.query_language == "jsonata":
        task: dict[str, Any] = {
            "Type": "Task",
            "Resource": FUNCTION_ARN,
            "Arguments": "{% $merge([$states.input, {'force': $force = true}]) %}",
            "Output": "{% $merge([$states.input, {'gatekeeper': $states.result}]) %}",
            "TimeoutSeconds": TASK_TIMEOUT,
            "Retry": retry,
            "Catch": [
                {
                    "ErrorEquals": ["NotReadyError"],
                    "Assign": {"force": True},
                    "Output": "{% $states.input %}",
                    "Next": "Gatekeeper",
                }
            ],
            "Next": "Done",
        }
        states: dict[str, Any] = {"Gatekeeper": task, "Done": {"Type": "Succeed"}}
        if not opts.force:
            task["Arguments"] = "{% $states.input %}"
            task["Catch"][0] = {
                "ErrorEquals": ["NotReadyError"],
                "Output": "{% $merge([$states.input, "
                "{'error': $states.errorOutput}]) %}",
                "Next": "GaveUp",
            }
            states["GaveUp"] = give_up
        return {
            "Comment": comment,
            "QueryLanguage": "JSONata",
            "StartAt": "Gatekeeper",
            "TimeoutSeconds": machine_timeout(opts),
            "States": states,
        }
    catch_next = "Force" if opts.force else "GaveUp"
    states = {
        "Gatekeeper": {
            "Type": "Task",
            "Resource": FUNCTION_ARN,
            "ResultPath": "$.gatekeeper",
            "TimeoutSeconds": TASK_TIMEOUT,
            "Retry": retry,
            "Catch": [
                {
                    "ErrorEquals": ["NotReadyError"],
                    "ResultPath": "$.gatekeeper_error",
                    "Next": catch_next,
                }
            ],
            "Next": "Done",
        },
    }
    if opts.force:
        states["Force"] = {
            "Type": "Pass",
            "Result": True,
            "ResultPath": "$.force",
            "Next": "Gatekeeper",
        }
    else:
        states["GaveUp"] = give_up
    states["Done"] = {"Type": "Succeed"}
    return {
        "Comment": comment,
        "StartAt": "Gatekeeper",
        "TimeoutSeconds": machine_timeout(opts),
        "States": states,
    }


def _resource(name: str) -> str:
    path = resources.files("devkit.sfn.scaffold").joinpath("resources", name)
    return path.read_text(encoding="utf-8")


def handler_source(opts: GatekeeperOptions) -> str:
    """gatekeeper/handler.py for the chosen check."""
    check = opts.check.replace("-", "_")
    force_doc = (
        "When the retries run out the machine sets `force`, and the handler\n"
        "returns at once with a partial-results summary instead of raising.\n"
        if opts.force
        else "With no force step, running out of retries fails the execution.\n"
    )
    return (
        Template(_resource("handler.py.tmpl"))
        .substitute(
            FORCE_DOC=force_doc,
            CHECK_TITLE=CHECKS[opts.check],
            FORCE_BLOCK=_resource("force_block.tmpl") if opts.force else "",
            CHECK_FUNCTION=_resource(f"check_{check}.tmpl").rstrip("\n"),
        )
        .rstrip("\n")
        + "\n"
    )


def test_source(opts: GatekeeperOptions) -> str:
    """tests/test_handler.py: the handler against moto."""
    check = opts.check.replace("-", "_")
    text = _resource("test_head.tmpl") + _resource(f"test_{check}.tmpl")
    if opts.force:
        text += _resource("test_force.tmpl")
    return text
