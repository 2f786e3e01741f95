"""`sfn simulate` of the fanout machine against moto's S3, and `sfn results`.

The same 200-item manifest runs once with `s3-stream --manifest` and once
through the simulated Distributed Map calling devkit's real Lambda handler:
the same objects, byte for byte, and the same failures; `sfn results` reads
the simulated export and its retry manifest re-runs exactly the failures.
"""

from __future__ import annotations

import json

import boto3
import pytest

from devkit.cli import main
from devkit.sfn.scaffold.fanout import FanoutOptions, new_fanout
from testing.http_source import HttpSource, body_bytes

KiB = 1024
N = 200
MISSING = {3, 7, 52, 58, 150}  # 404
SHORT = {104, 109}  # the body ends early and the source cannot resume
DROPPED = {20, 80, 140}  # the connection drops once; resumed with a Range
FAILING = MISSING | SHORT


def size_of(i):
    return [0, 100, 3 * KiB, 40 * KiB, 130 * KiB][i % 5] + i


@pytest.fixture
def source():
    with HttpSource() as server:
        yield server


@pytest.fixture
def s3(aws_endpoint):
    client = boto3.client("s3")
    for bucket in ("local", "sim"):
        client.create_bucket(Bucket=bucket)
    return client


def serve(source, i):
    path, size = f"/f{i:03d}", size_of(i)
    if i in MISSING:
        return source.add(path, size, status=404)
    if i in SHORT:
        return source.add(path, max(size, 2 * KiB), truncate_at=KiB, ranges=False)
    if i in DROPPED:
        return source.add(path, 200 * KiB, drop_after=64 * KiB)
    return source.add(path, size)


def expected_body(i):
    return body_bytes(0, 200 * KiB if i in DROPPED else size_of(i))


@pytest.fixture
def manifest(source, tmp_path):
    resources = {i: serve(source, i) for i in range(N)}
    items = [
        {"url": source.url(f"/f{i:03d}"), "key": f"obj/{i:03d}.bin"} for i in range(N)
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path, items, resources


def fanout(tmp_path, **options):
    """The machine and handler `devkit sfn new fanout` writes."""
    target = tmp_path / "fanout"
    new_fanout(target, FanoutOptions(**options), overwrite=False)
    return target


def simulate(target, s3, endpoint, manifest_path, *more, extra=None):
    s3.put_object(
        Bucket="sim", Key="manifests/items.jsonl", Body=manifest_path.read_bytes()
    )
    run_input = {
        "manifest": {"bucket": "sim", "key": "manifests/items.jsonl"},
        "prefix": "s3://sim/mirror/",
        "results": {"bucket": "sim", "prefix": "fanout-results"},
        **(extra or {}),
    }
    return main(
        ["sfn", "simulate", str(target / "statemachine.asl.json"),
         "--tasks", str(target / "stream" / "handler.py"),
         "--input", json.dumps(run_input), "--endpoint-url", endpoint, *more]
    )  # fmt: skip


def keys(s3, bucket, prefix):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for p in pages for o in p.get("Contents", [])}


def body(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_local_batch_and_simulated_fanout_agree_and_the_retry_manifest_finishes_the_job(
    aws_endpoint, s3, source, manifest, tmp_path, capsys
):
    path, items, resources = manifest
    results = tmp_path / "local.jsonl"
    rc = main(["s3-stream", "--manifest", str(path), "s3://local/mirror/",
               "--results", str(results), "--jobs", "4", "-q"])  # fmt: skip
    assert rc == 1
    local = [json.loads(line) for line in results.read_text().splitlines()]
    local_failed = {r["url"] for r in local if r["status"] == "failed"}
    assert local_failed == {items[i]["url"] for i in FAILING}

    for i in DROPPED:
        resources[i].drops = 1  # drop again for the second run
    target = fanout(tmp_path, max_concurrency=4, tolerated_failure_percentage=25)
    capsys.readouterr()
    assert simulate(target, s3, aws_endpoint, path, "--scale", "100000") == 0
    out = capsys.readouterr().out
    # 7 failed items in 4 batches of 10: the Map counts 40 of 200 items failed
    assert "200 items in 20 STANDARD children: 160 succeeded, 40 failed" in out
    assert "at 100,000 items" in out and "Express children" in out

    # The same objects, byte for byte, and nothing else.
    good = sorted(set(range(N)) - FAILING)
    assert keys(s3, "local", "mirror/") == {f"mirror/obj/{i:03d}.bin" for i in good}
    assert keys(s3, "sim", "mirror/") == keys(s3, "local", "mirror/")
    for i in good:
        key = f"mirror/obj/{i:03d}.bin"
        assert body(s3, "sim", key) == body(s3, "local", key) == expected_body(i), key
    assert s3.list_multipart_uploads(Bucket="sim").get("Uploads", []) == []

    # The export, in AWS's layout.
    [manifest_key] = [
        k for k in keys(s3, "sim", "fanout-results/") if k.endswith("manifest.json")
    ]
    export = json.loads(body(s3, "sim", manifest_key))
    run_id = manifest_key.split("/")[1]
    assert (
        export["MapRunArn"].endswith(f":{run_id}") and ":mapRun:" in export["MapRunArn"]
    )
    assert export["DestinationBucket"] == "sim"
    files = export["ResultFiles"]
    assert [f["Key"] for f in files["SUCCEEDED"]] == [
        f"fanout-results/{run_id}/SUCCEEDED_0.json"
    ]
    assert [f["Key"] for f in files["FAILED"]] == [
        f"fanout-results/{run_id}/FAILED_0.json"
    ]
    assert files["PENDING"] == []
    failed_text = body(s3, "sim", files["FAILED"][0]["Key"]).decode()
    assert files["FAILED"][0]["Size"] == len(failed_text.encode())
    failed_records = [json.loads(line) for line in failed_text.splitlines()]  # JSONL
    assert len(failed_records) == 4
    for record in failed_records:
        assert record["Status"] == "FAILED" and record["Error"] == "ItemsFailed"
        assert {
            "ExecutionArn",
            "Input",
            "Name",
            "StartDate",
            "StopDate",
        } <= record.keys()
        assert json.loads(record["Input"])["BatchInput"] == {
            "prefix": "s3://sim/mirror/"
        }
    # COMPACT: a succeeded child is its output, the handler's records
    succeeded = [
        json.loads(x)
        for x in body(s3, "sim", files["SUCCEEDED"][0]["Key"]).splitlines()
    ]
    assert len(succeeded) == 16 and all(len(s["Items"]) == 10 for s in succeeded)

    # sfn results: the summary, and a retry manifest of exactly the failures.
    retry = tmp_path / "retry.jsonl"
    rc = main(["sfn", "results", "s3://sim/fanout-results/", "--endpoint-url",
               aws_endpoint, "--retry-manifest", str(retry), "--json"])  # fmt: skip
    assert rc == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["items"], summary["succeeded"], summary["failed"]) == (200, 193, 7)
    assert summary["failures_by_cause"] == {"SourceError (exit 1)": 7}
    assert summary["children"] == {"SUCCEEDED": 16, "FAILED": 4}
    stored_bytes = sum(r.get("bytes", 0) for r in local if r["status"] == "done")
    assert summary["bytes"] == stored_bytes  # done items of failed batches included
    retried = [json.loads(line) for line in retry.read_text().splitlines()]
    assert sorted(retried, key=lambda x: x["url"]) == sorted(
        (items[i] for i in FAILING), key=lambda x: x["url"]
    )

    # The same as a table; the prefix's one Map Run is found from the prefix.
    assert main(["sfn", "results", "s3://sim/fanout-results",
                 "--endpoint-url", aws_endpoint]) == 1  # fmt: skip
    table = capsys.readouterr().out
    assert "items      200" in table and "failed     7" in table
    assert "       7  SourceError (exit 1)" in table

    # Mend the sources; the retry manifest finishes the job.
    for i in FAILING:
        source.add(f"/f{i:03d}", size_of(i))
    rc = main(["s3-stream", "--manifest", str(retry), "s3://sim/mirror/", "-q"])
    assert rc == 0
    assert keys(s3, "sim", "mirror/") == {f"mirror/obj/{i:03d}.bin" for i in range(N)}
    for i in FAILING:
        assert body(s3, "sim", f"mirror/obj/{i:03d}.bin") == body_bytes(0, size_of(i))


def test_threshold_exceeded_fails_the_map_and_the_export_lists_what_never_ran(
    aws_endpoint, s3, source, manifest, tmp_path, capsys
):
    path, items, _ = manifest
    target = fanout(tmp_path, max_concurrency=2, tolerated_failure_percentage=10)
    assert simulate(target, s3, aws_endpoint, path, "--json") == 1
    run = json.loads(capsys.readouterr().out)
    assert run["status"] == "FAILED"
    assert run["error"] == "States.ExceedToleratedFailureThreshold"
    [map_run] = run["map_runs"]
    counts = map_run["item_counts"]
    # 10% of 200 tolerates 20 failed items: batches 0 and 5 fail (20), batch 10
    # makes it 30; batch 11, running beside it, is aborted; 12-19 never start.
    assert counts == {"total": 200, "succeeded": 80, "failed": 30, "aborted": 10,
                      "pending": 80}  # fmt: skip
    types = [e["type"] for e in run["history"]]
    assert "MapRunFailed" in types and types[-1] == "ExecutionFailed"

    # The export is still written; what never ran is in PENDING, retried too.
    manifest_key = map_run["result_writer"].removeprefix("s3://sim/")
    export = json.loads(body(s3, "sim", manifest_key))
    pending = json.loads(
        body(s3, "sim", export["ResultFiles"]["PENDING"][0]["Key"]).splitlines()[0]
    )
    assert pending["Status"] == "PENDING" and "Items" in json.loads(pending["Input"])
    retry = tmp_path / "retry.jsonl"
    rc = main(["sfn", "results", f"s3://sim/{manifest_key}", "--retry-manifest",
               str(retry), "--endpoint-url", aws_endpoint, "--json"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert summary["items"] == 200
    retried = {json.loads(line)["url"] for line in retry.read_text().splitlines()}
    assert len(retried) == 200 - summary["succeeded"]
    assert {items[i]["url"] for i in FAILING} <= retried


def test_a_manifest_that_is_not_jsonl_fails_with_item_reader_failed(
    aws_endpoint, s3, tmp_path, capsys
):
    target = fanout(tmp_path)
    bad = tmp_path / "items.csv"
    bad.write_text("url,dest\nhttp://127.0.0.1:9/x,s3://sim/x\n")
    assert simulate(target, s3, aws_endpoint, bad, "--json") == 1
    run = json.loads(capsys.readouterr().out)
    assert run["error"] == "States.ItemReaderFailed"
    assert "line 1 is not JSON" in run["cause"]
    assert "map_runs" not in run  # no child ran
    assert keys(s3, "sim", "mirror/") == set()
    # The Map's retrier tried the read again, on the virtual clock (4 retries).
    entered = [e for e in run["history"] if e["type"] == "MapStateEntered"]
    assert len(entered) == 1 and run["transitions"] == 5


def test_results_of_a_prefix_with_no_export_is_not_found(aws_endpoint, s3, capsys):
    rc = main(
        ["sfn", "results", "s3://sim/nothing-here/", "--endpoint-url", aws_endpoint]
    )
    err = capsys.readouterr().err
    assert rc == 5
    assert err.startswith("error: no ResultWriter export under s3://sim/nothing-here/")
    assert len(err.splitlines()) == 1


def test_results_reads_a_failed_batch_as_an_older_handler_wrote_it(
    aws_endpoint, s3, capsys
):
    # Before the done items' bytes went into ItemsFailed, its list held only
    # the failed records: the rest of the batch still counts as succeeded.
    items = [{"url": f"http://h/{n}", "key": f"k{n}"} for n in range(3)]
    failed = {"line": 2, "status": "failed", "error": "HTTP 404",
              "error_type": "SourceError", "exit_code": 1}  # fmt: skip
    cause = {"errorType": "ItemsFailed", "errorMessage": json.dumps([failed])}
    child = {"Status": "FAILED", "Error": "ItemsFailed", "Cause": json.dumps(cause),
             "Input": json.dumps({"Items": items})}  # fmt: skip
    s3.put_object(Bucket="sim", Key="old/run/FAILED_0.json", Body=json.dumps([child]))
    files = {"FAILED": [{"Key": "old/run/FAILED_0.json"}]}
    export = {"DestinationBucket": "sim", "ResultFiles": files}
    s3.put_object(Bucket="sim", Key="old/run/manifest.json", Body=json.dumps(export))
    rc = main(["sfn", "results", "s3://sim/old/run/manifest.json", "--json",
               "--endpoint-url", aws_endpoint])  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert (summary["items"], summary["succeeded"], summary["failed"]) == (3, 2, 1)
    assert summary["failures_by_cause"] == {"SourceError (exit 1)": 1}
    assert summary["bytes"] == 0  # that handler did not say


def test_results_refuses_what_is_not_an_s3_uri(capsys):
    assert main(["sfn", "results", "/tmp/manifest.json"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: '/tmp/manifest.json' is not an S3 URI"
    )


def machine(reader, **fields):
    """A Distributed Map whose child passes its input through (a Pass state)."""
    return {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemReader": reader,
                "ItemProcessor": {
                    "ProcessorConfig": {
                        "Mode": "DISTRIBUTED",
                        "ExecutionType": "EXPRESS",
                    },
                    "StartAt": "Check",
                    "States": {
                        "Check": {
                            "Type": "Choice",
                            "Choices": [
                                {"Variable": "$.bad", "IsPresent": True, "Next": "Bad"}
                            ],
                            "Default": "Good",
                        },
                        "Bad": {"Type": "Fail", "Error": "BadItem", "Cause": "bad"},
                        "Good": {"Type": "Pass", "End": True},
                    },
                },
                "End": True,
                **fields,
            }
        },
    }


def run_machine(tmp_path, endpoint, doc, capsys):
    path = tmp_path / "m.asl.json"
    path.write_text(json.dumps(doc))
    rc = main(["sfn", "simulate", str(path), "--endpoint-url", endpoint, "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_csv_reader_item_selector_and_a_batch_size_in_bytes(
    aws_endpoint, s3, tmp_path, capsys
):
    s3.put_object(Bucket="sim", Key="in.csv", Body=b"name,size\na,1\nb,22\nc,333\n")
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
        "Parameters": {"Bucket": "sim", "Key": "in.csv"},
    }
    doc = machine(
        reader,
        ItemSelector={"n.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value.name"},
        ItemBatcher={"MaxInputBytesPerBatch": 40, "BatchInput": {"run": 1}},
    )
    rc, run = run_machine(tmp_path, aws_endpoint, doc, capsys)
    assert rc == 0
    # {"Items":[{"n":0,"v":"a"}],"BatchInput":{"run":1}} is 40 bytes: one a batch
    assert run["output"] == [
        {"Items": [{"n": i, "v": v}], "BatchInput": {"run": 1}}
        for i, v in enumerate("abc")
    ]
    assert run["map_runs"][0]["execution_type"] == "EXPRESS"


def test_json_array_reader_and_a_tolerated_failure_count(
    aws_endpoint, s3, tmp_path, capsys
):
    items = [{"i": 0}, {"i": 1, "bad": 1}, {"i": 2}, {"i": 3, "bad": 1}]
    s3.put_object(Bucket="sim", Key="in.json", Body=json.dumps(items).encode())
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": "sim", "Key": "in.json"},
    }
    rc, run = run_machine(
        tmp_path, aws_endpoint, machine(reader, ToleratedFailureCount=2), capsys
    )
    assert rc == 0 and [o.get("Status") for o in run["output"]] == [
        None,
        "FAILED",
        None,
        "FAILED",
    ]
    assert run["output"][0] == {"i": 0} and run["output"][1]["Error"] == "BadItem"
    rc, run = run_machine(
        tmp_path, aws_endpoint, machine(reader, ToleratedFailureCount=1), capsys
    )
    assert rc == 1 and run["error"] == "States.ExceedToleratedFailureThreshold"
    # -v names each child that did not succeed, on stderr
    rc = main(["sfn", "simulate", str(tmp_path / "m.asl.json"), "-v",
               "--endpoint-url", aws_endpoint])  # fmt: skip
    err = capsys.readouterr().err
    failed = [
        line for line in err.splitlines() if ": FAILED (1 item(s)) BadItem" in line
    ]
    assert rc == 1 and len(failed) == 2 and failed[0].startswith("Map child ")


def test_default_writer_config_exports_json_arrays_of_records_that_results_reads(
    aws_endpoint, s3, source, tmp_path, capsys
):
    for i in range(12):
        source.add(f"/g{i}", 1000 + i, status=404 if i == 5 else 200)
    items = [{"url": source.url(f"/g{i}"), "key": f"g/{i}"} for i in range(12)]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    target = fanout(tmp_path, batch_items=4, tolerated_failure_percentage=50)
    machine_file = target / "statemachine.asl.json"
    doc = json.loads(machine_file.read_text())
    del doc["States"]["Fanout"]["ResultWriter"]["WriterConfig"]  # AWS's default: NONE
    machine_file.write_text(json.dumps(doc))
    assert simulate(target, s3, aws_endpoint, path, "--json") == 0
    run = json.loads(capsys.readouterr().out)
    manifest_key = run["output"]["map_run"]["ResultWriterDetails"]["Key"]
    export = json.loads(body(s3, "sim", manifest_key))
    [ok_file] = export["ResultFiles"]["SUCCEEDED"]
    records = json.loads(body(s3, "sim", ok_file["Key"]))  # one JSON array
    assert [r["Status"] for r in records] == ["SUCCEEDED", "SUCCEEDED"]
    output = json.loads(records[0]["Output"])  # JSON text, as AWS writes it
    assert [r["bytes"] for r in output["Items"]] == [1000, 1001, 1002, 1003]
    rc = main(["sfn", "results", f"s3://sim/{manifest_key}", "--json",
               "--endpoint-url", aws_endpoint])  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert rc == 1 and (summary["succeeded"], summary["failed"]) == (11, 1)
    # every stored item, each with its size: the 8 of the succeeded children
    # and the 3 done beside the 404 in the failed one (its ItemsFailed gives them)
    assert summary["bytes"] == sum(1000 + i for i in range(12) if i != 5)


def test_a_result_writer_bucket_that_does_not_exist_fails_the_state(
    aws_endpoint, s3, source, tmp_path, capsys
):
    source.add("/one", 10)
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps({"url": source.url("/one"), "key": "one"}) + "\n")
    target = fanout(tmp_path)
    machine_file = target / "statemachine.asl.json"
    doc = json.loads(machine_file.read_text())
    writer = doc["States"]["Fanout"]["ResultWriter"]["Parameters"]
    del writer["Bucket.$"]
    writer["Bucket"] = "absent-bucket"
    machine_file.write_text(json.dumps(doc))
    assert simulate(target, s3, aws_endpoint, path, "--json") == 1
    run = json.loads(capsys.readouterr().out)
    assert run["error"] == "States.ResultWriterFailed"
    assert "NoSuchBucket" in run["cause"]


def test_wait_for_machine_runs_with_the_handler_module_and_a_scripted_gatekeeper(
    aws_endpoint, s3, source, tmp_path, capsys
):
    for i in range(3):
        source.add(f"/w{i}", 500 + i)
    items = [{"url": source.url(f"/w{i}"), "key": f"w/{i}"} for i in range(3)]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    target = fanout(tmp_path, wait_for="marker")
    example = json.loads((target / "input.example.json").read_text())
    rc = simulate(
        target, s3, aws_endpoint, path, "--task", "Gatekeeper=NotReadyError*2,{}",
        "--json", extra={"wait_for": example["wait_for"]},
    )  # fmt: skip
    run = json.loads(capsys.readouterr().out)
    assert rc == 0, run["error"]
    assert run["output"]["map_run"]["MapRunArn"]
    for i in range(3):
        assert body(s3, "sim", f"mirror/w/{i}") == body_bytes(0, 500 + i)


def test_jsonata_distributed_map_reads_with_arguments(
    aws_endpoint, s3, tmp_path, capsys
):
    s3.put_object(Bucket="sim", Key="in.jsonl", Body=b'{"n": 1}\n\n{"n": 2}\n')
    doc = machine(
        {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Arguments": {"Bucket": "{% $states.input.b %}", "Key": "in.jsonl"},
        },
        ItemSelector={"twice": "{% $states.context.Map.Item.Value.n * 2 %}"},
    )
    doc["QueryLanguage"] = "JSONata"
    processor = doc["States"]["Map"]["ItemProcessor"]
    processor["States"] = {"Good": {"Type": "Pass", "End": True}}
    processor["StartAt"] = "Good"
    path = tmp_path / "m.asl.json"
    path.write_text(json.dumps(doc))
    rc = main(["sfn", "simulate", str(path), "--input", '{"b": "sim"}',
               "--endpoint-url", aws_endpoint, "--json"])  # fmt: skip
    run = json.loads(capsys.readouterr().out)
    assert rc == 0, run["cause"]
    assert run["output"] == [{"twice": 2}, {"twice": 4}]


def test_results_when_s3_cannot_be_reached_is_unavailable(monkeypatch, capsys):
    from testing.fake_google import free_port

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    rc = main(["sfn", "results", "s3://sim/r/", "--endpoint-url", endpoint])
    err = capsys.readouterr().err
    assert rc == 6
    assert err.startswith("error: cannot read s3://sim/r/: EndpointConnectionError")
