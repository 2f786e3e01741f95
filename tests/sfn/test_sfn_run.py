"""`devkit sfn run` against moto's server: the manifest uploaded, the execution started.

moto cannot execute a Distributed Map (its interpreter rejects ItemBatcher):
here it records the execution, which stays RUNNING, and `sfn run` must show
what moto can: the execution and its input, the manifest object byte for
byte, and `sfn wait`'s exit codes on the way out.
"""

from __future__ import annotations

import json
import threading
import time

import boto3
import pytest

from devkit.cli import main
from devkit.errors import ExitCode

STREAM_ARN = "arn:aws:lambda:us-east-1:123456789012:function:mirror-stream"


@pytest.fixture
def project(tmp_path, sfn_recorder, capsys):
    """A fanout project whose machine is in moto (as `sfn deploy` leaves it)."""
    target = tmp_path / "mirror"
    assert main(["sfn", "new", "fanout", str(target), "-q"]) == 0
    capsys.readouterr()
    text = (target / "statemachine.asl.json").read_text()
    boto3.client("stepfunctions").create_state_machine(
        name="mirror",
        definition=text.replace("${StreamFunctionArn}", STREAM_ARN),
        roleArn=sfn_recorder,
    )
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")
    return target


def run(capsys, project, *args):
    capsys.readouterr()
    rc = main(["sfn", "run", str(project), *args])
    out, err = capsys.readouterr()
    return rc, out, err


def executions():
    sfn = boto3.client("stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    return sfn.list_executions(stateMachineArn=arn)["executions"]


def objects(bucket="data"):
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in listed.get("Contents", [])]


JSONL = (
    b'{"url": "https://example.com/a.bin", "key": "a.bin"}\n'
    b'{"url": "https://example.com/b.bin", "dest": "s3://data/other/b.bin",'
    b' "headers": {"Authorization": "Bearer x"}}\n'
)


def test_no_wait_uploads_the_manifest_as_is_and_starts_the_execution(
    project, tmp_path, capsys
):
    manifest = tmp_path / "items.jsonl"
    manifest.write_bytes(JSONL)
    rc, out, err = run(
        capsys, project, "s3://data/mirror/", "--manifest", str(manifest),
        "--no-wait", "--execution-name", "first",
    )  # fmt: skip
    assert rc == 0, err
    arn = out.strip()
    assert arn.endswith(":execution:mirror:first")
    desc = boto3.client("stepfunctions").describe_execution(executionArn=arn)
    assert desc["status"] == "RUNNING"
    key = "devkit-sfn/mirror/first/manifest.jsonl"
    assert json.loads(desc["input"]) == {
        "manifest": {"bucket": "data", "key": key},
        "prefix": "s3://data/mirror/",
        "results": {"bucket": "data", "prefix": "devkit-sfn/mirror/first/results"},
    }
    body = boto3.client("s3").get_object(Bucket="data", Key=key)["Body"].read()
    assert body == JSONL
    assert "Bearer" not in err


def test_csv_is_uploaded_as_the_jsonl_of_its_items(project, tmp_path, capsys):
    manifest = tmp_path / "items.csv"
    manifest.write_text(
        "url,dest\nhttps://example.com/a,s3://data/a\nhttps://example.com/b,s3://data/b\n"
    )
    uri = "s3://data/in/m.jsonl"
    rc, out, err = run(
        capsys, project, "--manifest", str(manifest), "--no-wait", "--json",
        "--manifest-uri", uri, "--results-uri", "s3://data/out",
    )  # fmt: skip
    assert rc == 0, err
    started = json.loads(out)
    assert started["manifest_uri"] == uri and started["items"] == 2
    assert started["input"]["prefix"] is None  # every item has its dest
    assert started["input"]["results"] == {"bucket": "data", "prefix": "out"}
    body = boto3.client("s3").get_object(Bucket="data", Key="in/m.jsonl")["Body"]
    assert [json.loads(line) for line in body.read().splitlines()] == [
        {"url": "https://example.com/a", "dest": "s3://data/a"},
        {"url": "https://example.com/b", "dest": "s3://data/b"},
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'{"url": "https://e/a", "key": "a"}\n{"url": "https://e/b", "key": "b"\n',
         "line 2: not JSON"),
        (b'{"url": "https://e/a", "key": "a"}\n\n{"key": "b"}\n', "line 3: no url"),
        (b'{"url": "https://e/a", "key": "a", "headers": {"h": 1}}\n',
         "line 1 is not a manifest item"),
    ],
)  # fmt: skip
def test_a_bad_line_is_one_error_before_anything_is_uploaded(
    project, tmp_path, capsys, text, expected
):
    manifest = tmp_path / "items.jsonl"
    manifest.write_bytes(text)
    rc, out, err = run(capsys, project, "s3://data/m/", "--manifest", str(manifest))
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert expected in err
    assert objects() == [] and executions() == []


def test_a_key_without_dest_says_what_to_give(project, tmp_path, capsys):
    manifest = tmp_path / "items.jsonl"
    manifest.write_bytes(JSONL)
    rc, _, err = run(capsys, project, "--manifest", str(manifest))
    assert rc == 2 and "s3://BUCKET/PREFIX/" in err
    assert objects() == [] and executions() == []


def test_an_undeployed_machine_uploads_nothing(project, tmp_path, capsys):
    manifest = tmp_path / "items.jsonl"
    manifest.write_bytes(JSONL)
    rc, _, err = run(capsys, project, "s3://data/m/", "--manifest", str(manifest),
                     "--name", "nope")  # fmt: skip
    assert rc == 2 and "state machine nope not found: deploy it" in err
    assert objects() == []


def test_a_gatekeeper_project_is_not_a_fanout(tmp_path, sfn_recorder, capsys):
    target = tmp_path / "gk"
    assert main(["sfn", "new", "gatekeeper", str(target), "-q"]) == 0
    manifest = tmp_path / "items.jsonl"
    manifest.write_bytes(JSONL)
    rc, _, err = run(capsys, target, "s3://data/m/", "--manifest", str(manifest))
    assert rc == 2 and "no Map with an ItemReader" in err


def test_input_may_not_override_what_run_writes(project, tmp_path, capsys):
    manifest = tmp_path / "items.jsonl"
    manifest.write_bytes(JSONL)
    rc, _, err = run(capsys, project, "s3://data/m/", "--manifest", str(manifest),
                     "--input", '{"results": {}}')  # fmt: skip
    assert rc == 2 and "--input sets 'results'" in err


def test_waiting_goes_through_sfn_waits_exit_codes(project, tmp_path, capsys):
    manifest = tmp_path / "items.jsonl"
    manifest.write_bytes(JSONL)
    # moto records the execution and never runs it: still RUNNING at --timeout.
    rc, out, err = run(capsys, project, "s3://data/m/", "--manifest", str(manifest),
                       "--timeout", "0.2", "--execution-name", "slow")  # fmt: skip
    assert rc == ExitCode.WAIT_TIMEOUT == 23
    assert out == "" and "error: execution still RUNNING" in err

    # Stopped while `sfn run` waits: ABORTED, exit 22, as `sfn wait` says it.
    sfn = boto3.client("stepfunctions")

    def stop_when_started():
        for _ in range(200):
            running = [e for e in executions() if e["name"] == "stopped"]
            if running:
                sfn.stop_execution(executionArn=running[0]["executionArn"])
                return
            time.sleep(0.05)

    stopper = threading.Thread(target=stop_when_started)
    stopper.start()
    rc, out, err = run(capsys, project, "s3://data/m/", "--manifest", str(manifest),
                       "--execution-name", "stopped", "--timeout", "60")  # fmt: skip
    stopper.join()
    assert rc == ExitCode.EXECUTION_ABORTED == 22
    assert "execution ABORTED" in err


def test_a_manifest_that_cannot_be_uploaded_starts_nothing(project, tmp_path, capsys):
    manifest = tmp_path / "items.jsonl"
    manifest.write_bytes(JSONL)
    uri = "s3://no-such-bucket/m.jsonl"
    rc, out, err = run(capsys, project, "s3://data/m/", "--manifest", str(manifest),
                       "--manifest-uri", uri, "-q")  # fmt: skip
    assert rc == 1 and out == ""
    assert err.startswith(
        "error: uploading the manifest to s3://no-such-bucket/m.jsonl"
    )
    assert "NoSuchBucket" in err and len(err.splitlines()) == 1
    assert executions() == []
