"""Worst-case cost of each loop: polls, delays, wall time, transitions, events, dollars.

Two shapes of loop are priced exactly:

- a *retry loop*: a Task whose retrier polls on a custom error;
- a *catch loop*: a cycle closed by a Catch (the gatekeeper recipe). When a
  state on the cycle writes a constant (a Pass `Result`, an `Assign`), the loop
  is taken to be bounded by that flag: one full round of retries, then one
  last call. Without one, every round looks the same and the loop can only
  end when the task succeeds, so its worst case is the history cap.

A cycle that goes through a Choice is data-dependent: its cost is priced per
iteration, with the number of iterations that reach the 25,000-event cap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from devkit.sfn.asl import (
    LAMBDA_TRANSIENT,
    Machine,
    Retrier,
    error_matches,
    machines,
    transitions_of,
)

HISTORY_CAP = 25_000
EXPRESS_MAX_SECONDS = 300
USD_PER_TRANSITION = 0.025 / 1000  # Standard workflows


@dataclass
class Budget:
    """The worst case of one loop, per execution."""

    kind: str  # "retry", "catch-force", "catch-unbounded", "choice"
    location: str
    states: list[str]
    polls: int  # task calls in the worst case (per iteration for "choice")
    delay_first: float  # seconds before the first re-check
    delay_min: float  # total delay with the luckiest jitter
    delay_expected: float
    delay_max: float  # = worst-case wall time spent waiting
    transitions: int
    events: int
    usd: float
    iterations_to_cap: int | None = None  # "choice" and unbounded loops
    notes: list[str] = field(default_factory=list)
    # The whole execution that runs this loop's worst case (shortest way in and out).
    execution_transitions: int = 0
    execution_events: int = 0

    def to_json(self) -> dict[str, Any]:
        """The budget as one JSON object."""
        return asdict(self)


def events_per_attempt(state: dict[str, Any]) -> int:
    """History events per call of a Task: Scheduled, Started, Succeeded/Failed."""
    resource = str(state.get("Resource", ""))
    return 4 if resource.endswith(".sync") or ".sync:" in resource else 3


def budgets(doc: dict[str, Any]) -> list[Budget]:
    """One budget per loop in every machine of the definition (none if malformed)."""
    from devkit.sfn.asl import shape_errors

    if shape_errors(doc):
        return []
    found: list[Budget] = []
    for machine in machines(doc):
        in_cycle: set[str] = set()
        for scc in cycles(machine):
            in_cycle.update(scc)
            found.append(_cycle_budget(machine, scc))
        for name, state in machine.states.items():
            if name in in_cycle or not isinstance(state, dict):
                continue
            retrier = _poll_retrier(state, None)
            if retrier is not None and retrier.max_attempts > 0:
                found.append(_retry_budget(machine, name, state, retrier))
    for budget in found:
        transitions, events = execution_totals(doc, budget)
        budget.execution_transitions = transitions
        budget.execution_events = events
        if budget.kind not in ("choice", "catch-unbounded"):
            budget.usd = transitions * USD_PER_TRANSITION
    return found


def cycles(machine: Machine) -> Iterator[list[str]]:
    """Strongly connected components that contain a cycle (Tarjan's, iterative)."""
    graph = {
        n: [t for t in transitions_of(s) if t in machine.states]
        for n, s in machine.states.items()
        if isinstance(s, dict)
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = graph.get(node, [])
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                scc: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    scc.append(w)
                    if w == node:
                        break
                if len(scc) > 1 or node in graph.get(node, []):
                    yield sorted(scc, key=list(graph).index)


def exits(machine: Machine, scc: list[str]) -> list[str]:
    """States of the loop that can leave it (an edge out, an End, a terminal)."""
    out: list[str] = []
    for name in scc:
        state = machine.states[name]
        leaves = [t for t in transitions_of(state) if t not in scc]
        if (
            leaves
            or state.get("End") is True
            or state.get("Type") in ("Succeed", "Fail")
        ):
            out.append(name)
    return out


def _poll_retrier(state: dict[str, Any], caught: list[str] | None) -> Retrier | None:
    """The retrier that polls: the first on an error that is not a transient one."""
    if state.get("Type") != "Task":
        return None
    for raw in state.get("Retry") or []:
        if not isinstance(raw, dict):
            continue
        retrier = Retrier.of(raw)
        custom = [
            e
            for e in retrier.errors
            if e not in LAMBDA_TRANSIENT and not e.startswith("States.")
        ]
        if caught is None and custom:
            return retrier
        if caught is not None and any(error_matches(caught, e) for e in custom):
            return retrier
    return None


def _delays(retrier: Retrier | None) -> tuple[float, float, float, float]:
    """(first, min, expected, max) total delay of one full round of retries."""
    if retrier is None or retrier.max_attempts == 0:
        return (0.0, 0.0, 0.0, 0.0)
    first = retrier.delay(0)
    total = retrier.total_delay(retrier.max_attempts)
    if retrier.jitter:  # FULL: each delay uniform in [0, computed]
        return (first, 0.0, total / 2, total)
    return (first, total, total, total)


def _retry_budget(
    machine: Machine, name: str, state: dict[str, Any], retrier: Retrier
) -> Budget:
    polls = retrier.max_attempts + 1
    first, dmin, dexp, dmax = _delays(retrier)
    transitions = 1 + retrier.max_attempts
    events = 2 + polls * events_per_attempt(state)
    return Budget(
        "retry",
        machine.state_location(name),
        [name],
        polls,
        first,
        dmin,
        dexp,
        dmax,
        transitions,
        events,
        transitions * USD_PER_TRANSITION,
    )


def _cycle_budget(machine: Machine, scc: list[str]) -> Budget:
    states = machine.states
    location = machine.state_location(scc[0])
    closing = _closing_catch(machine, scc)
    if closing is None:
        return _choice_budget(machine, scc, location)
    task_name, caught = closing
    task = states[task_name]
    retrier = _poll_retrier(task, caught)
    round_polls = (retrier.max_attempts if retrier else 0) + 1
    first, dmin, dexp, dmax = _delays(retrier)
    per_attempt = events_per_attempt(task)
    others = [n for n in scc if n != task_name]
    waits = sum(_wait_seconds(states[n]) or 0 for n in others)
    # One round: enter, every attempt, exit; then each other state on the cycle.
    round_transitions = 1 + (round_polls - 1) + len(others)
    round_events = 2 + round_polls * per_attempt + 2 * len(others)
    if _sets_flag(machine, scc, task):
        # The round, then one forced call that returns at once.
        transitions = round_transitions + 1
        events = round_events + 2 + per_attempt
        return Budget(
            "catch-force",
            location,
            scc,
            round_polls + 1,
            first,
            dmin,
            dexp + waits,
            dmax + waits,
            transitions,
            events,
            transitions * USD_PER_TRANSITION,
        )
    rounds = max(1, HISTORY_CAP // max(round_events, 1))
    return Budget(
        "catch-unbounded",
        location,
        scc,
        round_polls,
        first,
        dmin,
        dexp + waits,
        dmax + waits,
        round_transitions,
        round_events,
        round_transitions * USD_PER_TRANSITION,
        iterations_to_cap=rounds,
        notes=["per round: nothing on the cycle changes the input"],
    )


def _choice_budget(machine: Machine, scc: list[str], location: str) -> Budget:
    states = machine.states
    polls = sum(1 for n in scc if states[n].get("Type") == "Task")
    wait_values = [_wait_seconds(states[n]) for n in scc]
    unknown = any(v is None for v in wait_values)
    wait = float(sum(v or 0 for v in wait_values))
    events = sum(
        2 + (events_per_attempt(states[n]) if states[n].get("Type") == "Task" else 0)
        for n in scc
    )
    notes = ["per iteration: the Choice decides how many"]
    if unknown:
        notes.append("a Wait takes its time from the input (SecondsPath/TimestampPath)")
    return Budget(
        "choice",
        location,
        scc,
        polls,
        wait,
        wait,
        wait,
        wait,
        len(scc),
        events,
        len(scc) * USD_PER_TRANSITION,
        iterations_to_cap=HISTORY_CAP // max(events, 1),
        notes=notes,
    )


def _closing_catch(machine: Machine, scc: list[str]) -> tuple[str, list[str]] | None:
    """The Task whose Catch edge stays on the cycle, when no Choice is on it."""
    if any(machine.states[n].get("Type") == "Choice" for n in scc):
        return None
    for name in scc:
        state = machine.states[name]
        for catcher in state.get("Catch") or []:
            if isinstance(catcher, dict) and catcher.get("Next") in scc:
                errors = catcher.get("ErrorEquals")
                return name, [e for e in errors or [] if isinstance(e, str)]
    return None


def _sets_flag(machine: Machine, scc: list[str], task: dict[str, Any]) -> bool:
    """Whether something on the cycle writes a constant the task can read."""
    for name in scc:
        state = machine.states[name]
        if state.get("Assign"):
            return True
        if (
            state.get("Type") == "Pass"
            and "Result" in state
            and state.get("ResultPath")
        ):
            return True
        if state.get("Type") == "Pass" and isinstance(state.get("Output"), dict):
            return True
    for catcher in task.get("Catch") or []:
        if (
            isinstance(catcher, dict)
            and catcher.get("Next") in scc
            and catcher.get("Assign")
        ):
            return True
    return False


def _wait_seconds(state: dict[str, Any]) -> float | None:
    """A Wait state's fixed seconds; None when it comes from the input."""
    if state.get("Type") != "Wait":
        return 0.0
    seconds = state.get("Seconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return float(seconds)
    return None


def execution_totals(doc: dict[str, Any], budget: Budget) -> tuple[int, int]:
    """(transitions, events) of an execution that runs this loop's worst case.

    Adds the states on the shortest path from StartAt to the loop and from the
    loop to an end, plus ExecutionStarted and the final execution event.
    """
    top = next(machines(doc))
    if not budget.location.startswith("/States/") or budget.location.count("/") != 2:
        return budget.transitions, budget.events + 2
    before = _distance(top, top.start_at, lambda n: n in budget.states)
    after = min(
        (
            1 + _distance(top, t, lambda n: _ends(top, n))
            for t in _leaving(top, budget.states)
        ),
        default=0,
    )
    extra = before + after
    return budget.transitions + extra, budget.events + 2 * extra + 2


def _leaving(machine: Machine, scc: list[str]) -> list[str]:
    return [t for n in scc for t in transitions_of(machine.states[n]) if t not in scc]


def _distance(machine: Machine, start: str, goal: Callable[[str], bool]) -> int:
    """States stepped through (breadth first) from `start` to the first goal."""
    seen, frontier, steps = {start}, [start], 0
    while frontier:
        if any(goal(n) for n in frontier):
            return steps
        nxt = []
        for n in frontier:
            for t in transitions_of(machine.states.get(n, {})):
                if t not in seen and t in machine.states:
                    seen.add(t)
                    nxt.append(t)
        frontier, steps = nxt, steps + 1
    return 0


def _ends(machine: Machine, name: str) -> bool:
    state = machine.states.get(name, {})
    return state.get("End") is True or state.get("Type") in ("Succeed", "Fail")
