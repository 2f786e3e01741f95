"""Choice rules in JSONPath: the comparison operators, And/Or/Not, Is* tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from devkit.sfn.simulate.jsonpath import Scope


class ChoiceRuleError(Exception):
    """A rule the States Language does not define (AWS rejects the definition)."""


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def parse_timestamp(v: Any) -> datetime | None:
    """An RFC 3339 timestamp as AWS accepts it (a T and an offset or Z)."""
    if not isinstance(v, str) or "T" not in v:
        return None
    try:
        when = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _matches(value: str, pattern: str) -> bool:
    """AWS's StringMatches: `*` is the only wildcard, `\\*` a literal star."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if pattern[i] == "*" else re.escape(pattern[i]))
        i += 1
    return re.fullmatch("".join(out), value, re.S) is not None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}
_KINDS: dict[str, Callable[[Any], Any]] = {
    "String": lambda v: v if isinstance(v, str) else None,
    "Numeric": lambda v: v if _num(v) else None,
    "Boolean": lambda v: v if isinstance(v, bool) else None,
    "Timestamp": parse_timestamp,
}


def evaluate_rule(rule: dict[str, Any], scope: Scope) -> bool:
    """Whether one Choice rule (with its nested And/Or/Not) holds."""
    if "And" in rule:
        return all(evaluate_rule(r, scope) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate_rule(r, scope) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate_rule(rule["Not"], scope)
    found, value = scope.get_optional(str(rule.get("Variable", "$")))
    if "IsPresent" in rule:
        return found == bool(rule["IsPresent"])
    if not found:
        return False
    tests: tuple[tuple[str, Callable[[Any], bool]], ...] = (
        ("IsNull", lambda v: v is None),
        ("IsNumeric", _num),
        ("IsString", lambda v: isinstance(v, str)),
        ("IsBoolean", lambda v: isinstance(v, bool)),
        ("IsTimestamp", lambda v: parse_timestamp(v) is not None),
    )
    for test, check in tests:
        if test in rule:
            return check(value) == bool(rule[test])
    if "StringMatches" in rule:
        return isinstance(value, str) and _matches(value, str(rule["StringMatches"]))
    return _compare(rule, value, scope)


def _compare(rule: dict[str, Any], value: Any, scope: Scope) -> bool:
    for key, operand in rule.items():
        if key in ("Variable", "Next", "Comment", "Assign", "Output"):
            continue
        path = key.endswith("Path")
        name = key[:-4] if path else key
        kind = next((k for k in _KINDS if name.startswith(k)), None)
        op = name[len(kind) :] if kind else ""
        if kind is None or op not in _COMPARE:
            raise ChoiceRuleError(f"unknown Choice operator {key!r}")
        if path:
            operand = scope.get(str(operand))
        left, right = _KINDS[kind](value), _KINDS[kind](operand)
        if left is None or right is None:
            return False
        return _COMPARE[op](left, right)
    raise ChoiceRuleError("a Choice rule without a comparison")
