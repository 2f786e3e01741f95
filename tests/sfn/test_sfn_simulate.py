"""`devkit sfn simulate`: the virtual clock, outcomes, the cap, JSONata, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devkit.cli import main
from devkit.sfn.asl import load_definition
from devkit.sfn.simulate import SimulationError, simulate
from devkit.sfn.simulate.history import CAP_CAUSE
from devkit.sfn.simulate.outcomes import TaskFailed, parse_task_option

FIXTURES = Path(__file__).parent / "fixtures"
RECIPE = FIXTURES / "valid" / "recipe_fixed.asl.json"
JSONATA = FIXTURES / "valid" / "jsonata_gatekeeper.asl.json"


def script(spec):
    s = parse_task_option(spec)
    return {s.state: s}


def types(execution):
    return [e.type for e in execution.history]


def test_outcome_script_repeats_and_the_last_item_forever():
    s = parse_task_option('T=A*2,{"x": [1, 2]},B')
    results = []
    for _ in range(6):
        try:
            results.append(s({}, {}))
        except TaskFailed as f:
            results.append(f.error)
    assert results == ["A", "A", {"x": [1, 2]}, "B", "B", "B"]


@pytest.mark.parametrize("spec", ["T", "=A", "T=", "T=not an error!"])
def test_bad_task_option_is_a_usage_error(spec, capsys):
    rc = main(["sfn", "simulate", str(RECIPE), "--task", spec])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: --task") and len(err.splitlines()) == 1


def test_give_up_run_is_virtual_and_priced():
    doc = load_definition(RECIPE)
    run = simulate(doc, script("GatekeeperState=NotReadyError*51,{}"), {"p": 1})
    assert run.status == "SUCCEEDED" and len(run.history) == 166
    assert run.elapsed_seconds == 1500 and run.transitions == 54
    assert run.cost_usd == pytest.approx(0.00135)
    assert run.history[-1].timestamp == "2026-01-01T00:25:00.000Z"


def test_same_seed_same_history_and_another_seed_differs():
    doc = load_definition(JSONATA)

    def go(seed):
        run = simulate(doc, script("Gatekeeper=NotReadyError*40,{}"), {}, seed=seed)
        return [e.to_json() for e in run.history]

    assert go(3) == go(3)
    assert go(3) != go(4)


def test_retry_count_reaches_the_task_through_the_context_object():
    seen = []

    def task(data, context):
        seen.append(context["State"]["RetryCount"])
        if len(seen) < 4:
            raise TaskFailed("NotReadyError")
        return {}

    simulate(load_definition(RECIPE), {"GatekeeperState": task}, {})
    assert seen == [0, 1, 2, 3]


def test_history_cap_fails_as_aws_does():
    doc = load_definition(FIXTURES / "broken" / "ignores_force.asl.json")
    run = simulate(doc, script("GatekeeperState=NotReadyError"), {})
    assert (run.status, run.error, run.cause) == ("FAILED", "States.Runtime", CAP_CAUSE)
    assert len(run.history) == 25_000
    assert run.history[-1].type == "ExecutionFailed" and run.history[-1].id == 25_000
    assert run.history[-2].type == "LambdaFunctionFailed"


def test_machine_timeout_on_the_virtual_clock():
    doc = load_definition(RECIPE)
    doc["TimeoutSeconds"] = 100
    run = simulate(doc, script("GatekeeperState=NotReadyError"), {})
    assert (run.status, run.error, run.elapsed_seconds) == (
        "TIMED_OUT",
        "States.Timeout",
        100,
    )
    assert types(run)[-1] == "ExecutionTimedOut"


def test_task_timeout_outcome_gives_timed_out_event():
    doc = load_definition(RECIPE)
    run = simulate(doc, script("GatekeeperState=States.Timeout"), {})
    assert run.status == "FAILED" and "LambdaFunctionTimedOut" in types(run)


def test_jsonata_gatekeeper_give_up_hand_derived():
    # Per AWS's documented semantics: 31 failed calls (1 + MaxAttempts 30), the
    # catcher assigns force=true and keeps the input ($states.input), the state
    # is entered again and the forced call returns at once.
    seen = []

    def task(data, context):
        seen.append(data.get("force"))
        if not data.get("force"):
            raise TaskFailed("NotReadyError")
        return {"summary": "partial"}

    run = simulate(
        load_definition(JSONATA), {"Gatekeeper": task}, {"prefix": "p/"}, seed=1
    )
    expected = (
        ["ExecutionStarted", "TaskStateEntered"]
        + ["LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed"]
        * 31
        + ["TaskStateExited", "TaskStateEntered"]
        + [
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
        ]
        + ["TaskStateExited", "SucceedStateEntered", "SucceedStateExited"]
        + ["ExecutionSucceeded"]
    )
    assert types(run) == expected and len(expected) == 104
    assert seen == [False] * 31 + [True]
    assert run.output == {"prefix": "p/"}
    assert run.transitions == 33
    assert 0 < run.elapsed_seconds <= 1635


def test_jsonata_choice_wait_pass_and_variables():
    doc = {
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Assign": {"n": 0}, "Next": "Count"},
            "Count": {
                "Type": "Pass",
                "Assign": {"n": "{% $n + 1 %}"},
                "Output": "{% $merge([$states.input, {'seen': $n}]) %}",
                "Next": "Enough?",
            },
            "Enough?": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $n >= 3 %}", "Next": "Done"}],
                "Default": "Sleep",
            },
            "Sleep": {"Type": "Wait", "Seconds": "{% $n * 10 %}", "Next": "Count"},
            "Done": {
                "Type": "Succeed",
                "Output": "{% {'n': $n, 'last': $states.input} %}",
            },
        },
    }
    run = simulate(doc, {}, {"a": 1})
    # Output sees $n before this state's Assign: 0, 1, 2.
    assert run.output == {"n": 3, "last": {"a": 1, "seen": 2}}
    assert run.elapsed_seconds == 10 + 20
    assert types(run).count("WaitStateEntered") == 2


def test_jsonata_error_is_a_query_evaluation_error():
    doc = {
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "Output": "{% $states.input.( %}", "End": True}
        },
    }
    run = simulate(doc, {}, {})
    assert (run.status, run.error) == ("FAILED", "States.QueryEvaluationError")


def test_parallel_and_inline_map():
    doc = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "W",
                        "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}},
                    },
                    {
                        "StartAt": "L",
                        "States": {"L": {"Type": "Wait", "Seconds": 9, "End": True}},
                    },
                ],
                "ResultPath": "$.both",
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {
                    "i.$": "$$.Map.Item.Index",
                    "v.$": "$$.Map.Item.Value",
                },
                "ItemProcessor": {
                    "StartAt": "Double",
                    "States": {
                        "Double": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"Payload.$": "$"},
                            "ResultSelector": {"r.$": "$.Payload"},
                            "End": True,
                        }
                    },
                },
                "ResultPath": "$.mapped",
                "End": True,
            },
        },
    }
    run = simulate(doc, {"Double": lambda d, c: d["v"] * 2}, {"items": [1, 2]})
    assert run.output["mapped"] == [{"r": 2}, {"r": 4}]
    assert run.output["both"] == [{"items": [1, 2]}, {"items": [1, 2]}]
    assert run.elapsed_seconds == 9  # branches run side by side
    t = types(run)
    assert t[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert "MapIterationStarted" in t and "TaskScheduled" in t
    assert t[-3:] == ["MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]


def test_distributed_map_reads_its_items_from_the_s3_endpoint_given(
    aws_endpoint, capsys
):
    # The manifest's bucket does not exist on this (empty) S3: the read fails
    # as AWS's does, with States.ItemReaderFailed.
    rc = main(
        [
            "sfn",
            "simulate",
            str(FIXTURES / "valid" / "distributed_map.asl.json"),
            "--task",
            "Stream={}",
            "--endpoint-url",
            aws_endpoint,
        ]
    )
    out = capsys.readouterr().out
    assert rc == 1
    assert (
        "error        States.ItemReaderFailed: cannot read s3://in/manifest.jsonl"
        in out
    )


def test_tasks_module_and_a_module_naming_no_state(tmp_path, capsys):
    mod = tmp_path / "tasks.py"
    mod.write_text(
        "class NotReadyError(Exception):\n    pass\n\n"
        "def GatekeeperState(data, context):\n"
        "    if context['State']['RetryCount'] < 2:\n"
        "        raise NotReadyError('not yet')\n"
        "    return {'ready': True}\n"
    )
    rc = main(["sfn", "simulate", str(RECIPE), "--tasks", str(mod), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["status"] == "SUCCEEDED"
    assert set(doc) == {
        "status",
        "output",
        "error",
        "cause",
        "history",
        "elapsed_seconds",
        "transitions",
        "cost_usd",
    }
    assert doc["history"][4]["error"] == "NotReadyError"
    assert json.loads(doc["history"][4]["cause"])["errorMessage"] == "not yet"
    assert {"id", "type", "timestamp"} <= set(doc["history"][0])
    other = tmp_path / "other.py"
    other.write_text("def Nothing(data, context):\n    return 1\n")
    rc = main(["sfn", "simulate", str(RECIPE), "--tasks", str(other)])
    err = capsys.readouterr().err
    assert (
        rc == 2
        and "defines no function for a task state" in err
        and "GatekeeperState" in err
    )


def test_a_lambda_error_cause_is_cut_at_32768_characters_as_aws_does(tmp_path, capsys):
    mod = tmp_path / "tasks.py"
    mod.write_text(
        "def GatekeeperState(data, context):\n    raise ValueError('x' * 40000)\n"
    )
    main(["sfn", "simulate", str(RECIPE), "--tasks", str(mod), "--json"])
    doc = json.loads(capsys.readouterr().out)
    failed = [e for e in doc["history"] if e.get("error") == "ValueError"]
    assert failed and all(len(e["cause"]) == 32768 for e in failed)


def test_cli_failed_execution_exits_1_and_missing_outcome_exits_2(capsys):
    rc = main(["sfn", "simulate", str(RECIPE), "--task", "GatekeeperState=Boom"])
    out = capsys.readouterr().out
    assert rc == 1 and "status       FAILED" in out and "error        Boom" in out
    rc = main(["sfn", "simulate", str(RECIPE)])
    assert rc == 2 and "has no outcome" in capsys.readouterr().err
    rc = main(
        [
            "sfn",
            "simulate",
            str(RECIPE),
            "--task",
            "Nope={}",
            "--task",
            "GatekeeperState={}",
        ]
    )
    assert rc == 2 and "no Task state" in capsys.readouterr().err


def test_unknown_type_is_refused():
    doc = load_definition(FIXTURES / "broken" / "unknown_type.asl.json")
    with pytest.raises(SimulationError, match="unknown Type 'Finish'"):
        simulate(doc, script("GatekeeperState={}"), {})


def test_unknown_choice_operator_names_the_state(capsys, tmp_path):
    doc = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.a", "NumberIs": 1, "Next": "D"}],
                "Default": "D",
            },
            "D": {"Type": "Succeed"},
        },
    }
    path = tmp_path / "m.asl.json"
    path.write_text(json.dumps(doc))
    rc = main(["sfn", "simulate", str(path), "--input", '{"a": 1}'])
    err = capsys.readouterr().err
    assert rc == 2 and err == "error: state 'C': unknown Choice operator 'NumberIs'\n"
