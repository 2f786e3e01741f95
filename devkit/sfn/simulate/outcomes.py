"""Where task results come from: `--task STATE=OUTCOMES` scripts or a Python module."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from devkit.errors import ConfigError

ERROR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


# Step Functions keeps at most this many characters of a failure's cause
# (the events' `cause`, e.g. LambdaFunctionFailedEventDetails): a longer
# Lambda error message arrives cut, no longer valid JSON.
CAUSE_LIMIT = 32_768


class TaskFailed(Exception):
    """A task call that fails with an AWS error name and cause."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.cause = cause


# A task: (effective input, context object) -> result, or raises TaskFailed.
TaskFunc = Callable[[Any, Mapping[str, Any]], Any]


class LambdaContext(dict[str, Any]):
    """The context object a task reads, which is also Lambda's context.

    A real Lambda handler is called with Lambda's context object (it asks it
    for the time left); a `--tasks` function written for the simulator reads
    the Step Functions context object as a dict. This is both: the dict, plus
    Lambda's methods, with the Task's TimeoutSeconds as the function's timeout
    counted in real time from the call.
    """

    function_name = "simulated"
    function_version = "$LATEST"
    memory_limit_in_mb = "1024"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def __init__(self, context: Mapping[str, Any], timeout: float) -> None:
        super().__init__(context)
        self._deadline = time.monotonic() + timeout
        self.invoked_function_arn = (
            "arn:aws:lambda:us-east-1:123456789012:function:simulated"
        )

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Outcome:
    """One scripted outcome: an error name, or a value to return."""

    error: str | None
    value: Any = None


class Script:
    """A list of outcomes played in order; the last one repeats for ever."""

    def __init__(self, state: str, outcomes: list[Outcome]) -> None:
        self.state = state
        self.outcomes = outcomes
        self.calls = 0

    def __call__(self, data: Any, context: Mapping[str, Any]) -> Any:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        if outcome.error is not None:
            raise TaskFailed(outcome.error, _lambda_cause(outcome.error))
        return outcome.value


def _lambda_cause(error: str) -> str:
    # The shape of a Python Lambda's error payload, which AWS puts in Cause.
    return json.dumps(
        {"errorMessage": error, "errorType": error}, separators=(",", ":")
    )


def parse_task_option(spec: str) -> Script:
    """`STATE=ITEM[*N],ITEM...`: an item is a JSON value or an error name."""
    state, sep, rest = spec.partition("=")
    if not sep or not state or not rest:
        raise ConfigError(
            f"--task {spec!r}: expected STATE=OUTCOMES, e.g. "
            "Gatekeeper='NotReadyError*3,{\"ready\": true}'"
        )
    outcomes: list[Outcome] = []
    for item in _split_top_level(rest):
        body, count = item, 1
        m = re.match(r"^(.*)\*(\d+)$", item.strip(), re.S)
        if m:
            body, count = m.group(1), int(m.group(2))
        outcomes.extend([_outcome(spec, body.strip())] * count)
    if not outcomes:
        raise ConfigError(f"--task {spec!r}: no outcomes after '='")
    return Script(state, outcomes)


def _outcome(spec: str, item: str) -> Outcome:
    try:
        return Outcome(None, json.loads(item))
    except json.JSONDecodeError:
        pass
    if ERROR_NAME.match(item):
        return Outcome(item)
    raise ConfigError(
        f"--task {spec!r}: {item!r} is neither a JSON value nor an error name"
    )


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside JSON brackets and strings."""
    items, depth, start, in_str, escape = [], 0, 0, False, False
    for i, ch in enumerate(text):
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [i for i in items if i.strip()]


def load_tasks_module(path: Path, state_names: list[str]) -> dict[str, TaskFunc]:
    """One function per task state, matched by name (non-identifier chars as _)."""
    spec = importlib.util.spec_from_file_location(f"_devkit_tasks_{path.stem}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ConfigError(f"--tasks {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        sys.dont_write_bytecode, saved = True, sys.dont_write_bytecode
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"--tasks {path}: failed to import: {exc!r}") from None
    finally:
        sys.dont_write_bytecode = saved
    found = {name: func for name in state_names if (func := _function(module, name))}
    handler = _function(module, "handler") or _function(module, "lambda_handler")
    if not found and handler is not None and len(state_names) == 1:
        # A Lambda function's own handler module (the scaffold's stream/handler.py)
        # serves the machine's one Task state.
        found = {state_names[0]: handler}
    if not found:
        wanted = ", ".join(_identifier(n) for n in state_names) or "(no Task states)"
        raise ConfigError(
            f"--tasks {path}: defines no function for a task state of the machine; "
            f"expected one of: {wanted}"
        )
    return {name: _wrap(func) for name, func in found.items()}


def _identifier(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _function(module: ModuleType, state: str) -> Callable[..., Any] | None:
    func = getattr(module, _identifier(state), None)
    return func if callable(func) else None


def _wrap(func: Callable[..., Any]) -> TaskFunc:
    def call(data: Any, context: Mapping[str, Any]) -> Any:
        try:
            return func(data, context)
        except TaskFailed:
            raise
        except Exception as exc:  # the Lambda way: errorType is the class name
            name = type(exc).__name__
            payload = {"errorMessage": str(exc), "errorType": name}
            cause = json.dumps(payload, separators=(",", ":"))
            raise TaskFailed(name, cause[:CAUSE_LIMIT]) from exc

    return call
