"""`devkit sfn new fanout`: a Distributed Map over a manifest that checks clean."""

from __future__ import annotations

import importlib.util
import json

import pytest

from devkit.cli import main
from devkit.s3stream import lambda_handler
from devkit.sfn.asl import LAMBDA_TRANSIENT, load_definition
from devkit.sfn.check import check_definition


def new(tmp_path, *args):
    target = tmp_path / "fanout"
    assert main(["sfn", "new", "fanout", str(target), "-q", *args]) == 0
    return target


def test_machine_is_a_distributed_map_that_checks_clean(tmp_path, capsys):
    target = new(tmp_path, "--max-concurrency", "50", "--batch-items", "4",
                 "--tolerated-failure-percentage", "2.5")  # fmt: skip
    machine = target / "statemachine.asl.json"
    doc = load_definition(machine)
    assert check_definition(doc, "f") == []
    capsys.readouterr()
    assert main(["sfn", "check", str(machine)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("0 error(s), 0 warning(s)")
    fanout = doc["States"]["Fanout"]
    assert fanout["Type"] == "Map"
    assert fanout["ItemReader"]["ReaderConfig"] == {"InputType": "JSONL"}
    assert fanout["ItemBatcher"]["MaxItemsPerBatch"] == 4
    assert fanout["ItemBatcher"]["BatchInput"] == {"prefix.$": "$.prefix"}
    assert fanout["MaxConcurrency"] == 50
    assert fanout["ToleratedFailurePercentage"] == 2.5
    assert fanout["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",  # a stream may outlast Express's 5 minutes
    }
    assert fanout["ResultWriter"]["WriterConfig"]["OutputType"] == "JSONL"
    assert fanout["Retry"][0]["ErrorEquals"] == ["States.ItemReaderFailed"]
    task = fanout["ItemProcessor"]["States"]["Stream"]
    assert task["Retry"][0]["ErrorEquals"] == list(LAMBDA_TRANSIENT)
    assert task["TimeoutSeconds"] == 900
    example = json.loads((target / "input.example.json").read_text())
    assert {"manifest", "prefix", "results"} <= example.keys()


def test_the_childs_handler_is_devkits(tmp_path):
    target = new(tmp_path)
    spec = importlib.util.spec_from_file_location("h", target / "stream" / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.handler is lambda_handler


def test_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    target = tmp_path / "fanout"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    assert main(["sfn", "new", "fanout", str(target)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {target} is not empty")
    assert (target / "keep.txt").read_text() == "mine"


CHECKS = ["s3-prefix", "sqs-empty", "marker", "custom"]


@pytest.mark.parametrize("check", CHECKS)
def test_wait_for_puts_the_gatekeeper_in_front_and_checks_clean(
    tmp_path, capsys, check
):
    target = new(tmp_path, "--wait-for", check)
    machine = target / "statemachine.asl.json"
    doc = load_definition(machine)
    assert check_definition(doc, "f") == []
    capsys.readouterr()
    assert main(["sfn", "check", "--strict", str(machine)]) == 0
    assert capsys.readouterr().err.startswith("0 error(s), 0 warning(s), 1 loop(s)")
    assert doc["StartAt"] == "Gatekeeper"
    gate = doc["States"]["Gatekeeper"]
    assert gate["Resource"] == "${GatekeeperFunctionArn}"
    assert (gate["InputPath"], gate["Next"]) == ("$.wait_for", "Fanout")
    assert doc["States"]["Fanout"]["Type"] == "Map"
    # The gatekeeper's own pieces, not a copy: the same files as sfn new gatekeeper.
    alone = tmp_path / "alone"
    assert main(["sfn", "new", "gatekeeper", str(alone), "--check", check, "-q"]) == 0
    for rel in ("gatekeeper/handler.py", "gatekeeper/requirements.txt",
                "tests/test_handler.py"):  # fmt: skip
        assert (target / rel).read_bytes() == (alone / rel).read_bytes()
    alone_doc = load_definition(alone / "statemachine.asl.json")
    assert gate["Retry"] == alone_doc["States"]["Gatekeeper"]["Retry"]
    assert doc["TimeoutSeconds"] == 24 * 3600 + alone_doc["TimeoutSeconds"]
    example = json.loads((target / "input.example.json").read_text())
    assert {"wait_for", "manifest", "prefix", "results"} <= example.keys()


def test_the_gatekeeper_in_front_leaves_the_maps_input_whole(tmp_path):
    """Simulated with the Map as a Pass: force reaches the gatekeeper, and the
    manifest, prefix and results reach the Map as they were given."""
    from devkit.sfn.simulate import simulate
    from devkit.sfn.simulate.outcomes import TaskFailed

    target = new(tmp_path, "--wait-for", "marker")
    doc = load_definition(target / "statemachine.asl.json")
    doc["States"]["Fanout"] = {"Type": "Pass", "End": True}
    seen = []

    def gatekeeper(event, context):
        seen.append(event)
        if not event.get("force"):
            raise TaskFailed("NotReadyError", "not yet")
        return {"forced": True}

    example = json.loads((target / "input.example.json").read_text())
    execution = simulate(doc, {"Gatekeeper": gatekeeper}, example, seed=1)
    assert execution.status == "SUCCEEDED"
    assert seen[0] == example["wait_for"]
    assert seen[-1] == {**example["wait_for"], "force": True}
    out = execution.output
    assert {k: out[k] for k in ("manifest", "prefix", "results")} == {
        k: example[k] for k in ("manifest", "prefix", "results")
    }
    assert out["gatekeeper"] == {"forced": True}


def test_an_unknown_wait_for_is_a_usage_error(tmp_path, capsys):
    target = str(tmp_path / "x")
    assert main(["sfn", "new", "fanout", target, "--wait-for", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
