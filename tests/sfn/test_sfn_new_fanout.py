"""`devkit sfn new fanout`: a Distributed Map over a manifest that checks clean."""

from __future__ import annotations

import importlib.util
import json

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
