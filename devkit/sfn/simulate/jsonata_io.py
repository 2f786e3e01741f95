"""JSONata I/O: `{% expression %}` strings in Arguments, Output, Assign, Choice."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any


class JsonataError(Exception):
    """An expression that fails: States.QueryEvaluationError."""


def evaluate_template(
    value: Any, states: Mapping[str, Any], variables: Mapping[str, Any]
) -> Any:
    """Evaluate every `{% %}` string in a value; other values stay as written."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{%") and text.endswith("%}"):
            return evaluate(text[2:-2].strip(), states, variables)
        return value
    if isinstance(value, dict):
        return {k: evaluate_template(v, states, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate_template(v, states, variables) for v in value]
    return value


def evaluate(
    expression: str, states: Mapping[str, Any], variables: Mapping[str, Any]
) -> Any:
    """One JSONata expression with `$states` and the workflow variables bound."""
    from jsonata.jexception import JException

    try:
        compiled = _compile(expression)
        return compiled.evaluate(None, {**variables, "states": dict(states)})
    except (JException, RecursionError, ValueError, TypeError) as exc:
        raise JsonataError(f"{expression!r}: {exc}") from None


@functools.lru_cache(maxsize=256)
def _compile(expression: str) -> Any:
    import jsonata

    return jsonata.Jsonata(expression)
