"""`devkit s3-stream` as a user runs it: exit codes, stdout, stderr, signals."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from s3stream_support import KiB, assert_nothing_written

from devkit.cli import main
from testing.http_source import body_bytes, body_sha256


@pytest.fixture
def endpoint(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    return s3_server.endpoint_url


def test_prints_one_result_line_on_stdout(endpoint, s3, bucket, source, capsys):
    source.add("/a.bin", 4 * 1024 * KiB)
    code = main(["s3-stream", source.url("/a.bin"), f"s3://{bucket}/a.bin"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.count("\n") == 1
    assert out.startswith(f"s3://{bucket}/a.bin  4194304 bytes in 1 part(s)")
    # moto keeps no CRC for a single PUT: the claim is the ETag it computed
    md5 = hashlib.md5(body_bytes(0, 4 * 1024 * KiB)).hexdigest()
    assert out.rstrip().endswith(f", verified md5 {md5}")
    assert err == ""  # no progress bar when stderr is not a terminal


def test_json_output_has_the_documented_keys(endpoint, s3, bucket, source, capsys):
    source.add("/j", 9 * 1024 * KiB)
    code = main(["s3-stream", source.url("/j"), f"s3://{bucket}/j", "--json",
                 "--part-size", "5MiB"])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"bucket", "key", "bytes", "parts", "part_size", "etag", "checksum",
            "seconds", "resumes", "version_id", "verified"} <= doc.keys()  # fmt: skip
    assert doc["verified"] == "crc32-full-object"  # moto keeps multipart CRCs
    assert (doc["bytes"], doc["parts"], doc["part_size"]) == (
        9 * 1024 * KiB,
        2,
        5 * 1024 * KiB,
    )


def test_key_ending_in_slash_takes_the_source_name(
    endpoint, s3, bucket, source, capsys
):
    source.add("/dir/file.tar", 100)
    assert main(["s3-stream", source.url("/dir/file.tar"), f"s3://{bucket}/in/"]) == 0
    assert s3.head_object(Bucket=bucket, Key="in/file.tar")["ContentLength"] == 100


def test_header_values_are_sent_but_never_printed(endpoint, bucket, source, capsys):
    res = source.add("/private", 10, status=403)
    code = main(["s3-stream", source.url("/private?X-Amz-Signature=abc"), f"s3://{bucket}/k",
                 "--header", "Authorization: Bearer TOPSECRET"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1
    assert res.requests[0]["Authorization"] == "Bearer TOPSECRET"
    assert err.strip() == f"error: 403 Forbidden from {source.url('/private')}"
    assert "TOPSECRET" not in out + err and "abc" not in out + err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["http://127.0.0.1:1/x", "bucket/key"],
            "is not an S3 URL: use s3://BUCKET/KEY",
        ),
        (["http://127.0.0.1:1/x", "s3://bucket"], "needs a bucket and a key"),
        (["/no/such/file", "s3://bucket/k"], "no such file: /no/such/file"),
        (["ftp://host/x", "s3://bucket/k"], "unsupported source ftp://"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    assert main(["s3-stream", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_garbage_collection_is_back_on_after_the_command_whatever_its_end(
    endpoint, bucket, source, capsys
):
    # The command pauses collection while it imports and builds its client:
    # a caller of main() (a test, a script) must get it back either way.
    source.add("/gc", 10)
    assert main(["s3-stream", "/no/such/file", f"s3://{bucket}/k"]) == 2
    assert gc.isenabled()
    assert main(["s3-stream", source.url("/gc"), f"s3://{bucket}/gc", "-q"]) == 0
    assert gc.isenabled()


def test_part_size_outside_limits_exit_2(endpoint, bucket, source, capsys):
    source.add("/x", 10)
    assert (
        main(["s3-stream", source.url("/x"), f"s3://{bucket}/k", "--part-size", "1MiB"])
        == 2
    )
    assert "outside S3's limits" in capsys.readouterr().err


def test_bad_size_value_is_a_usage_error(capsys):
    assert main(["s3-stream", "-", "s3://b/k", "--expected-size", "lots"]) == 2
    assert "is not a size" in capsys.readouterr().err


def test_missing_credentials_are_explained(
    endpoint, bucket, source, monkeypatch, capsys, tmp_path
):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    source.add("/x", 10)
    assert main(["s3-stream", source.url("/x"), f"s3://{bucket}/k"]) == 2
    assert "error: no AWS credentials found" in capsys.readouterr().err


def test_missing_bucket_exit_1(endpoint, source, capsys):
    source.add("/x", 10)
    assert main(["s3-stream", source.url("/x"), "s3://does-not-exist/k"]) == 1
    assert "bucket 'does-not-exist' does not exist" in capsys.readouterr().err


def _cli_env(endpoint):
    return {**os.environ, "AWS_ENDPOINT_URL": endpoint}


def test_stdin_with_expected_size(endpoint, s3, bucket):
    data = body_bytes(0, 7 * 1024 * KiB)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "devkit",
            "s3-stream",
            "-",
            f"s3://{bucket}/from-stdin",
            "--expected-size",
            str(len(data)),
        ],  # fmt: skip
        input=data,
        capture_output=True,
        env=_cli_env(endpoint),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    body = s3.get_object(Bucket=bucket, Key="from-stdin")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == body_sha256(len(data))


def test_short_stdin_with_expected_size_fails_and_writes_nothing(endpoint, s3, bucket):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "devkit",
            "s3-stream",
            "-",
            f"s3://{bucket}/short",
            "--expected-size",
            "12MiB",
        ],  # fmt: skip
        input=body_bytes(0, 6 * 1024 * KiB),
        capture_output=True,
        env=_cli_env(endpoint),
        timeout=60,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.decode() == "error: stdin ended after 6291456 of 12582912 bytes\n"
    )
    assert_nothing_written(s3, bucket, "short")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_aborts_the_multipart_upload(endpoint, s3, bucket, source, sig):
    # A slow source (4 MiB/s): the upload is mid-stream when the signal lands.
    source.add("/slow", 64 * 1024 * KiB, rate=4 * 1024 * KiB)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devkit",
            "s3-stream",
            source.url("/slow"),
            f"s3://{bucket}/slow",
            "--part-size",
            "5MiB",
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_cli_env(endpoint),
    )
    deadline = time.monotonic() + 30
    while not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    time.sleep(1.5)  # let a part or two go up
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.decode() == (
        f"error: interrupted ({sig.name}): "
        "the upload was aborted, nothing was written\n"
    )
    assert out == b""
    assert_nothing_written(s3, bucket, "slow")


def test_size_only_is_said_plainly_and_read_back_proves(
    s3_server, bucket, source, monkeypatch, capsys
):
    from testing.s3_faults import FaultProxy, Faults

    source.add("/o", 6 * 1024 * KiB)
    faults = Faults(hide_full_object=True, etag_override="opaque-etag")
    with FaultProxy(s3_server.endpoint_url, faults) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint_url)
        assert main(["s3-stream", source.url("/o"), f"s3://{bucket}/o"]) == 0
        line = capsys.readouterr().out
        assert line.rstrip().endswith(
            ", size checked only (no checksum on the server: try --verify read-back)"
        )
        assert "verified" not in line
        args = ["s3-stream", source.url("/o"), f"s3://{bucket}/o", "--json"]
        assert main([*args, "--verify", "read-back"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verified"] == "read-back"


def test_no_overwrite_exit_1_and_the_old_object_stays(
    endpoint, s3, bucket, source, capsys
):
    s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    source.add("/x", 10)
    args = ["s3-stream", source.url("/x"), f"s3://{bucket}/k", "--no-overwrite"]
    assert main(args) == 1
    assert capsys.readouterr().err == (
        f"error: s3://{bucket}/k already exists (--no-overwrite): nothing was written\n"
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"old"
