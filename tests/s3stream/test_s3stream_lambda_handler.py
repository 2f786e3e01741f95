"""`devkit.s3stream.lambda_handler`: manifest items into S3 from a Lambda function."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from s3stream_support import KiB

from devkit.s3stream import lambda_handler
from devkit.s3stream.handler import ItemsFailed
from testing.http_source import body_bytes

MiB = 1024 * KiB
ROOT = Path(__file__).parents[2]


class Context:
    """Lambda's context object: only the clock the handler reads."""

    def __init__(self, seconds_left=900.0):
        self.seconds_left = seconds_left

    def get_remaining_time_in_millis(self):
        return int(self.seconds_left * 1000)


@pytest.fixture
def endpoint(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)  # as in Lambda
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")


def test_one_item_returns_its_record_with_the_functions_budget(
    endpoint, s3, bucket, source
):
    source.add("/one.bin", 6 * MiB)
    record = lambda_handler(
        {"url": source.url("/one.bin"), "dest": f"s3://{bucket}/one.bin"}, Context()
    )
    assert record["status"] == "done" and record["bytes"] == 6 * MiB
    assert record["dest"] == f"s3://{bucket}/one.bin"
    # 512 MB function: 3/4 of it, and one item has the whole of that budget
    assert record["max_memory"] == 384 * MiB
    body = s3.get_object(Bucket=bucket, Key="one.bin")["Body"].read()
    assert body == body_bytes(0, 6 * MiB)


def test_a_batch_with_a_failed_item_raises_with_every_failure_recorded(
    endpoint, s3, bucket, source
):
    source.add("/ok", 1000)
    source.add("/missing", 10, status=404)
    event = {
        "Items": [
            {"url": source.url("/ok"), "key": "ok"},
            {"url": source.url("/missing"), "key": "missing"},
            {"key": "no-url"},
        ],
        "BatchInput": {"prefix": f"s3://{bucket}/in"},
    }
    with pytest.raises(ItemsFailed) as caught:
        lambda_handler(event, Context())
    records = json.loads(str(caught.value))
    failed = [r for r in records if r["status"] == "failed"]
    assert [(r["line"], r["error_type"]) for r in failed] == [
        (2, "SourceError"),
        (3, "ConfigError"),
    ]
    assert "404" in failed[0]["error"]
    # The done items go too, as one record of what `sfn results` counts.
    assert [r for r in records if r["status"] == "done"] == [
        {"status": "done", "items": 1, "bytes": 1000}
    ]
    assert s3.get_object(Bucket=bucket, Key="in/ok")["Body"].read() == body_bytes(
        0, 1000
    )


def test_a_failed_batch_message_does_not_grow_with_its_done_items(
    endpoint, s3, bucket, source
):
    # Step Functions keeps 32,768 characters of a Cause: one failure among
    # sixty done items must still fit, with the failure whole.
    source.add("/tiny", 10)
    source.add("/missing", 10, status=404)
    items = [{"url": source.url("/tiny"), "key": f"t{n}"} for n in range(60)]
    items.insert(30, {"url": source.url("/missing"), "key": "missing"})
    event = {"Items": items, "BatchInput": {"prefix": f"s3://{bucket}/"}}
    with pytest.raises(ItemsFailed) as caught:
        lambda_handler(event, Context())
    failed, done = json.loads(str(caught.value))
    assert (failed["line"], failed["status"]) == (31, "failed")
    assert done == {"status": "done", "items": 60, "bytes": 600}
    assert len(str(caught.value)) < 1000


def test_many_failures_keep_their_lines_and_causes_within_the_room(
    endpoint, s3, bucket, source, monkeypatch
):
    # Past CAUSE_ROOM a failure loses its URL and message, never its line or
    # cause: `sfn results` still counts each one (a small room for the test).
    monkeypatch.setattr("devkit.s3stream.handler.CAUSE_ROOM", 600)
    source.add("/missing", 10, status=404)
    items = [{"url": source.url("/missing"), "key": f"m{n}"} for n in range(20)]
    event = {"Items": items, "BatchInput": {"prefix": f"s3://{bucket}/"}}
    with pytest.raises(ItemsFailed) as caught:
        lambda_handler(event, Context())
    records = json.loads(str(caught.value))
    assert [r["line"] for r in records] == list(range(1, 21))
    assert {(r["error_type"], r["exit_code"]) for r in records} == {("SourceError", 1)}
    assert "error" in records[0] and "error" not in records[-1]
    assert len(str(caught.value)) < 600 + 20 * 80


def test_a_batch_that_succeeds_returns_items_in_order(endpoint, s3, bucket, source):
    for n in range(5):
        source.add(f"/f{n}", 100 * KiB * (n + 1))
    event = {
        "Items": [{"url": source.url(f"/f{n}"), "key": f"f{n}"} for n in range(5)],
        "BatchInput": {"prefix": f"s3://{bucket}/"},
    }
    result = lambda_handler(event, Context())
    assert [r["key"] for r in result["Items"]] == [f"f{n}" for n in range(5)]
    assert [r["bytes"] for r in result["Items"]] == [
        100 * KiB * (n + 1) for n in range(5)
    ]


def test_the_deadline_comes_from_the_context_and_aborts_cleanly(
    endpoint, s3, bucket, source
):
    # 2 s left: the handler stops at 1.8 s, long before this paced source ends.
    source.add("/slow", 8 * MiB, rate=1 * MiB)
    with pytest.raises(ItemsFailed) as caught:
        lambda_handler(
            {"url": source.url("/slow"), "dest": f"s3://{bucket}/slow"}, Context(2.0)
        )
    [record] = json.loads(str(caught.value))
    assert "deadline" in record["error"]
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_zip_built_by_lambda_package_runs_in_lambda_run(
    s3_server, s3, bucket, source, tmp_path, shared_cache_dir
):
    """The handler as deployed: devkit in the zip, boto3 and requests in lib/."""
    fn = tmp_path / "fn"
    shutil.copytree(ROOT / "devkit", fn / "devkit",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    (fn / "requirements.txt").write_text("boto3\nrequests\n")
    shared = shared_cache_dir
    devkit = [sys.executable, "-m", "devkit"]
    built = subprocess.run(
        [*devkit, "lambda-package", str(fn), "-o", str(tmp_path / "fn.zip"),
         "--runtime", "python3.11", "--cache-dir", str(shared)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    source.add("/big", 7 * MiB)
    source.add("/gone", 5, status=404)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({
        "Items": [{"url": source.url("/big"), "key": "big"}],
        "BatchInput": {"prefix": f"s3://{bucket}/z/"},
    }))  # fmt: skip
    # The function gets this process's (test) credentials, as Lambda its role's.
    run = [*devkit, "lambda-run", str(tmp_path / "fn.zip"),
           "devkit.s3stream.lambda_handler", "--event", str(event),
           "--timeout", "120", "--memory", "256",
           "--cache-dir", str(shared / "lambda-run"), "--aws-credentials",
           "--env", f"AWS_ENDPOINT_URL={s3_server.endpoint_url}"]  # fmt: skip
    done = subprocess.run(run, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [record] = json.loads(done.stdout)["Items"]
    assert (record["status"], record["key"], record["bytes"]) == (
        "done",
        "z/big",
        7 * MiB,
    )
    assert record["max_memory"] == 192 * MiB  # 3/4 of the function's 256 MB
    assert s3.get_object(Bucket=bucket, Key="z/big")["Body"].read() == body_bytes(
        0, 7 * MiB
    )
    event.write_text(
        json.dumps({"url": source.url("/gone"), "dest": f"s3://{bucket}/g"})
    )
    failed = subprocess.run(run, capture_output=True, text=True, timeout=300)
    assert failed.returncode != 0
    error = json.loads(failed.stdout)
    assert error["errorType"] == "ItemsFailed"
    assert json.loads(error["errorMessage"])[0]["error_type"] == "SourceError"
