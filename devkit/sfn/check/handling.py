"""Rules on error handling: Catch, Retry and the errors a Task can really raise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from devkit.sfn.asl import (
    LAMBDA_TRANSIENT,
    Machine,
    all_states,
    error_matches,
    is_lambda,
)
from devkit.sfn.check import ERROR, WARNING, Context, rule


def _tasks(ctx: Context) -> Iterator[tuple[Machine, str, dict[str, Any]]]:
    for machine, name, state in all_states(ctx.doc):
        if state.get("Type") in ("Task", "Parallel", "Map"):
            yield machine, name, state


@rule(
    "CATCH_DROPS_INPUT",
    ERROR,
    'add "ResultPath": "$.error" (JSONata: "Output": "{% $states.input %}")',
)
def catch_drops_input(ctx: Context) -> Iterator[tuple[str, str]]:
    """A catcher whose output replaces the state input with {Error, Cause}."""
    for machine, name, state in _tasks(ctx):
        jsonata = machine.language_of(state) == "JSONata"
        for i, catcher in enumerate(state.get("Catch") or []):
            if not isinstance(catcher, dict):
                continue
            target = machine.states.get(str(catcher.get("Next")), {})
            if isinstance(target, dict) and target.get("Type") == "Fail":
                continue  # the execution ends: nothing left to lose
            if ("Output" if jsonata else "ResultPath") in catcher:
                continue
            yield (
                machine.state_location(name, "Catch", i),
                f"Catch[{i}] of {name!r} replaces the input with the error output; "
                f"{catcher.get('Next')!r} gets {{Error, Cause}} only",
            )


@rule("STATES_ALL_NOT_LAST", ERROR, "move the States.ALL entry to the end of the list")
def states_all_not_last(ctx: Context) -> Iterator[tuple[str, str]]:
    """AWS requires the States.ALL retrier or catcher to be the last one."""
    for machine, name, state in _tasks(ctx):
        for key in ("Retry", "Catch"):
            entries = [e for e in state.get(key) or [] if isinstance(e, dict)]
            for i, entry in enumerate(entries[:-1]):
                if "States.ALL" in (entry.get("ErrorEquals") or []):
                    yield (
                        machine.state_location(name, key, i),
                        f"{key}[{i}] of {name!r} matches States.ALL but is not last; "
                        "the entries after it never run",
                    )


@rule(
    "UNRAISABLE_ERROR",
    WARNING,
    "remove the entry, or use the integration pattern that raises it",
)
def unraisable(ctx: Context) -> Iterator[tuple[str, str]]:
    """A Retry/Catch on an error this Task's integration pattern never raises."""
    for machine, name, state in _tasks(ctx):
        if state.get("Type") != "Task":
            continue
        resource = str(state.get("Resource", ""))
        for key in ("Retry", "Catch"):
            for i, entry in enumerate(state.get(key) or []):
                if not isinstance(entry, dict):
                    continue
                for error in entry.get("ErrorEquals") or []:
                    why = _why_unraisable(str(error), resource, state)
                    if why:
                        yield (
                            machine.state_location(name, key, i, "ErrorEquals"),
                            f"{key}[{i}] of {name!r}: {error} {why}",
                        )


SYNC_ONLY_PREFIXES = ("Ecs.", "Batch.", "Glue.", "EMR.", "CodeBuild.", "SageMaker.")


def _why_unraisable(error: str, resource: str, state: dict[str, Any]) -> str:
    if (
        error == "States.HeartbeatTimeout"
        and "HeartbeatSeconds" not in state
        and ("HeartbeatSecondsPath" not in state)
    ):
        return "needs HeartbeatSeconds on the state"
    if error.startswith("Lambda.") and not is_lambda(resource):
        return "comes only from Lambda, and this resource is not a Lambda function"
    sync = resource.endswith(".sync") or ".sync:" in resource
    if error.startswith(SYNC_ONLY_PREFIXES) and not sync:
        return "is raised only by the .sync (run a job) pattern"
    custom = "." not in error
    if custom and resource.startswith("arn:aws:states:::aws-sdk:"):
        return (
            "is a custom error, and an AWS SDK integration raises only service errors"
        )
    return ""


@rule(
    "NO_LAMBDA_RETRIER",
    WARNING,
    "add a retrier for Lambda.ServiceException, Lambda.AWSLambdaException, "
    "Lambda.SdkClientException, Lambda.TooManyRequestsException",
)
def no_lambda_retrier(ctx: Context) -> Iterator[tuple[str, str]]:
    """A Lambda task that a single throttle or service error fails."""
    for machine, name, state in _tasks(ctx):
        if state.get("Type") != "Task" or not is_lambda(str(state.get("Resource", ""))):
            continue
        retriers = [r for r in state.get("Retry") or [] if isinstance(r, dict)]
        missing = [
            e
            for e in LAMBDA_TRANSIENT
            if not any(
                error_matches(list(r.get("ErrorEquals") or []), e)
                and r.get("MaxAttempts", 3) != 0
                for r in retriers
            )
        ]
        if missing:
            yield (
                machine.state_location(name),
                f"Lambda task {name!r} does not retry {', '.join(missing)}",
            )


@rule(
    "CALLBACK_NO_TIMEOUT",
    ERROR,
    "set HeartbeatSeconds (and TimeoutSeconds) on the state",
)
def callback_no_timeout(ctx: Context) -> Iterator[tuple[str, str]]:
    """A .waitForTaskToken task waits up to a year for a token a dead worker lost."""
    for machine, name, state in _tasks(ctx):
        if ".waitForTaskToken" not in str(state.get("Resource", "")):
            continue
        limits = (
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
        )
        if not any(f in state for f in limits):
            yield (
                machine.state_location(name),
                f"callback task {name!r} has no TimeoutSeconds or HeartbeatSeconds: "
                "a lost token waits a year",
            )
