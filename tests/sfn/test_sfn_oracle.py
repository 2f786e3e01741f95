"""The simulator against moto's Step Functions interpreter, on the same definitions.

Each case runs once through `devkit sfn simulate`'s interpreter and once
through moto (see testing/sfn_oracle.py for the patches that make it run
without sleeping), with the same task functions, and asserts the same event
types in the same order, the same status and the same output.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from devkit.sfn.simulate import simulate
from testing.sfn_oracle import run_in_moto

FIXTURES = Path(__file__).parent / "fixtures"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


class NotReadyError(Exception):
    pass


def gatekeeper(ready_on: int | None):
    """A gatekeeper Lambda: not ready until call `ready_on`; honours force."""
    calls = {"n": 0}

    def handler(event):
        calls["n"] += 1
        if event.get("force"):
            return {"summary": "partial", "calls": calls["n"]}
        if ready_on is None or calls["n"] < ready_on:
            raise NotReadyError(f"call {calls['n']}: not ready")
        return {"ready": True, "calls": calls["n"]}

    return handler


def both(definition, functions, execution_input, states_to_functions, seed=0):
    """Run in devkit and in moto; functions: name -> factory of a fresh handler."""
    ours = copy.deepcopy(definition)
    text = json.dumps(ours)
    for name in functions:
        text = text.replace("${" + name + "}", ARN.format(name))
    fresh = {name: factory() for name, factory in functions.items()}
    tasks = {
        state: (lambda data, context, f=fresh[fn]: _as_task(f, data))
        for state, fn in states_to_functions.items()
    }
    mine = simulate(json.loads(text), tasks, execution_input, seed=seed)
    theirs = run_in_moto(
        definition,
        {name: factory() for name, factory in functions.items()},
        execution_input,
    )
    return mine, theirs


def _as_task(handler, data):
    from devkit.sfn.simulate.outcomes import TaskFailed

    try:
        return handler(data)
    except Exception as exc:
        payload = {"errorMessage": str(exc), "errorType": type(exc).__name__}
        cause = json.dumps(payload, separators=(",", ":"))
        raise TaskFailed(type(exc).__name__, cause) from exc


def recipe():
    doc = json.loads((FIXTURES / "valid" / "recipe_fixed.asl.json").read_text())
    doc["States"]["GatekeeperState"]["Resource"] = "${gatekeeper}"
    return doc


def assert_same(mine, theirs):
    assert [e.type for e in mine.history] == theirs.event_types
    assert mine.status == theirs.status
    assert mine.output == theirs.output
    assert mine.error == theirs.error


@pytest.mark.timeout(120)
def test_recipe_ready_on_the_fifth_call():
    mine, theirs = both(
        recipe(),
        {"gatekeeper": lambda: gatekeeper(5)},
        {"prefix": "p/"},
        {"GatekeeperState": "gatekeeper"},
    )
    assert_same(mine, theirs)
    assert len(mine.history) == 21
    assert mine.elapsed_seconds == sum(theirs.waits) == 120


@pytest.mark.timeout(120)
def test_recipe_gives_up_through_force():
    mine, theirs = both(
        recipe(),
        {"gatekeeper": lambda: gatekeeper(None)},
        {"prefix": "p/"},
        {"GatekeeperState": "gatekeeper"},
    )
    assert_same(mine, theirs)
    assert len(mine.history) == 166
    assert mine.output["force"] is True and mine.output["prefix"] == "p/"
    assert mine.elapsed_seconds == sum(theirs.waits) == 1500
    assert mine.transitions == 54


@pytest.mark.timeout(120)
def test_catch_without_result_path_loses_the_input_in_both():
    doc = recipe()
    del doc["States"]["GatekeeperState"]["Catch"][0]["ResultPath"]
    doc["States"]["GatekeeperState"]["Retry"][0]["MaxAttempts"] = 2
    mine, theirs = both(
        doc,
        {"gatekeeper": lambda: gatekeeper(None)},
        {"prefix": "p/"},
        {"GatekeeperState": "gatekeeper"},
    )
    assert_same(mine, theirs)
    assert "prefix" not in mine.output  # replaced by {Error, Cause}, then force


@pytest.mark.timeout(120)
def test_jittered_capped_retrier():
    doc = recipe()
    doc["States"]["GatekeeperState"]["Retry"][0] = {
        "ErrorEquals": ["NotReadyError"],
        "IntervalSeconds": 5,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": 60,
        "MaxAttempts": 8,
        "JitterStrategy": "FULL",
    }
    mine, theirs = both(
        doc,
        {"gatekeeper": lambda: gatekeeper(None)},
        {},
        {"GatekeeperState": "gatekeeper"},
        seed=7,
    )
    assert_same(mine, theirs)
    caps = [min(5 * 2**k, 60) for k in range(8)]
    assert all(0 <= w <= c for w, c in zip(theirs.waits, caps, strict=True))
    gaps = _retry_gaps(mine)
    assert all(0 <= g <= c for g, c in zip(gaps, caps, strict=True)) and len(gaps) == 8
    assert sum(gaps) < sum(caps)  # jitter shortened them (seed 7)


def _retry_gaps(execution):
    starts = [
        e.seconds for e in execution.history if e.type == "LambdaFunctionScheduled"
    ]
    return [b - a for a, b in zip(starts, starts[1:9], strict=False)]


@pytest.mark.timeout(120)
def test_task_choice_wait_loop():
    doc = json.loads((FIXTURES / "valid" / "wait_loop.asl.json").read_text())
    check = doc["States"]["Check"]
    check["Resource"] = "${checker}"
    del check["Parameters"]
    check["ResultSelector"] = {
        "ready.$": "$.ready",
        "next_check_in.$": "$.next_check_in",
    }

    def checker():
        calls = {"n": 0}

        def handler(event):
            calls["n"] += 1
            return {"ready": calls["n"] >= 3, "next_check_in": 10 * calls["n"]}

        return handler

    mine, theirs = both(doc, {"checker": checker}, {"job": 1}, {"Check": "checker"})
    assert_same(mine, theirs)
    assert len(mine.history) == 1 + 2 * 9 + 9 + 1  # two full iterations, then done
    assert mine.elapsed_seconds == sum(theirs.waits) == 30


@pytest.mark.timeout(120)
def test_uncaught_failure_after_retries():
    doc = recipe()
    gk = doc["States"]["GatekeeperState"]
    del gk["Catch"]
    gk["Retry"][0]["MaxAttempts"] = 2
    mine, theirs = both(
        doc,
        {"gatekeeper": lambda: gatekeeper(None)},
        {},
        {"GatekeeperState": "gatekeeper"},
    )
    assert_same(mine, theirs)
    assert mine.status == "FAILED" and mine.error == "NotReadyError"


@pytest.mark.timeout(120)
def test_pass_paths_and_intrinsics():
    doc = {
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "InputPath": "$.job",
                "Parameters": {
                    "key.$": "States.Format('{}/{}.json', $.prefix, $.id)",
                    "ids.$": "States.Array($.id, 2, 3)",
                    "n.$": "States.ArrayLength($.items)",
                    "parts.$": "States.StringSplit($.csv, ',')",
                    "sum.$": "States.MathAdd($.id, 10)",
                    "raw": "$.literal",
                },
                "ResultPath": "$.shaped",
                "Next": "Pick",
            },
            "Pick": {
                "Type": "Pass",
                "Result": {"fixed": True},
                "ResultSelector": {"fixed.$": "$.fixed", "entered.$": "$$.State.Name"},
                "ResultPath": "$.meta",
                "OutputPath": "$",
                "Next": "Route",
            },
            "Route": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.shaped.n", "NumericGreaterThan": 1},
                            {"Variable": "$.shaped.key", "StringMatches": "a/*.json"},
                        ],
                        "Next": "Done",
                    }
                ],
                "Default": "Nope",
            },
            "Done": {"Type": "Succeed", "OutputPath": "$.shaped"},
            "Nope": {"Type": "Fail", "Error": "Nope"},
        },
    }
    doc["States"]["Pick"].pop("ResultSelector")  # Pass has no ResultSelector
    job = {"job": {"prefix": "a", "id": 1, "items": [1, 2], "csv": "x,y"}}
    mine, theirs = both(doc, {}, job, {})
    assert_same(mine, theirs)
    assert mine.output["key"] == "a/1.json" and mine.output["raw"] == "$.literal"
