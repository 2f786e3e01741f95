"""The interpreter: a pure function of (definition, input, tasks, seed), virtual clock.

Nothing sleeps: a Wait or a retry delay moves the clock forward. Tasks take no
virtual time. Parallel branches and Map iterations run one after another, each
from the time the state started; the state ends when the slowest one does.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devkit.errors import ConfigError
from devkit.sfn.asl import UNCATCHABLE, Machine, Retrier, error_matches, is_lambda
from devkit.sfn.budget import USD_PER_TRANSITION
from devkit.sfn.simulate.choice import (
    ChoiceRuleError,
    evaluate_rule,
    parse_timestamp,
)
from devkit.sfn.simulate.history import (
    CAP_CAUSE,
    HISTORY_CAP,
    START,
    Event,
    History,
    HistoryCapReached,
)
from devkit.sfn.simulate.jsonata_io import JsonataError, evaluate_template
from devkit.sfn.simulate.jsonpath import (
    IntrinsicError,
    PathError,
    Scope,
    clone,
    set_result,
)
from devkit.sfn.simulate.outcomes import LambdaContext, TaskFailed, TaskFunc

if TYPE_CHECKING:
    from devkit.sfn.simulate.distributed import MapRun, World

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:simulated:run"
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:simulated"


class SimulationError(ConfigError):
    """A definition the simulator cannot run; the message names the state and why."""


class Failure(Exception):
    """A state failed with an AWS error name; Retry and Catch may handle it."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.cause = cause


class _TimedOut(Exception):
    """The machine's TimeoutSeconds passed on the virtual clock."""


@dataclass
class Execution:
    """The result of one simulated execution, in DescribeExecution's words."""

    status: str  # SUCCEEDED, FAILED, TIMED_OUT
    output: Any
    error: str | None
    cause: str | None
    history: list[Event]
    elapsed_seconds: float
    transitions: int
    # Wall seconds of each Lambda call (the only real time a simulation measures)
    lambda_seconds: list[float] = field(default_factory=list)
    map_runs: list[MapRun] = field(default_factory=list)  # Distributed Maps run

    @property
    def cost_usd(self) -> float:
        """Standard-workflow price of the transitions."""
        return self.transitions * USD_PER_TRANSITION

    def to_json(self) -> dict[str, Any]:
        """The execution as one JSON object."""
        return {
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "history": [e.to_json() for e in self.history],
            "elapsed_seconds": self.elapsed_seconds,
            "transitions": self.transitions,
            "cost_usd": self.cost_usd,
            **(
                {"map_runs": [m.to_json() for m in self.map_runs]}
                if self.map_runs
                else {}
            ),
        }


@dataclass
class _Step:
    """Where a state sends the execution next (None: the machine ends)."""

    next: str | None
    output: Any


class Interpreter:
    """Runs one execution; create one per run."""

    def __init__(
        self,
        doc: dict[str, Any],
        tasks: Mapping[str, TaskFunc],
        *,
        seed: int = 0,
        cap: int = HISTORY_CAP,
        world: World | None = None,
        execution_arn: str = EXECUTION_ARN,
    ) -> None:
        self.doc = doc
        self.tasks = tasks
        self.seed = seed
        self.world = world  # what a Distributed Map reads and writes (S3)
        self.execution_arn = execution_arn
        self.lambda_seconds: list[float] = []
        self.map_runs: list[MapRun] = []
        self.rng = random.Random(seed)
        self.history = History(cap)
        self.clock = 0.0
        self.transitions = 0
        timeout = doc.get("TimeoutSeconds")
        self.deadline = float(timeout) if isinstance(timeout, int | float) else None
        self.execution_input: Any = None
        self._execution_context: dict[str, Any] | None = None

    # --- the execution -----------------------------------------------------------

    def run(self, execution_input: Any) -> Execution:
        """Run from StartAt to the end, a failure, the timeout or the history cap."""
        self.execution_input = execution_input
        self._event("ExecutionStarted", input=execution_input)
        top = Machine(self.doc, "", str(self.doc.get("QueryLanguage", "JSONPath")))
        status, output, error, cause = "SUCCEEDED", None, None, None
        try:
            output = self._run_machine(top, execution_input, {}, None)
            self._event("ExecutionSucceeded", output=output)
        except Failure as f:
            status, error, cause = "FAILED", f.error, f.cause
            self._event("ExecutionFailed", error=f.error, cause=f.cause)
        except HistoryCapReached:
            status, error, cause = "FAILED", "States.Runtime", CAP_CAUSE
            self._event("ExecutionFailed", error=error, cause=cause)
        except _TimedOut:
            status, error, cause = "TIMED_OUT", "States.Timeout", ""
            self._event("ExecutionTimedOut", error=error, cause=cause)
        return Execution(
            status,
            output,
            error,
            cause,
            self.history.events,
            self.clock,
            self.transitions,
            self.lambda_seconds,
            self.map_runs,
        )

    def _event(self, kind: str, **details: Any) -> None:
        self.history.add(kind, self.clock, **details)

    def _advance(self, seconds: float) -> None:
        if self.deadline is not None and self.clock + seconds > self.deadline:
            self.clock = self.deadline
            raise _TimedOut
        self.clock += seconds

    def _context(self, name: str, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        # Execution and StateMachine are the same for every state: built once
        # (tasks get the context to read, as AWS's Lambda gets a copy).
        if self._execution_context is None:
            self._execution_context = {
                "Id": self.execution_arn,
                "Input": clone(self.execution_input),
                "Name": self.execution_arn.rsplit(":", 1)[-1],
                "StartTime": _iso(0.0),
                "RoleArn": "arn:aws:iam::123456789012:role/simulated",
                "RedriveCount": 0,
            }
        context: dict[str, Any] = {
            "Execution": self._execution_context,
            "StateMachine": {"Id": MACHINE_ARN, "Name": "simulated"},
            "State": {"Name": name, "EnteredTime": _iso(self.clock), "RetryCount": 0},
        }
        if extra:
            context.update(clone(dict(extra)))
        return context

    def _run_machine(
        self,
        machine: Machine,
        data: Any,
        variables: dict[str, Any],
        extra_context: Mapping[str, Any] | None,
    ) -> Any:
        name = machine.start_at
        while True:
            state = machine.states.get(name)
            if not isinstance(state, dict):
                raise SimulationError(
                    f"no state named {name!r} (run `devkit sfn check`)"
                )
            self.transitions += 1
            run = _RUNNERS.get(str(state.get("Type")))
            if run is None:
                raise SimulationError(
                    f"state {name!r}: unknown Type {state.get('Type')!r}"
                )
            lang = machine.language_of(state)
            ctx = self._context(name, extra_context)
            st = _State(self, machine, name, state, lang, ctx, variables)
            step = run(st, data)
            if step.next is None:
                return step.output
            name, data = step.next, step.output


@dataclass
class _State:
    """One state being run: its definition, context object and variables."""

    interp: Interpreter
    machine: Machine
    name: str
    body: dict[str, Any]
    lang: str
    context: dict[str, Any]
    variables: dict[str, Any]

    @property
    def jsonata(self) -> bool:
        return self.lang == "JSONata"

    @property
    def type(self) -> str:
        return str(self.body["Type"])

    def scope(self, data: Any) -> Scope:
        return Scope(data, self.context, self.variables, self.interp.rng)

    def event(self, kind: str, **details: Any) -> None:
        self.interp._event(kind, **details)

    def task_context(self) -> dict[str, Any]:
        """A copy of the context object for a task call: the parts that change."""
        context = dict(self.context)
        context["State"] = dict(self.context["State"])
        return context

    def entered(self, data: Any) -> None:
        self.event(f"{self.type}StateEntered", name=self.name, input=data)

    def exited(self, output: Any) -> None:
        self.event(f"{self.type}StateExited", name=self.name, output=output)

    def finish(self, output: Any) -> _Step:
        """Exit the state and go to Next, or end the machine."""
        self.exited(output)
        if self.body.get("End") is True:
            return _Step(None, output)
        return _Step(str(self.body.get("Next")), output)

    # --- JSONPath I/O ------------------------------------------------------------

    def path(self, field: str, data: Any) -> Any:
        """InputPath/OutputPath: `$` by default, null gives {}."""
        if field not in self.body:
            return data
        path = self.body[field]
        return {} if path is None else self.guard(lambda: self.scope(data).get(path))

    def guard(self, func: Callable[[], Any]) -> Any:
        """Turn path and intrinsic errors into the AWS errors they raise."""
        try:
            return func()
        except PathError as exc:
            raise Failure("States.Runtime", str(exc)) from None
        except IntrinsicError as exc:
            raise Failure("States.IntrinsicFailure", str(exc)) from None
        except JsonataError as exc:
            raise Failure("States.QueryEvaluationError", str(exc)) from None

    def template(self, field: str, data: Any, default: Any) -> Any:
        if field not in self.body:
            return default
        return self.guard(lambda: self.scope(data).resolve(self.body[field]))

    def result_path(self, raw: Any, result: Any) -> Any:
        path = self.body.get("ResultPath", "$")
        return self.guard(lambda: set_result(raw, path, result))

    # --- JSONata I/O -------------------------------------------------------------

    def states_binding(self, data: Any, **more: Any) -> dict[str, Any]:
        return {"input": data, "context": self.context, **more}

    def jsonata_eval(self, value: Any, states: dict[str, Any]) -> Any:
        return self.guard(lambda: evaluate_template(value, states, self.variables))

    def assign(self, spec: Any, states: dict[str, Any] | None, data: Any) -> None:
        """Evaluate Assign against the values before the state, then store them."""
        if not isinstance(spec, dict):
            return
        if self.jsonata:
            values = self.jsonata_eval(spec, states or {})
        else:
            values = self.guard(lambda: self.scope(data).resolve(spec))
        self.variables.update(values)

    def jsonata_out(
        self, holder: dict[str, Any], states: dict[str, Any], default: Any
    ) -> Any:
        """Output, then Assign: both see the variables as they were before the state."""
        out = (
            self.jsonata_eval(holder["Output"], states)
            if "Output" in holder
            else default
        )
        self.assign(holder.get("Assign"), states, None)
        return out

    # --- JSONPath/JSONata around a result -------------------------------------------

    def effective_input(self, data: Any) -> Any:
        """What the work of the state sees: Parameters/Arguments applied to input."""
        if self.jsonata:
            if "Arguments" in self.body:
                return self.jsonata_eval(
                    self.body["Arguments"], self.states_binding(data)
                )
            return data
        effective = self.path("InputPath", data)
        field = (
            "ItemSelector"
            if self.type == "Map" and "ItemSelector" in self.body
            else ("Parameters")
        )
        if self.type == "Map":
            return effective  # the selector applies per item
        return self.template(field, effective, effective)

    def output_of(self, data: Any, result: Any) -> Any:
        """From the work's result to the state output (ResultSelector .. OutputPath)."""
        if self.jsonata:
            states = self.states_binding(data, result=result)
            return self.jsonata_out(self.body, states, result)
        selected = self.template("ResultSelector", result, result)
        self.assign(self.body.get("Assign"), None, selected)
        merged = self.result_path(data, selected)
        return self.path("OutputPath", merged)

    # --- Retry and Catch -----------------------------------------------------------

    def with_error_handling(self, data: Any, attempt: Callable[[], Any]) -> _Step:
        """Run `attempt` under the state's retriers and catchers."""
        retriers = [Retrier.of(r) for r in self.body.get("Retry") or []]
        counts = [0] * len(retriers)
        while True:
            try:
                return self.finish(self.output_of(data, attempt()))
            except Failure as failure:
                if failure.error in UNCATCHABLE:
                    raise
                index = next(
                    (i for i, r in enumerate(retriers) if r.matches(failure.error)),
                    None,
                )
                if index is not None and counts[index] < retriers[index].max_attempts:
                    self.retry_wait(retriers[index], counts[index])
                    counts[index] += 1
                    continue
                return self.catch(data, failure)

    def retry_wait(self, retrier: Retrier, count: int) -> None:
        delay = retrier.delay(count)
        if retrier.jitter:
            delay = self.interp.rng.uniform(0, delay)
        self.context["State"]["RetryCount"] += 1
        self.interp.transitions += 1  # AWS bills each retry as a transition
        self.interp._advance(delay)

    def catch(self, data: Any, failure: Failure) -> _Step:
        error_output = {"Error": failure.error, "Cause": failure.cause}
        for catcher in self.body.get("Catch") or []:
            if not error_matches(list(catcher.get("ErrorEquals") or []), failure.error):
                continue
            if self.jsonata:
                states = self.states_binding(data, errorOutput=error_output)
                output = self.jsonata_out(catcher, states, error_output)
            else:
                self.assign(catcher.get("Assign"), None, error_output)
                path = catcher.get("ResultPath", "$")
                output = self.guard(
                    functools.partial(set_result, data, path, error_output)
                )
            self.exited(output)
            return _Step(str(catcher["Next"]), output)
        raise failure


# --- state types ---------------------------------------------------------------------


def _pass(st: _State, data: Any) -> _Step:
    st.entered(data)
    if st.jsonata:
        return st.finish(st.jsonata_out(st.body, st.states_binding(data), data))
    effective = st.effective_input(data)
    result = clone(st.body["Result"]) if "Result" in st.body else effective
    return st.finish(st.output_of(data, result))


def _task(st: _State, data: Any) -> _Step:
    st.entered(data)
    resource = str(st.body.get("Resource", ""))
    invoke = resource.startswith("arn:aws:states:::lambda:invoke")
    lambda_task = is_lambda(resource)
    kind = "LambdaFunction" if lambda_task and not invoke else "Task"
    func = st.interp.tasks[st.name]
    seconds = st.body.get("TimeoutSeconds")
    # What a Lambda function is given to run in: the Task's timeout, else Lambda's most
    timeout = float(seconds) if isinstance(seconds, int | float) else 900.0

    def attempt() -> Any:
        effective = st.effective_input(data)
        payload = (
            effective.get("Payload", effective)
            if invoke and isinstance(effective, dict)
            else effective
        )
        st.event(f"{kind}Scheduled", resource=resource, input=effective)
        st.event(f"{kind}Started")
        started = time.perf_counter()
        try:
            value = func(clone(payload), LambdaContext(st.task_context(), timeout))
        except TaskFailed as exc:
            timed_out = exc.error == "States.Timeout"
            what = "TimedOut" if timed_out else "Failed"
            st.event(f"{kind}{what}", error=exc.error, cause=exc.cause)
            raise Failure(exc.error, exc.cause) from None
        finally:
            if lambda_task:
                st.interp.lambda_seconds.append(time.perf_counter() - started)
        if invoke:
            value = {"ExecutedVersion": "$LATEST", "Payload": value, "StatusCode": 200}
        st.event(f"{kind}Succeeded", output=value)
        return value

    return st.with_error_handling(data, attempt)


def _choice(st: _State, data: Any) -> _Step:
    st.entered(data)
    if st.jsonata:
        states = st.states_binding(data)
        for rule in st.body.get("Choices") or []:
            if st.jsonata_eval(rule.get("Condition"), states) is True:
                out = st.jsonata_out(rule, states, data)
                st.exited(out)
                return _Step(str(rule["Next"]), out)
        target = st.body.get("Default")
        out = st.jsonata_out(st.body, states, data)
    else:
        effective = st.path("InputPath", data)
        scope = st.scope(effective)
        for rule in st.body.get("Choices") or []:
            if st.guard(functools.partial(_holds, st, rule, scope)):
                st.assign(rule.get("Assign"), None, effective)
                out = st.path("OutputPath", effective)
                st.exited(out)
                return _Step(str(rule["Next"]), out)
        target = st.body.get("Default")
        st.assign(st.body.get("Assign"), None, effective)
        out = st.path("OutputPath", effective)
    if target is None:
        raise Failure(
            "States.NoChoiceMatched", f"No Choice Rule matched in {st.name!r}"
        )
    st.exited(out)
    return _Step(str(target), out)


def _holds(st: _State, rule: dict[str, Any], scope: Scope) -> bool:
    try:
        return evaluate_rule(rule, scope)
    except ChoiceRuleError as exc:
        raise SimulationError(f"state {st.name!r}: {exc}") from None


def _wait(st: _State, data: Any) -> _Step:
    st.entered(data)
    body = st.body
    effective = data if st.jsonata else st.path("InputPath", data)
    states = st.states_binding(data)
    if "Seconds" in body:
        seconds = (
            st.jsonata_eval(body["Seconds"], states) if st.jsonata else body["Seconds"]
        )
        delay = _seconds(st, seconds)
    elif "SecondsPath" in body:
        delay = _seconds(
            st, st.guard(lambda: st.scope(effective).get(body["SecondsPath"]))
        )
    else:
        stamp = body.get("Timestamp")
        if "TimestampPath" in body:
            stamp = st.guard(lambda: st.scope(effective).get(body["TimestampPath"]))
        elif st.jsonata:
            stamp = st.jsonata_eval(stamp, states)
        when = parse_timestamp(stamp)
        if when is None:
            raise Failure(
                "States.Runtime", f"Wait {st.name!r}: {stamp!r} is not a timestamp"
            )
        delay = max(0.0, (when - START).total_seconds() - st.interp.clock)
    st.interp._advance(delay)
    if st.jsonata:
        out = st.jsonata_out(body, states, data)
    else:
        st.assign(body.get("Assign"), None, effective)
        out = st.path("OutputPath", effective)
    return st.finish(out)


def _seconds(st: _State, value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise Failure(
            "States.Runtime", f"Wait {st.name!r}: {value!r} is not a number of seconds"
        )
    return float(value)


def _succeed(st: _State, data: Any) -> _Step:
    st.entered(data)
    if st.jsonata:
        states = st.states_binding(data)
        out = (
            st.jsonata_eval(st.body["Output"], states) if "Output" in st.body else data
        )
    else:
        out = st.path("OutputPath", st.path("InputPath", data))
    st.exited(out)
    return _Step(None, out)


def _fail(st: _State, data: Any) -> _Step:
    st.entered(data)
    body = st.body
    if st.jsonata:
        states = st.states_binding(data)
        error = st.jsonata_eval(body.get("Error"), states)
        cause = st.jsonata_eval(body.get("Cause"), states)
    else:
        scope = st.scope(data)
        error = (
            st.guard(lambda: scope.evaluate(body["ErrorPath"]))
            if ("ErrorPath" in body)
            else body.get("Error")
        )
        cause = (
            st.guard(lambda: scope.evaluate(body["CausePath"]))
            if ("CausePath" in body)
            else body.get("Cause")
        )
    raise Failure(str(error or ""), str(cause or ""))


def _parallel(st: _State, data: Any) -> _Step:
    st.entered(data)
    branches = st.body.get("Branches") or []

    def attempt() -> Any:
        effective = st.effective_input(data)
        st.event("ParallelStateStarted")
        outputs = _concurrently(
            st,
            [
                (
                    Machine(
                        b, f"{st.machine.state_location(st.name)}/Branches/{i}", st.lang
                    ),
                    effective,
                    None,
                )
                for i, b in enumerate(branches)
            ],
            failed="ParallelStateFailed",
        )
        st.event("ParallelStateSucceeded")
        return outputs

    return st.with_error_handling(data, attempt)


def _map(st: _State, data: Any) -> _Step:
    st.entered(data)
    body = st.body
    inner = body.get("ItemProcessor") or body.get("Iterator")
    config = inner.get("ProcessorConfig") if isinstance(inner, dict) else None
    mode = config.get("Mode") if isinstance(config, dict) else None
    if not isinstance(inner, dict):
        raise SimulationError(f"state {st.name!r}: Map without an ItemProcessor")
    if mode == "DISTRIBUTED" or "ItemReader" in body:
        from devkit.sfn.simulate.distributed import run_distributed

        return st.with_error_handling(data, lambda: run_distributed(st, data, inner))

    def attempt() -> Any:
        effective = st.effective_input(data)
        items = map_items(st, effective)
        st.event("MapStateStarted", length=len(items))
        runs: list[tuple[Machine, Any, dict[str, Any] | None]] = []
        for index, item in enumerate(items):
            extra = {"Map": {"Item": {"Index": index, "Value": item}}}
            value = select_item(st, effective, index, item)
            machine = Machine(
                inner, f"{st.machine.state_location(st.name)}/ItemProcessor", st.lang
            )
            runs.append((machine, value, extra))
        outputs = _concurrently(st, runs, failed="MapStateFailed", iteration=True)
        st.event("MapStateSucceeded")
        return outputs

    return st.with_error_handling(data, attempt)


def map_items(st: _State, effective: Any) -> list[Any]:
    """The items of a Map from its input: ItemsPath (JSONPath) or Items (JSONata)."""
    if st.jsonata:
        items = st.jsonata_eval(
            st.body.get("Items", "{% $states.input %}"), st.states_binding(effective)
        )
    else:
        items = st.guard(lambda: st.scope(effective).get(st.body.get("ItemsPath", "$")))
    if not isinstance(items, list):
        raise Failure("States.Runtime", f"Map {st.name!r}: the items are not an array")
    return items


def select_item(st: _State, effective: Any, index: int, item: Any) -> Any:
    """ItemSelector (or the older Parameters) applied to one item, as AWS does."""
    selector = st.body.get("ItemSelector", st.body.get("Parameters"))
    if selector is None:
        return item
    item_ctx = {**st.context, "Map": {"Item": {"Index": index, "Value": clone(item)}}}
    if st.jsonata:
        return st.jsonata_eval(
            selector, {**st.states_binding(effective), "context": item_ctx}
        )
    item_scope = Scope(effective, item_ctx, st.variables, st.interp.rng)
    return st.guard(functools.partial(item_scope.resolve, selector))


def _concurrently(
    st: _State,
    runs: list[tuple[Machine, Any, dict[str, Any] | None]],
    *,
    failed: str,
    iteration: bool = False,
) -> list[Any]:
    """Run branches or iterations from the same start time; end with the slowest."""
    interp = st.interp
    start, end, outputs = interp.clock, interp.clock, []
    for index, (machine, value, extra) in enumerate(runs):
        interp.clock = start
        if iteration:
            st.event("MapIterationStarted", index=index, name=st.name)
        try:
            outputs.append(
                interp._run_machine(machine, value, dict(st.variables), extra)
            )
        except Failure as f:
            if iteration:
                st.event("MapIterationFailed", index=index, name=st.name)
            st.event(failed, error=f.error, cause=f.cause)
            raise
        if iteration:
            st.event("MapIterationSucceeded", index=index, name=st.name)
        end = max(end, interp.clock)
    interp.clock = end
    return outputs


_RUNNERS: dict[str, Callable[[_State, Any], _Step]] = {
    "Pass": _pass,
    "Task": _task,
    "Choice": _choice,
    "Wait": _wait,
    "Succeed": _succeed,
    "Fail": _fail,
    "Parallel": _parallel,
    "Map": _map,
}


def _iso(seconds: float) -> str:
    return Event(0, "", seconds).timestamp
