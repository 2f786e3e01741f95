"""`devkit sfn check`: every trap of the fixture set found, none on the valid ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devkit.cli import main
from devkit.sfn.asl import load_definition
from devkit.sfn.budget import budgets
from devkit.sfn.check import check_definition

FIXTURES = Path(__file__).parent / "fixtures"
VALID = sorted((FIXTURES / "valid").glob("*.asl.json"))

# fixture -> the (code, location) pairs it must give, and nothing else.
BROKEN = {
    "recipe": [("NO_LAMBDA_RETRIER", "/States/GatekeeperState")],
    "catch_drops_input": [("CATCH_DROPS_INPUT", "/States/GatekeeperState/Catch/0")],
    "jsonata_catch_drops_input": [("CATCH_DROPS_INPUT", "/States/Gatekeeper/Catch/0")],
    "states_all_not_last": [("STATES_ALL_NOT_LAST", "/States/GatekeeperState/Retry/0")],
    "unraisable": [("UNRAISABLE_ERROR", "/States/GatekeeperState/Retry/2/ErrorEquals")],
    "callback_no_timeout": [("CALLBACK_NO_TIMEOUT", "/States/Run")],
    "ignores_force": [("HISTORY_CAP", "/States/GatekeeperState")],
    "over_history_cap": [("HISTORY_CAP", "/States/GatekeeperState")],
    "no_exit": [("UNBOUNDED_LOOP", "/States/A")],
    "no_dollar": [("NO_DOLLAR", "/States/GatekeeperState/Parameters/prefix")],
    "wait_two_fields": [("WAIT_DURATION", "/States/W")],
    "unreachable": [("UNREACHABLE_STATE", "/States/Orphan")],
    "missing_target": [
        ("MISSING_TRANSITION_TARGET", "/States/GatekeeperState"),
        ("UNREACHABLE_STATE", "/States/DoneState"),
    ],
    "unknown_type": [("UNKNOWN_STATE_TYPE", "/States/DoneState/Type")],
    "retrier_fields": [
        ("RETRIER_FIELD", "/States/GatekeeperState/Retry/0/IntervalSeconds"),
        ("RETRIER_FIELD", "/States/GatekeeperState/Retry/0/JitterStrategy"),
    ],
    "wrong_types": [
        ("SCHEMA_VALIDATION_FAILED", "/States/DoneState"),
        ("SCHEMA_VALIDATION_FAILED", "/States/GatekeeperState/Retry"),
    ],
    "machine_timeout_short": [("MACHINE_TIMEOUT_TOO_SHORT", "/TimeoutSeconds")],
    "jsonata_resultpath": [("QUERY_LANGUAGE_FIELD", "/States/Gatekeeper/ResultPath")],
}


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_definitions_have_no_finding(path):
    assert check_definition(load_definition(path), path.name) == []


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_trap_is_found_with_its_code_and_location(name):
    path = FIXTURES / "broken" / f"{name}.asl.json"
    found = check_definition(load_definition(path), path.name)
    assert sorted((d.code, d.location) for d in found) == sorted(BROKEN[name])
    assert all(d.hint and d.message for d in found)


def test_express_machine_of_the_recipe_outlives_five_minutes():
    doc = load_definition(FIXTURES / "broken" / "express_too_long.asl.json")
    assert check_definition(doc, "f", "STANDARD") == []
    found = check_definition(doc, "f", "EXPRESS")
    assert [(d.code, d.severity) for d in found] == [("EXPRESS_TOO_LONG", "ERROR")]


def test_express_rejects_callbacks():
    doc = load_definition(FIXTURES / "broken" / "callback_no_timeout.asl.json")
    codes = {d.code for d in check_definition(doc, "f", "EXPRESS")}
    assert "EXPRESS_INTEGRATION" in codes


def test_recipe_budget_matches_the_measured_give_up_run():
    # 51 failed polls + 1 forced call, 25 minutes of retry waits, 54 billed
    # transitions and 166 history events (the figures measured in moto).
    [b] = budgets(load_definition(FIXTURES / "valid" / "recipe_fixed.asl.json"))
    assert (b.kind, b.polls, b.delay_first, b.delay_max) == (
        "catch-force",
        52,
        30,
        1500,
    )
    assert (b.execution_transitions, b.execution_events) == (54, 166)
    assert b.usd == pytest.approx(54 * 0.025 / 1000)


def test_jittered_capped_budget_gives_min_expected_max():
    [b] = budgets(load_definition(FIXTURES / "valid" / "jsonata_gatekeeper.asl.json"))
    # 5, 10, 20, 40, then 60 s capped: 75 + 26 * 60 = 1,635 s over 30 retries.
    assert (b.delay_first, b.delay_min, b.delay_max) == (5, 0, 1635)
    assert b.delay_expected == pytest.approx(817.5)


def test_wait_loop_budget_is_per_iteration_with_the_cap():
    [b] = budgets(load_definition(FIXTURES / "valid" / "wait_loop.asl.json"))
    assert (b.kind, b.transitions, b.events, b.iterations_to_cap) == (
        "choice",
        3,
        9,
        2777,
    )


def run(capsys, *args):
    rc = main(["sfn", "check", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_has_aws_diagnostic_shape_and_budgets(capsys):
    rc, out, _ = run(
        capsys, "--json", FIXTURES / "broken" / "catch_drops_input.asl.json"
    )
    doc = json.loads(out)
    assert rc == 1
    [d] = doc["diagnostics"]
    assert set(d) >= {"file", "severity", "code", "message", "location"}
    assert (d["severity"], d["code"]) == ("ERROR", "CATCH_DROPS_INPUT")
    assert doc["budgets"][0]["kind"] == "catch-force"


def test_warnings_pass_unless_strict(capsys):
    path = FIXTURES / "broken" / "no_dollar.asl.json"
    assert run(capsys, path)[0] == 0
    rc, out, _ = run(capsys, "--strict", path)
    assert rc == 1 and "NO_DOLLAR" in out and "fix: " in out


def test_human_output_prints_the_budget(capsys):
    rc, out, _ = run(capsys, FIXTURES / "valid" / "recipe_fixed.asl.json")
    assert rc == 0
    assert "polls        52" in out and "events       162" in out
    assert "$0.00135 per execution" in out


def test_bad_json_names_line_and_column(capsys):
    rc, out, err = run(capsys, FIXTURES / "broken" / "not_json.asl.json")
    assert rc == 2 and out == ""
    assert err.startswith("error: ") and "not_json.asl.json:4:39: not valid JSON" in err
    assert len(err.splitlines()) == 1


def test_missing_file_and_non_machine(capsys, tmp_path):
    rc, _, err = run(capsys, tmp_path / "nope.json")
    assert rc == 2 and "no such file" in err
    (tmp_path / "list.json").write_text("[1, 2]")
    rc, _, err = run(capsys, tmp_path / "list.json")
    assert rc == 2 and 'no "States" object' in err


def test_wrong_types_stop_the_simulator_with_one_line(capsys):
    path = FIXTURES / "broken" / "wrong_types.asl.json"
    rc = main(["sfn", "simulate", str(path), "--task", "GatekeeperState={}"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: /States/") and len(err.splitlines()) == 1


def test_budget_of_the_largest_max_attempts_is_computed_not_looped():
    doc = load_definition(FIXTURES / "valid" / "recipe_fixed.asl.json")
    doc["States"]["GatekeeperState"]["Retry"][0]["MaxAttempts"] = 99_999_999
    doc["States"]["GatekeeperState"]["Retry"][0]["BackoffRate"] = 2.0
    doc["States"]["GatekeeperState"]["Retry"][0]["MaxDelaySeconds"] = 60
    [b] = budgets(doc)
    assert b.delay_max == 30 + 60 * (99_999_999 - 1)
    codes = {d.code for d in check_definition(doc, "f")}
    assert "HISTORY_CAP" in codes
