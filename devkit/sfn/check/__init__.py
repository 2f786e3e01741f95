"""`devkit sfn check`: schema and pattern rules, in AWS's diagnostic shape.

A rule is a code, a severity, a one-line fix hint and one function over the
definition; each family of rules lives in its own module and registers with
`@rule`. Severity ERROR is for what AWS would reject, what loses data or what
cannot terminate; WARNING for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

ERROR = "ERROR"
WARNING = "WARNING"


@dataclass(frozen=True)
class Diagnostic:
    """One finding, in the shape of AWS's ValidateStateMachineDefinitionDiagnostic."""

    file: str
    severity: str
    code: str
    message: str
    location: str
    hint: str

    def to_json(self) -> dict[str, str]:
        """The diagnostic as one JSON object."""
        return {
            "file": self.file,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "location": self.location,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class Context:
    """What a rule sees: the definition and the machine type it will run as."""

    doc: dict[str, Any]
    machine_type: str  # STANDARD or EXPRESS


# A rule yields (location, message); the registry adds code, severity and hint.
RuleFunc = Callable[[Context], Iterator[tuple[str, str]]]


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    hint: str
    func: RuleFunc


RULES: list[Rule] = []
SHAPE_HINT = "give the field the JSON type the States Language defines"


def rule(code: str, severity: str, hint: str) -> Callable[[RuleFunc], RuleFunc]:
    """Register a rule function under a stable code."""

    def register(func: RuleFunc) -> RuleFunc:
        RULES.append(Rule(code, severity, hint, func))
        return func

    return register


def check_definition(
    doc: dict[str, Any], file: str, machine_type: str = "STANDARD"
) -> list[Diagnostic]:
    """Every finding of every rule, errors first, then by location."""
    from devkit.sfn.asl import shape_errors
    from devkit.sfn.check import (  # noqa: F401  (each module registers its rules)
        handling,
        loops,
        paths,
        structure,
    )

    shape = shape_errors(doc)
    if shape:  # the rules assume the shape: report it alone, as AWS does
        return [
            Diagnostic(
                file, ERROR, "SCHEMA_VALIDATION_FAILED", message, location, SHAPE_HINT
            )
            for location, message in shape
        ]
    ctx = Context(doc, machine_type)
    found = [
        Diagnostic(file, r.severity, r.code, message, location, r.hint)
        for r in RULES
        for location, message in r.func(ctx)
    ]
    return sorted(found, key=lambda d: (d.severity != ERROR, d.location, d.code))
