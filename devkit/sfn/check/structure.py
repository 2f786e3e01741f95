"""Rules on the shape of the machine: types, transitions, reachability, field values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from devkit.sfn.asl import (
    STATE_TYPES,
    Machine,
    all_states,
    machines,
    transitions_of,
)
from devkit.sfn.check import ERROR, Context, rule

JSONPATH_ONLY = (
    "InputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "OutputPath",
    "SecondsPath",
    "TimestampPath",
    "ItemsPath",
)
JSONATA_ONLY = ("Arguments", "Output")
WAIT_FIELDS = ("Seconds", "SecondsPath", "Timestamp", "TimestampPath")


def _states(ctx: Context) -> Iterator[tuple[Machine, str, dict[str, Any]]]:
    return all_states(ctx.doc)


@rule("UNKNOWN_STATE_TYPE", ERROR, "use one of: " + ", ".join(STATE_TYPES))
def unknown_type(ctx: Context) -> Iterator[tuple[str, str]]:
    """A state whose Type AWS does not know."""
    for machine in machines(ctx.doc):
        for name, state in machine.states.items():
            kind = state.get("Type") if isinstance(state, dict) else None
            if kind not in STATE_TYPES:
                yield (
                    machine.state_location(name, "Type"),
                    f"state {name!r} has unknown Type {kind!r}",
                )


@rule(
    "MISSING_TRANSITION_TARGET",
    ERROR,
    "point Next/Default/StartAt at a state that exists",
)
def missing_target(ctx: Context) -> Iterator[tuple[str, str]]:
    """StartAt, Next, Default or a Catch that names no state."""
    for machine in machines(ctx.doc):
        if machine.start_at not in machine.states:
            yield (
                f"{machine.location}/StartAt",
                f"StartAt names no state: {machine.start_at!r}",
            )
        for name, state in machine.states.items():
            if not isinstance(state, dict):
                continue
            for target in transitions_of(state):
                if target not in machine.states:
                    yield (
                        machine.state_location(name),
                        f"state {name!r} goes to {target!r}, which does not exist",
                    )


@rule("MISSING_NEXT", ERROR, 'add "Next": "<state>" or "End": true')
def missing_next(ctx: Context) -> Iterator[tuple[str, str]]:
    """A state that neither ends nor says where to go."""
    for machine, name, state in _states(ctx):
        if (
            state.get("Type") in ("Choice", "Succeed", "Fail")
            or state.get("Type") not in STATE_TYPES
        ):
            continue
        if "Next" not in state and state.get("End") is not True:
            yield machine.state_location(name), f"state {name!r} has no Next and no End"


@rule("UNREACHABLE_STATE", ERROR, "remove the state or add a transition to it")
def unreachable(ctx: Context) -> Iterator[tuple[str, str]]:
    """A state that no path from StartAt reaches (AWS rejects the definition)."""
    for machine in machines(ctx.doc):
        seen = {machine.start_at}
        todo = [machine.start_at]
        while todo:
            state = machine.states.get(todo.pop())
            if not isinstance(state, dict):
                continue
            for target in transitions_of(state):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        for name in machine.states:
            if name not in seen:
                yield machine.state_location(name), f"state {name!r} is unreachable"


@rule(
    "WAIT_DURATION",
    ERROR,
    "keep exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
)
def wait_duration(ctx: Context) -> Iterator[tuple[str, str]]:
    """A Wait state needs exactly one way to say how long."""
    for machine, name, state in _states(ctx):
        if state.get("Type") != "Wait":
            continue
        given = [f for f in WAIT_FIELDS if f in state]
        if len(given) != 1:
            what = " and ".join(given) if given else "none"
            yield (
                machine.state_location(name),
                f"Wait {name!r} sets {what}; it needs exactly one",
            )


# (field, lowest, highest, integer only); AWS's documented retrier limits.
RETRIER_LIMITS = (
    ("IntervalSeconds", 1, 99_999_999, True),
    ("MaxAttempts", 0, 99_999_999, True),
    ("BackoffRate", 1.0, None, False),
    ("MaxDelaySeconds", 1, 31_622_400, True),
)


@rule("RETRIER_FIELD", ERROR, "see the Retry limits in the Step Functions docs")
def retrier_fields(ctx: Context) -> Iterator[tuple[str, str]]:
    """Retrier numbers outside AWS's ranges, unknown JitterStrategy, bad ErrorEquals."""
    for machine, name, state in _states(ctx):
        for key in ("Retry", "Catch"):
            for i, entry in enumerate(state.get(key) or []):
                where = machine.state_location(name, key, i)
                if not isinstance(entry, dict):
                    yield where, f"{key}[{i}] of {name!r} is not an object"
                    continue
                yield from _error_equals(entry, where, f"{key}[{i}] of {name!r}")
                if key == "Retry":
                    yield from _retrier_numbers(entry, where, f"{key}[{i}] of {name!r}")


def _error_equals(
    entry: dict[str, Any], where: str, what: str
) -> Iterator[tuple[str, str]]:
    names = entry.get("ErrorEquals")
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(n, str) for n in names)
    ):
        yield (
            f"{where}/ErrorEquals",
            f"{what}: ErrorEquals must be a non-empty list of names",
        )
    elif "States.ALL" in names and len(names) > 1:
        yield (
            f"{where}/ErrorEquals",
            f"{what}: States.ALL must appear alone in ErrorEquals",
        )


def _retrier_numbers(
    entry: dict[str, Any], where: str, what: str
) -> Iterator[tuple[str, str]]:
    for field, low, high, integer in RETRIER_LIMITS:
        if field not in entry:
            continue
        value = entry[field]
        ok_type = isinstance(value, int | float) and not isinstance(value, bool)
        if integer and ok_type and isinstance(value, float):
            ok_type = value.is_integer()
        if not ok_type or value < low or (high is not None and value > high):
            bound = f"{low}..{high:,}" if high is not None else f">= {low}"
            yield f"{where}/{field}", f"{what}: {field} {value!r} is outside {bound}"
    jitter = entry.get("JitterStrategy", "NONE")
    if jitter not in ("FULL", "NONE"):
        yield (
            f"{where}/JitterStrategy",
            f"{what}: JitterStrategy {jitter!r} is not FULL or NONE",
        )


@rule(
    "QUERY_LANGUAGE_FIELD",
    ERROR,
    "JSONata states use Arguments/Output; JSONPath states the *Path fields",
)
def language_fields(ctx: Context) -> Iterator[tuple[str, str]]:
    """A field that the state's query language does not have."""
    for machine, name, state in _states(ctx):
        lang = machine.language_of(state)
        bad = JSONPATH_ONLY if lang == "JSONata" else JSONATA_ONLY
        for field in bad:
            if field in state:
                yield (
                    machine.state_location(name, field),
                    f"{field} is not allowed in a {lang} state ({name!r})",
                )
        for i, catcher in enumerate(state.get("Catch") or []):
            if isinstance(catcher, dict):
                for field in ("ResultPath",) if lang == "JSONata" else ("Output",):
                    if field in catcher:
                        yield (
                            machine.state_location(name, "Catch", i, field),
                            f"{field} is not allowed in a {lang} catcher ({name!r})",
                        )
