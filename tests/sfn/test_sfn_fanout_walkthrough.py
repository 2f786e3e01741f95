"""docs/sfn.md's walkthrough, step by step through the CLI, against a moto server.

A manifest of URLs (one of them missing), `s3-stream --manifest` on this
machine, then `sfn new fanout`, `sfn check`, `sfn simulate` of the Map
against the moto server's S3 with devkit's handler, `sfn results` and its
retry manifest, `sfn deploy` and `sfn run` against the same moto server
(which records the execution: it cannot run a Distributed Map), and the retry
manifest taken by both `sfn run` and `s3-stream --manifest`.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from devkit.cli import main
from testing.http_source import HttpSource, body_bytes

KiB = 1024


def cli(capsys, *args):
    capsys.readouterr()
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_the_walkthrough(tmp_path, sfn_recorder, shared_cache, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")
    with HttpSource() as web:
        walk(web, s3, sfn_recorder, capsys)


def walk(web, s3, role, capsys):
    sizes = {f"f{n}.bin": (n + 1) * 100 * KiB for n in range(8)}
    for name, size in sizes.items():
        web.add(f"/{name}", size)
    web.add("/gone.bin", 10, status=404)
    manifest = Path("items.jsonl")
    manifest.write_text(
        "".join(
            json.dumps({"url": web.url(f"/{name}"), "key": name}) + "\n"
            for name in [*sizes, "gone.bin"]
        )
    )

    def stored(prefix):
        for name, size in sizes.items():
            got = s3.get_object(Bucket="data", Key=prefix + name)["Body"].read()
            assert got == body_bytes(0, size)

    # 1. One machine: every item streamed, the missing one a failed item.
    local = ["--manifest", manifest, "s3://data/local/", "--results", "local.jsonl"]
    rc, _, err = cli(capsys, "s3-stream", *local, "-q")
    assert rc == 1, err
    records = [json.loads(line) for line in open("local.jsonl")]
    assert sorted(r["status"] for r in records) == ["done"] * 8 + ["failed"]
    stored("local/")

    # 2. The same job as a Distributed Map: write it, check it.
    options = ["--tolerated-failure-percentage", "20", "--batch-items", "1"]
    rc, out, _ = cli(capsys, "sfn", "new", "fanout", "mirror", *options)
    assert rc == 0 and "mirror/statemachine.asl.json" in out
    rc, _, err = cli(capsys, "sfn", "check", "--strict", "mirror/statemachine.asl.json")
    assert rc == 0 and err.startswith("0 error(s), 0 warning(s)")

    # 3. Offline: the simulator runs the Map against the local S3, each child
    # calling devkit's handler, and writes the export in AWS's layout.
    s3.upload_file(str(manifest), "data", "manifests/items.jsonl")
    sim_input = {
        "manifest": {"bucket": "data", "key": "manifests/items.jsonl"},
        "prefix": "s3://data/sim/",
        "results": {"bucket": "data", "prefix": "sim-results"},
    }
    rc, out, err = cli(capsys, "sfn", "simulate", "mirror/statemachine.asl.json",
                       "--tasks", "mirror/stream/handler.py",
                       "--input", json.dumps(sim_input))  # fmt: skip
    assert rc == 0, err  # 1 item of 9 failed: within the tolerated 20%
    stored("sim/")
    rc, out, err = cli(capsys, "sfn", "results", "s3://data/sim-results/",
                       "--retry-manifest", "retry.jsonl")  # fmt: skip
    assert rc == 1 and "failed     1" in out
    retry = [json.loads(line) for line in open("retry.jsonl")]
    assert [r["key"] for r in retry] == ["gone.bin"]

    # The retry manifest is a manifest for s3-stream --manifest too.
    again = [
        "--manifest",
        "retry.jsonl",
        "s3://data/local/",
        "--results",
        "again.jsonl",
    ]
    rc, _, err = cli(capsys, "s3-stream", *again, "-q")
    assert rc == 1 and "404" in err  # the source is still missing

    # 4. Deploy it (devkit itself in the stream function's lib/) and run it.
    rc, out, err = cli(capsys, "sfn", "deploy", "mirror", "--role-arn", role,
                       "--runtime", "python3.11")  # fmt: skip
    assert rc == 0, err
    assert "mirror-stream (created)" in out and "stateMachine:mirror (created)" in out
    rc, out, err = cli(capsys, "sfn", "run", "mirror", "s3://data/mirror/",
                       "--manifest", manifest, "--no-wait")  # fmt: skip
    assert rc == 0, err
    desc = boto3.client("stepfunctions").describe_execution(executionArn=out.strip())
    run_input = json.loads(desc["input"])
    assert run_input["prefix"] == "s3://data/mirror/"
    uploaded = s3.get_object(
        Bucket=run_input["manifest"]["bucket"], Key=run_input["manifest"]["key"]
    )["Body"].read()
    assert uploaded == manifest.read_bytes()
    # ... and so does sfn run, with the retry manifest.
    rc, out, err = cli(capsys, "sfn", "run", "mirror", "s3://data/mirror/",
                       "--manifest", "retry.jsonl", "--no-wait")  # fmt: skip
    assert rc == 0, err
