"""Rules on loops: termination, the 25,000-event cap, the Express 5-minute limit."""

from __future__ import annotations

from collections.abc import Iterator

from devkit.sfn.asl import machines
from devkit.sfn.budget import EXPRESS_MAX_SECONDS, HISTORY_CAP, budgets, cycles, exits
from devkit.sfn.check import ERROR, Context, rule


@rule(
    "UNBOUNDED_LOOP",
    ERROR,
    "give the loop a way out: a Choice, an End, or a Catch that leaves it",
)
def unbounded_loop(ctx: Context) -> Iterator[tuple[str, str]]:
    """A cycle with no transition out of it: it can only end at the history cap."""
    for machine in machines(ctx.doc):
        for scc in cycles(machine):
            if not exits(machine, scc):
                yield (
                    machine.state_location(scc[0]),
                    f"loop {' -> '.join(scc)} has no way out; it runs until "
                    f"the {HISTORY_CAP:,}-event history cap fails it",
                )


@rule(
    "HISTORY_CAP",
    ERROR,
    "bound the loop (a force flag, a counter), or continue as a new execution",
)
def history_cap(ctx: Context) -> Iterator[tuple[str, str]]:
    """A loop whose worst case reaches the 25,000-event history cap."""
    for b in budgets(ctx.doc):
        if b.kind == "catch-unbounded":
            yield (
                b.location,
                f"loop {' -> '.join(b.states)} repeats the same round "
                f"({b.events} events) while the task fails; nothing on it changes "
                f"the input, so it ends only at the history cap "
                f"(after ~{b.iterations_to_cap} rounds)",
            )
        elif b.kind != "choice" and b.execution_events >= HISTORY_CAP:
            yield (
                b.location,
                f"loop {' -> '.join(b.states)} needs {b.execution_events:,} history "
                "events in the worst case; Standard executions fail at "
                f"{HISTORY_CAP:,}",
            )


@rule("EXPRESS_TOO_LONG", ERROR, "use a STANDARD machine, or shorten the waits")
def express_too_long(ctx: Context) -> Iterator[tuple[str, str]]:
    """An Express machine whose worst case outlives its 5-minute limit."""
    if ctx.machine_type != "EXPRESS":
        return
    for b in budgets(ctx.doc):
        if b.kind in ("retry", "catch-force") and b.delay_max > EXPRESS_MAX_SECONDS:
            yield (
                b.location,
                f"loop {' -> '.join(b.states)} waits up to {b.delay_max:,.0f} s; "
                f"Express executions stop at {EXPRESS_MAX_SECONDS} s",
            )
    for machine in machines(ctx.doc):
        for name, state in machine.states.items():
            if not isinstance(state, dict):
                continue
            seconds = state.get("Seconds") if state.get("Type") == "Wait" else None
            if isinstance(seconds, int | float) and seconds > EXPRESS_MAX_SECONDS:
                yield (
                    machine.state_location(name, "Seconds"),
                    f"Wait {name!r} of {seconds:,} s outlives the Express "
                    "5-minute limit",
                )


@rule(
    "EXPRESS_INTEGRATION",
    ERROR,
    "Express machines support Request Response only: drop .sync/.waitForTaskToken",
)
def express_integration(ctx: Context) -> Iterator[tuple[str, str]]:
    """AWS rejects .sync and .waitForTaskToken tasks in Express machines."""
    if ctx.machine_type != "EXPRESS":
        return
    for machine in machines(ctx.doc):
        for name, state in machine.states.items():
            resource = str(state.get("Resource", "")) if isinstance(state, dict) else ""
            if ".sync" in resource or ".waitForTaskToken" in resource:
                yield (
                    machine.state_location(name, "Resource"),
                    f"{name!r} uses {resource.rsplit('.', 1)[-1]}, "
                    "which Express does not support",
                )


@rule(
    "MACHINE_TIMEOUT_TOO_SHORT",
    ERROR,
    "raise the machine's TimeoutSeconds above the loop's worst-case wait",
)
def machine_timeout(ctx: Context) -> Iterator[tuple[str, str]]:
    """A machine TimeoutSeconds that ends the execution before its loop can finish."""
    timeout = ctx.doc.get("TimeoutSeconds")
    if not isinstance(timeout, int | float) or isinstance(timeout, bool):
        return
    for b in budgets(ctx.doc):
        if b.kind in ("retry", "catch-force") and b.delay_max >= timeout:
            yield (
                "/TimeoutSeconds",
                f"TimeoutSeconds {timeout:,} s ends the execution before loop "
                f"{' -> '.join(b.states)} is done waiting ({b.delay_max:,.0f} s)",
            )
