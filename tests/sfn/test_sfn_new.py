"""`devkit sfn new gatekeeper`: the output checks clean, simulates both paths, and
its handler's checks run against moto's S3 and SQS on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import boto3
import pytest

from devkit.cli import main
from devkit.sfn.asl import load_definition
from devkit.sfn.check import check_definition
from devkit.sfn.simulate import simulate
from devkit.sfn.simulate.outcomes import TaskFailed, parse_task_option

CHECKS = ["s3-prefix", "sqs-empty", "marker", "custom"]


def test_the_cli_offers_every_check_the_scaffold_writes():
    from devkit.cli.sfn import CHECK_KINDS
    from devkit.sfn.scaffold import CHECKS as SCAFFOLD_CHECKS
    from devkit.sfn.scaffold.fanout import EXAMPLE_WAIT_FOR

    assert list(CHECK_KINDS) == list(SCAFFOLD_CHECKS) == CHECKS
    assert set(EXAMPLE_WAIT_FOR) == set(CHECKS)


def new(tmp_path, *args, name="pipeline"):
    target = tmp_path / name
    rc = main(["sfn", "new", "gatekeeper", str(target), "-q", *args])
    assert rc == 0
    return target


@pytest.mark.parametrize("language", ["jsonpath", "jsonata"])
@pytest.mark.parametrize("check", CHECKS)
def test_machine_checks_clean_and_simulates_both_paths(tmp_path, check, language):
    target = new(tmp_path, "--check", check, "--query-language", language)
    doc = load_definition(target / "statemachine.asl.json")
    assert check_definition(doc, "f") == []
    assert doc["TimeoutSeconds"] > 1635 and "Type" not in doc  # STANDARD by default
    ready = parse_task_option('Gatekeeper=NotReadyError*3,{"ready": true}')
    run = simulate(doc, {"Gatekeeper": ready}, {"job": 7})
    assert run.status == "SUCCEEDED"
    assert run.output == {"job": 7, "gatekeeper": {"ready": True}}
    calls = []

    def forced(data, context):
        calls.append(data.get("force"))
        if not data.get("force"):
            raise TaskFailed("NotReadyError")
        return {"forced": True}

    run = simulate(doc, {"Gatekeeper": forced}, {"job": 7})
    assert run.status == "SUCCEEDED" and calls[-1] is True and len(calls) == 32
    assert run.output["job"] == 7 and run.output["gatekeeper"] == {"forced": True}


@pytest.mark.parametrize("language", ["jsonpath", "jsonata"])
def test_no_force_fails_when_the_retries_run_out(tmp_path, language):
    target = new(tmp_path, "--no-force", "--query-language", language)
    doc = load_definition(target / "statemachine.asl.json")
    assert check_definition(doc, "f") == []
    run = simulate(
        doc, {"Gatekeeper": parse_task_option("Gatekeeper=NotReadyError")}, {}
    )
    assert (run.status, run.error) == ("FAILED", "GatekeeperGaveUp")
    assert (
        'event.get("force")' not in (target / "gatekeeper" / "handler.py").read_text()
    )


def test_options_reach_the_retrier(tmp_path):
    target = new(
        tmp_path,
        "--interval",
        "30",
        "--backoff",
        "1",
        "--max-attempts",
        "50",
        "--no-jitter",
    )
    retrier = load_definition(target / "statemachine.asl.json")["States"]["Gatekeeper"][
        "Retry"
    ][0]
    assert retrier == {
        "ErrorEquals": ["NotReadyError"],
        "IntervalSeconds": 30,
        "BackoffRate": 1.0,
        "MaxAttempts": 50,
        "MaxDelaySeconds": 60,
    }


def test_refuses_a_non_empty_directory_unless_forced(tmp_path, capsys):
    target = tmp_path / "pipeline"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    rc = main(["sfn", "new", "gatekeeper", str(target)])
    err = capsys.readouterr().err
    assert (
        rc == 2
        and "is not empty" in err
        and sorted(p.name for p in target.iterdir()) == ["mine.txt"]
    )
    assert main(["sfn", "new", "gatekeeper", str(target), "--force", "-q"]) == 0
    assert (target / "mine.txt").read_text() == "keep"
    assert (target / "statemachine.asl.json").is_file()


def load_handler(target):
    path = target / "gatekeeper" / "handler.py"
    spec = importlib.util.spec_from_file_location(f"gk_{target.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_task(module, on_call=None):
    calls = []

    def task(data, context):
        calls.append(data)
        if on_call:
            on_call(len(calls))
        try:
            return module.handler(data, None)
        except module.NotReadyError as exc:
            raise TaskFailed("NotReadyError", str(exc)) from exc

    return task, calls


def test_s3_prefix_handler_against_moto_through_the_simulator(tmp_path, aws_endpoint):
    module = load_handler(new(tmp_path, "--check", "s3-prefix"))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="work")
    s3.put_object(Bucket="work", Key="out/1", Body=b"1")

    def worker(n):  # the second object lands before the 4th poll
        if n == 4:
            s3.put_object(Bucket="work", Key="out/2", Body=b"2")

    doc = load_definition(tmp_path / "pipeline" / "statemachine.asl.json")
    event = {"bucket": "work", "prefix": "out/", "expected": 2}
    task, calls = as_task(module, worker)
    run = simulate(doc, {"Gatekeeper": task}, event)
    assert run.status == "SUCCEEDED" and len(calls) == 4
    assert run.output["gatekeeper"]["objects"] == 2
    # Never ready: the forced call returns the partial count.
    event = {**event, "expected": 5}
    task, calls = as_task(module)
    run = simulate(doc, {"Gatekeeper": task}, event)
    assert run.output["gatekeeper"] == {
        **run.output["gatekeeper"],
        "forced": True,
        "objects": 2,
    }


def test_sqs_empty_handler_counts_in_flight_and_delayed(tmp_path, aws_endpoint):
    module = load_handler(new(tmp_path, "--check", "sqs-empty"))
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=600)
    with pytest.raises(module.NotReadyError, match="1 messages left"):
        module.handler({"queue_url": url})
    url = sqs.create_queue(QueueName="work2")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="job")
    [msg] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"]
    with pytest.raises(module.NotReadyError, match="1 messages left"):  # in flight
        module.handler({"queue_url": url})
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    assert module.handler({"queue_url": url})["ready"] is True
    assert module.handler({"queue_url": url, "force": True})["forced"] is True


def test_marker_handler_against_moto(tmp_path, aws_endpoint):
    module = load_handler(new(tmp_path, "--check", "marker"))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="work")
    event = {"bucket": "work", "key": "out/_SUCCESS"}
    with pytest.raises(module.NotReadyError):
        module.handler(event)
    s3.put_object(Bucket="work", Key="out/_SUCCESS", Body=b"")
    assert module.handler(event)["ready"] is True


@pytest.mark.parametrize("check", CHECKS)
def test_generated_test_passes(tmp_path, check):
    target = new(tmp_path, "--check", check)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(target / "tests"),
        ],
        cwd=target,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout


def test_json_lists_the_files(tmp_path, capsys):
    rc = main(["sfn", "new", "gatekeeper", str(tmp_path / "p"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(doc["files"]) == 4 and doc["timeout_seconds"] > 1635
