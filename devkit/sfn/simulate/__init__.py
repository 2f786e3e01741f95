"""`devkit sfn simulate`: run a definition offline on a virtual clock.

The interpreter is a pure function of (definition, input, task outcomes, seed):
nothing sleeps, nothing is called but the task functions, so a 25-minute
give-up run of the gatekeeper takes milliseconds and the same seed gives the
same history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devkit.sfn.asl import all_states, shape_errors
from devkit.sfn.simulate.distributed import World
from devkit.sfn.simulate.history import HISTORY_CAP
from devkit.sfn.simulate.interpreter import Execution, Interpreter, SimulationError
from devkit.sfn.simulate.outcomes import TaskFunc

__all__ = ["Execution", "SimulationError", "World", "simulate", "task_states"]


def task_states(doc: dict[str, Any]) -> list[str]:
    """Names of every Task state, nested ones included."""
    return [name for _, name, s in all_states(doc) if s.get("Type") == "Task"]


def simulate(
    doc: dict[str, Any],
    tasks: Mapping[str, TaskFunc],
    execution_input: Any = None,
    *,
    seed: int = 0,
    cap: int = HISTORY_CAP,
    world: World | None = None,
) -> Execution:
    """Run one execution; every Task state needs an entry in `tasks`.

    `world` gives a Distributed Map its S3 (ItemReader, ResultWriter).
    """
    shape = shape_errors(doc)
    if shape:
        location, message = shape[0]
        raise SimulationError(f"{location}: {message} (run `devkit sfn check`)")
    missing = [n for n in task_states(doc) if n not in tasks]
    if missing:
        raise SimulationError(
            f"task state {missing[0]!r} has no outcome: pass "
            f"--task '{missing[0]}=...' or define it in --tasks"
        )
    unknown = [n for n in tasks if n not in task_states(doc)]
    if unknown:
        raise SimulationError(
            f"--task {unknown[0]!r}: the machine has no Task state of that name"
        )
    return Interpreter(doc, tasks, seed=seed, cap=cap, world=world).run(
        {} if execution_input is None else execution_input
    )
