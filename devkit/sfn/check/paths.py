"""Rules on JSONPath payload templates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from devkit.sfn.asl import machines
from devkit.sfn.check import WARNING, Context, rule

TEMPLATE_FIELDS = ("Parameters", "ResultSelector", "ItemSelector")


def looks_like_path(value: str) -> bool:
    """A value AWS would take for a path or an intrinsic if its key ended in .$."""
    return (
        value == "$"
        or value.startswith(("$.", "$[", "$$.", "$$"))
        or (value.startswith("States.") and value.endswith(")") and "(" in value)
    )


@rule("NO_DOLLAR", WARNING, 'end the key with ".$" so the value is read as a path')
def no_dollar(ctx: Context) -> Iterator[tuple[str, str]]:
    """A template string that looks like a path but is passed on as a literal."""
    for machine in machines(ctx.doc):
        for name, state in machine.states.items():
            if not isinstance(state, dict) or machine.language_of(state) == "JSONata":
                continue
            for field in TEMPLATE_FIELDS:
                if field in state:
                    base = machine.state_location(name, field)
                    yield from _walk(state[field], base, name)


def _walk(value: Any, where: str, state: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if (
                isinstance(inner, str)
                and not key.endswith(".$")
                and looks_like_path(inner)
            ):
                yield (
                    f"{where}/{key}",
                    f"in {state!r}, {key!r} is the literal string {inner!r}, "
                    "not a path",
                )
            else:
                yield from _walk(inner, f"{where}/{key}", state)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _walk(inner, f"{where}/{i}", state)
