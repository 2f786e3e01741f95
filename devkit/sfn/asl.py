"""Load an Amazon States Language definition and give typed views of its parts.

Locations use the shape of AWS's `ValidateStateMachineDefinition` diagnostics,
a slash path into the definition: `/States/Gatekeeper/Catch/0`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.errors import ConfigError

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
TERMINAL_TYPES = ("Succeed", "Fail")
LAMBDA_TRANSIENT = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)

# Retrier defaults and limits, as AWS documents them.
DEFAULT_INTERVAL = 1
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF = 2.0


class AslError(ConfigError):
    """A definition that cannot be read or is not a state machine."""


def load_definition(path: Path) -> dict[str, Any]:
    """Read and parse one definition file; bad JSON names its line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AslError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AslError(f"{path}: cannot read: {exc}") from None
    return parse_definition(text, str(path))


def parse_definition(text: str, name: str) -> dict[str, Any]:
    """Parse definition text; the error names the line and column, like `json`."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AslError(
            f"{name}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("States"), dict):
        raise AslError(f'{name}: not a state machine: no "States" object')
    if not isinstance(doc.get("StartAt"), str):
        raise AslError(f'{name}: not a state machine: no "StartAt" string')
    return doc


def dumps(doc: Any) -> str:
    """The form devkit writes definitions in: stable keys order, two spaces."""
    return json.dumps(doc, indent=2) + "\n"


@dataclass(frozen=True)
class Machine:
    """One `States`/`StartAt` scope: the top machine, a Parallel branch or a Map's."""

    body: dict[str, Any]
    location: str  # "" for the top, "/States/P/Branches/0" for a branch
    query_language: str  # "JSONPath" or "JSONata", inherited by its states

    @property
    def states(self) -> dict[str, dict[str, Any]]:
        states = self.body.get("States")
        return states if isinstance(states, dict) else {}

    @property
    def start_at(self) -> str:
        return str(self.body.get("StartAt", ""))

    def state_location(self, name: str, *fields: str | int) -> str:
        """The slash path of a state (and fields under it)."""
        return "/".join([self.location, "States", name, *map(str, fields)])

    def language_of(self, state: dict[str, Any]) -> str:
        """A state's query language: its own field, else the machine's."""
        return str(state.get("QueryLanguage", self.query_language))


def machines(doc: dict[str, Any]) -> Iterator[Machine]:
    """The top machine, then every nested branch and Map processor, depth first."""
    top = Machine(doc, "", str(doc.get("QueryLanguage", "JSONPath")))
    yield from _walk(top)


def all_states(doc: dict[str, Any]) -> Iterator[tuple[Machine, str, dict[str, Any]]]:
    """Every state object of every machine, with the machine it belongs to."""
    for machine in machines(doc):
        for name, state in machine.states.items():
            if isinstance(state, dict):
                yield machine, name, state


def _walk(machine: Machine) -> Iterator[Machine]:
    yield machine
    for name, state in machine.states.items():
        if not isinstance(state, dict):
            continue
        lang = machine.language_of(state)
        base = machine.state_location(name)
        if state.get("Type") == "Parallel":
            for i, branch in enumerate(_as_list(state.get("Branches"))):
                if isinstance(branch, dict):
                    yield from _walk(Machine(branch, f"{base}/Branches/{i}", lang))
        elif state.get("Type") == "Map":
            for key in ("ItemProcessor", "Iterator"):
                inner = state.get(key)
                if isinstance(inner, dict):
                    yield from _walk(Machine(inner, f"{base}/{key}", lang))


def transitions_of(state: dict[str, Any]) -> list[str]:
    """Every state name this state can go to: Next, Choice targets, catchers."""
    targets: list[str] = []
    if isinstance(state.get("Next"), str):
        targets.append(state["Next"])
    if state.get("Type") == "Choice":
        for rule in state.get("Choices") or []:
            if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                targets.append(rule["Next"])
        if isinstance(state.get("Default"), str):
            targets.append(state["Default"])
    for catcher in state.get("Catch") or []:
        if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
            targets.append(catcher["Next"])
    return targets


def is_lambda(resource: str) -> bool:
    """A Lambda ARN, the `lambda:invoke` integration, or a `${...Function...}` slot."""
    if resource.startswith("${"):  # a placeholder filled at deploy time
        return "lambda" in resource.lower() or "function" in resource.lower()
    return resource.startswith(("arn:aws:lambda:", "arn:aws:states:::lambda:invoke"))


@dataclass(frozen=True)
class Retrier:
    """One entry of a `Retry` array, with AWS's defaults filled in."""

    errors: tuple[str, ...]
    interval: float
    max_attempts: int
    backoff: float
    max_delay: float | None
    jitter: bool

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Retrier:
        """Read a retrier; fields of the wrong type fall back to the default."""
        errors = raw.get("ErrorEquals")
        max_delay = raw.get("MaxDelaySeconds")
        return cls(
            errors=tuple(e for e in errors if isinstance(e, str))
            if isinstance(errors, list)
            else (),
            interval=_number(raw.get("IntervalSeconds"), DEFAULT_INTERVAL),
            max_attempts=int(_number(raw.get("MaxAttempts"), DEFAULT_MAX_ATTEMPTS)),
            backoff=_number(raw.get("BackoffRate"), DEFAULT_BACKOFF),
            max_delay=_number(max_delay, 0) if _is_number(max_delay) else None,
            jitter=raw.get("JitterStrategy") == "FULL",
        )

    def delay(self, retry_index: int) -> float:
        """The computed wait before retry number `retry_index` (0-based), no jitter."""
        try:
            delay = self.interval * self.backoff**retry_index
        except OverflowError:
            delay = math.inf
        if self.max_delay is not None:
            delay = min(delay, self.max_delay)
        return float(delay)

    def total_delay(self, retries: int) -> float:
        """The sum of the first `retries` computed waits, without a loop per retry.

        MaxAttempts goes up to 99,999,999: the waits grow until the cap (or
        infinity), and every wait after that is the same.
        """
        total, k = 0.0, 0
        while k < retries:
            delay = self.delay(k)
            if delay == self.delay(k + 1) or math.isinf(delay) or k >= 10_000:
                return total + delay * (retries - k)
            total += delay
            k += 1
        return total

    def matches(self, error: str) -> bool:
        """Whether this retrier (or a catcher with these names) handles `error`."""
        return error_matches(self.errors, error)


def error_matches(names: tuple[str, ...] | list[str], error: str) -> bool:
    """AWS's matching of an error name against an `ErrorEquals` list."""
    if error in names:
        return True
    # AWS documents States.Runtime and States.DataLimitExceeded as terminal:
    # no wildcard catches them. States.TaskFailed matches all but States.Timeout.
    if error in UNCATCHABLE:
        return False
    if "States.ALL" in names:
        return True
    return "States.TaskFailed" in names and error != "States.Timeout"


UNCATCHABLE = ("States.Runtime", "States.DataLimitExceeded")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, default: float) -> float:
    return float(value) if _is_number(value) else float(default)


# --- the shape every rule and the simulator may rely on ---------------------------

_STRING_FIELDS = (
    "Type",
    "Next",
    "Default",
    "Resource",
    "InputPath",
    "OutputPath",
    "SecondsPath",
    "TimestampPath",
    "ItemsPath",
    "QueryLanguage",
    "Comment",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
)
_NUMBER_FIELDS = (
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "MaxConcurrency",
    "ToleratedFailurePercentage",
    "ToleratedFailureCount",
)
_RETRIER_NUMBERS = ("IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds")


def shape_errors(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(location, message) for every field of the wrong JSON type.

    AWS rejects these before anything else (SCHEMA_VALIDATION_FAILED); the
    rules and the simulator run only on a definition without them.
    """
    found: list[tuple[str, str]] = []
    _machine_shape(doc, "", found)
    return found


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__.replace("dict", "object")


def _machine_shape(body: Any, where: str, found: list[tuple[str, str]]) -> None:
    if not isinstance(body, dict):
        found.append((where or "/", f"expected an object, got {_kind(body)}"))
        return
    if not isinstance(body.get("StartAt"), str):
        found.append((f"{where}/StartAt", "StartAt must be a string"))
    states = body.get("States")
    if not isinstance(states, dict):
        found.append((f"{where}/States", "States must be an object"))
        return
    if "TimeoutSeconds" in body and not _is_number(body["TimeoutSeconds"]):
        found.append((f"{where}/TimeoutSeconds", "TimeoutSeconds must be a number"))
    for name, state in states.items():
        _state_shape(state, f"{where}/States/{name}", found)


def _state_shape(state: Any, where: str, found: list[tuple[str, str]]) -> None:
    if not isinstance(state, dict):
        found.append((where, f"a state must be an object, got {_kind(state)}"))
        return
    for field in _STRING_FIELDS:
        if field in state and not isinstance(state[field], str):
            found.append((f"{where}/{field}", f"{field} must be a string"))
    for field in _NUMBER_FIELDS:
        if field in state and not _is_number(state[field]):
            found.append((f"{where}/{field}", f"{field} must be a number"))
    if "End" in state and not isinstance(state["End"], bool):
        found.append((f"{where}/End", "End must be true or false"))
    for field in ("ResultPath",):
        if field in state and not isinstance(state[field], str | None):
            found.append((f"{where}/{field}", f"{field} must be a string or null"))
    if "Seconds" in state and not isinstance(state["Seconds"], int | float | str):
        found.append((f"{where}/Seconds", "Seconds must be a number"))
    for key in ("Retry", "Catch", "Choices", "Branches"):
        _list_of_objects(state, key, where, found)
    for key in ("Retry", "Catch"):
        for i, entry in enumerate(_objects(state.get(key))):
            _entry_shape(entry, key, f"{where}/{key}/{i}", found)
    for i, branch in enumerate(_objects(state.get("Branches"))):
        _machine_shape(branch, f"{where}/Branches/{i}", found)
    for key in ("ItemProcessor", "Iterator"):
        if key in state:
            _machine_shape(state[key], f"{where}/{key}", found)
    for i, rule in enumerate(_objects(state.get("Choices"))):
        _rule_shape(rule, f"{where}/Choices/{i}", found)


def _objects(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _list_of_objects(
    state: dict[str, Any], key: str, where: str, found: list[tuple[str, str]]
) -> None:
    value = state.get(key)
    if key in state and (
        not isinstance(value, list) or not all(isinstance(v, dict) for v in value)
    ):
        found.append((f"{where}/{key}", f"{key} must be a list of objects"))


def _entry_shape(
    entry: dict[str, Any], key: str, where: str, found: list[tuple[str, str]]
) -> None:
    names = entry.get("ErrorEquals")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        found.append((f"{where}/ErrorEquals", "ErrorEquals must be a list of names"))
    if key == "Catch" and not isinstance(entry.get("Next"), str):
        found.append((f"{where}/Next", "a catcher needs Next, a state name"))
    if key == "Catch" and not isinstance(entry.get("ResultPath", ""), str | None):
        found.append((f"{where}/ResultPath", "ResultPath must be a string or null"))
    for field in _RETRIER_NUMBERS:
        if key == "Retry" and field in entry and not _is_number(entry[field]):
            found.append((f"{where}/{field}", f"{field} must be a number"))


def _rule_shape(rule: dict[str, Any], where: str, found: list[tuple[str, str]]) -> None:
    if "Next" in rule and not isinstance(rule["Next"], str):
        found.append((f"{where}/Next", "Next must be a state name"))
    if "Variable" in rule and not isinstance(rule["Variable"], str):
        found.append((f"{where}/Variable", "Variable must be a path"))
    for key in ("And", "Or"):
        if key in rule:
            if not isinstance(rule[key], list) or not all(
                isinstance(r, dict) for r in rule[key]
            ):
                found.append((f"{where}/{key}", f"{key} must be a list of rules"))
            else:
                for i, inner in enumerate(rule[key]):
                    _rule_shape(inner, f"{where}/{key}/{i}", found)
    if "Not" in rule:
        if isinstance(rule["Not"], dict):
            _rule_shape(rule["Not"], f"{where}/Not", found)
        else:
            found.append((f"{where}/Not", "Not must be a rule"))
