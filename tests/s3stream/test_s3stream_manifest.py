"""`s3-stream --manifest`: many URLs, one result line each, failures kept apart."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from s3stream_support import KiB

from devkit.cli import main
from testing.http_source import body_bytes

MiB = 1024 * KiB
README = Path(__file__).parents[2] / "docs" / "s3-stream.md"


@pytest.fixture
def endpoint(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    return s3_server.endpoint_url


def write_jsonl(path, items):
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def read_results(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def stored(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_mixed_manifest_stores_good_items_and_records_each_failure(
    endpoint, s3, bucket, source, tmp_path, capsys
):
    sizes = {"/a": 100, "/b": 6 * MiB + 3, "/c": 1 * MiB, "/d": 0}
    for path, size in sizes.items():
        source.add(path, size)
    source.add("/drop", 7 * MiB, drop_after=3 * MiB)  # dropped, resumed by Range
    source.add("/missing", 10, status=404)
    source.add("/short", 2 * MiB, truncate_at=MiB, ranges=False)
    items = [
        {"url": source.url(p), "dest": f"s3://{bucket}/out{p}"}
        for p in [*sizes, "/drop", "/missing", "/short"]
    ]
    items.insert(2, {"url": source.url("/a"), "dest": "not-s3"})  # a bad line
    manifest = tmp_path / "m.jsonl"
    text = "".join(json.dumps(i) + "\n" for i in items) + "{broken\n"
    manifest.write_text(text)
    results = tmp_path / "r.jsonl"

    code = main(["s3-stream", "--manifest", str(manifest), "--results", str(results),
                 "--jobs", "3"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1, err
    for path, size in {**sizes, "/drop": 7 * MiB}.items():
        assert stored(s3, bucket, f"out{path}") == body_bytes(0, size), path
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert keys == {f"out{p}" for p in [*sizes, "/drop"]}
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    records = read_results(results)
    by_line = {r["line"]: r for r in records}
    assert len(records) == len(items) + 1
    failed = {r["line"]: r for r in records if r["status"] == "failed"}
    assert set(failed) == {3, 7, 8, 9}
    assert failed[3]["error_type"] == "ConfigError"
    assert "not an S3 URL" in failed[3]["error"]
    assert failed[7]["error_type"] == "SourceError" and "404" in failed[7]["error"]
    assert failed[8]["error_type"] == "SourceError"
    assert failed[9]["error"].startswith("line 9: not JSON")
    assert all(r["exit_code"] > 0 for r in failed.values())
    drop = next(r for r in records if r["dest"].endswith("/drop"))
    assert drop["status"] == "done" and drop["resumes"] >= 1
    assert by_line[1]["bytes"] == 100 and by_line[1]["key"] == "out/a"
    assert out.startswith("5 done, 4 failed, 14.0 MiB stored; results in")
    assert out.rstrip().endswith(f"results in {results}")
    warned = sorted(line for line in err.splitlines() if line.startswith("warning"))
    assert len(warned) == 4 and warned[0].startswith("warning: line 3: destination")
    assert "warning: line 9: not JSON" in err


def test_resume_skips_what_is_still_there_and_redoes_what_changed(
    endpoint, s3, bucket, source, tmp_path, capsys
):
    res = {name: source.add(f"/{name}", 2 * MiB) for name in "abc"}
    manifest = write_jsonl(
        tmp_path / "m.jsonl",
        [{"url": source.url(f"/{n}"), "key": n} for n in "abc"],
    )
    results = tmp_path / "r.jsonl"
    argv = ["s3-stream", "--manifest", str(manifest), f"s3://{bucket}/p",
            "--results", str(results)]  # fmt: skip
    assert main(argv) == 0
    s3.delete_object(Bucket=bucket, Key="p/b")  # gone: streamed again
    s3.put_object(Bucket=bucket, Key="p/c", Body=b"x" * (2 * MiB))  # same size, other
    for name in "abc":
        res[name].requests.clear()
    capsys.readouterr()

    assert main([*argv, "--resume"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 done, 0 failed, 1 skipped, 4.0 MiB stored")
    assert res["a"].requests == []
    assert res["b"].requests and res["c"].requests
    for name in "abc":
        assert stored(s3, bucket, f"p/{name}") == body_bytes(0, 2 * MiB)
    assert len(read_results(results)) == 5  # appended, never rewritten


def test_csv_manifest_with_a_header_row(endpoint, s3, bucket, source, tmp_path, capsys):
    source.add("/x.bin", 1000)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"url,dest\n{source.url('/x.bin')},s3://{bucket}/k/\n")
    assert main(["s3-stream", "--manifest", str(manifest)]) == 0
    out, err = capsys.readouterr()
    [record] = [json.loads(line) for line in out.splitlines()]
    assert (record["status"], record["key"], record["bytes"]) == (
        "done",
        "k/x.bin",
        1000,
    )
    assert stored(s3, bucket, "k/x.bin") == body_bytes(0, 1000)
    assert err.startswith("1 done, 0 failed")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("just some words\n", "line 1 is not a manifest item"),
        ("\n\n[1, 2]\n", "line 3 is not a manifest item"),
        ('{"dest": "s3://b/k"}\n', "line 1 is not a manifest item (line 1: no url)"),
    ],
)
def test_a_file_that_is_not_a_manifest_is_one_error_naming_the_line(
    endpoint, tmp_path, capsys, text, why
):
    manifest = tmp_path / "m.txt"
    manifest.write_text(text)
    code = main(["s3-stream", "--manifest", str(manifest)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {manifest} {why}"), err
    assert err.count("\n") == 1


def test_secrets_in_a_url_or_header_stay_out_of_the_results(
    endpoint, s3, bucket, source, tmp_path, capsys
):
    source.add("/s", 10, status=403)
    manifest = write_jsonl(
        tmp_path / "m.jsonl",
        [{"url": source.url("/s") + "?X-Amz-Signature=SECRETSIG",
          "dest": f"s3://{bucket}/s", "headers": {"Authorization": "Bearer TOKEN"}}],
    )  # fmt: skip
    assert main(["s3-stream", "--manifest", str(manifest)]) == 1
    out, err = capsys.readouterr()
    assert "SECRETSIG" not in out + err and "TOKEN" not in out + err
    assert json.loads(out)["status"] == "failed"


def test_sigint_halfway_then_resume_skips_exactly_what_finished(
    s3_server, s3, bucket, source, tmp_path
):
    # Ten items, each paced to take a while: a SIGINT after the first results
    # stops the run with some done and some in flight.
    names = [f"f{i}" for i in range(10)]
    res = {name: source.add(f"/{name}", 2 * MiB, rate=4 * MiB) for name in names}
    manifest = write_jsonl(
        tmp_path / "m.jsonl",
        [{"url": source.url(f"/{n}"), "dest": f"s3://{bucket}/{n}"} for n in names],
    )
    results = tmp_path / "r.jsonl"
    argv = [sys.executable, "-m", "devkit", "s3-stream", "--manifest", str(manifest),
            "--results", str(results), "--jobs", "2"]  # fmt: skip
    env = {**os.environ, **s3_server.credentials}
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not results.exists() or results.read_text().count("\n") < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"rerun with --resume" in err
    finished = {r["dest"] for r in read_results(results)}
    assert 2 <= len(finished) < len(names)
    assert all(r["status"] == "done" for r in read_results(results))
    # What was in flight was aborted: only finished items exist in S3.
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert {f"s3://{bucket}/{k}" for k in keys} == finished
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    for name in names:
        res[name].requests.clear()

    done = subprocess.run([*argv, "--resume"], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr
    redone = {f"s3://{bucket}/{n}" for n in names if res[n].requests}
    assert redone == {f"s3://{bucket}/{n}" for n in names} - finished
    for name in names:
        assert stored(s3, bucket, name) == body_bytes(0, 2 * MiB)


def readme_manifest():
    """The JSONL block and the two commands of the README's --manifest example."""
    section = README.read_text()
    block = section.split("```json\n", 1)[1].split("```", 1)[0]
    commands = [
        ln
        for ln in section.splitlines()
        if ln.startswith("devkit ") and "--manifest" in ln
    ]
    return block, commands


def test_readme_manifest_example_runs_as_written(s3_server, s3, source, tmp_path):
    block, commands = readme_manifest()
    assert len(commands) == 2 and commands[1] == commands[0] + " --resume"
    items = [json.loads(line) for line in block.splitlines()]
    res = {}
    for item in items:  # each URL served locally under its own path
        path = urlsplit(item["url"]).path
        res[path] = source.add(path, 3 * MiB + len(path))
        item["url"] = source.url(path)
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    bucket = re.search(r"s3://([^/]+)/", commands[0]).group(1)
    for name in {bucket, "vendor-drop"}:
        s3.create_bucket(Bucket=name)
    env = {**os.environ, **s3_server.credentials,
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # fmt: skip
    first = subprocess.run(commands[0], shell=True, cwd=tmp_path, env=env,
                           capture_output=True, timeout=120)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert first.stdout.decode().startswith("3 done, 0 failed")
    head = s3.head_object(Bucket=bucket, Key="mirror/2026/feb.parquet")
    assert head["Metadata"] == {"month": "02"}
    assert stored(s3, "vendor-drop", "export.csv") == body_bytes(0, 3 * MiB + 11)
    sent = {k.lower(): v for k, v in res["/export.csv"].requests[0].items()}
    assert sent["authorization"] == "Bearer abc123"
    assert "abc123" not in (tmp_path / "results.jsonl").read_text()
    again = subprocess.run(commands[1], shell=True, cwd=tmp_path, env=env,
                           capture_output=True, timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.decode().startswith("0 done, 0 failed, 3 skipped")
