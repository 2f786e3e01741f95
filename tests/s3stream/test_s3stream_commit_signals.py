"""Signals at the worst moments: after S3 acted on a request, before its answer.

The fault proxy holds S3's answer back after moto has acted on the request,
so a signal sent to the real CLI process lands between the commit and the
answer; the CLI must find out and say what S3 holds.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
from s3stream_support import KiB, assert_nothing_written

from testing.http_source import body_bytes
from testing.s3_faults import FaultProxy, Faults

OLD = b"the previous object"


@pytest.fixture
def proxy(s3_server):
    with FaultProxy(s3_server.endpoint_url, Faults()) as proxy:
        yield proxy


def start(proxy, url, dest, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "devkit", "s3-stream", url, dest, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "AWS_ENDPOINT_URL": proxy.endpoint_url},
    )


def signal_when(proc, seen, operation, sig):
    """Send `sig` once the proxy has seen `operation` (acted on or arrived)."""
    deadline = time.monotonic() + 60
    while operation not in seen:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{operation} never happened"
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out.decode(), err.decode()


def stored(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.mark.parametrize(
    ("size", "operation"),
    [
        (12 * 1024 * KiB, "CompleteMultipartUpload"),  # three 5 MiB parts
        (12 * 1024 * KiB, "HeadObject"),  # during the verifying HEAD
    ],
)
def test_signal_after_s3_committed_reports_the_new_object(
    proxy, s3, bucket, source, size, operation
):
    s3.put_object(Bucket=bucket, Key="k", Body=OLD)
    source.add("/data", size)
    proxy.faults.delay_after[operation] = 3.0
    proc = start(proxy, source.url("/data"), f"s3://{bucket}/k")
    code, out, err = signal_when(proc, proxy.faults.acted, operation, signal.SIGTERM)
    assert code == 130
    assert out == ""
    assert err.startswith(
        f"error: interrupted (SIGTERM) after S3 committed the upload: s3://{bucket}/k "
        f"is the new object, {size} bytes, verified crc32-full-object crc32:"
    ), err
    assert err.count("\n") == 1
    assert stored(s3, bucket, "k") == body_bytes(0, size)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("etag", [None, "opaque-etag"])
def test_signal_after_a_single_put_says_what_s3_can_confirm(
    proxy, s3, bucket, source, etag
):
    # moto keeps no checksum of a PutObject, but its ETag is the body's MD5,
    # which proves the new object is there; with an opaque ETag (as some
    # S3-compatible servers give) the size is all that can be confirmed.
    s3.put_object(Bucket=bucket, Key="k", Body=OLD)
    source.add("/data", 100 * KiB)
    proxy.faults.delay_after["PutObject"] = 3.0
    proxy.faults.etag_override = etag
    proc = start(proxy, source.url("/data"), f"s3://{bucket}/k")
    code, out, err = signal_when(proc, proxy.faults.acted, "PutObject", signal.SIGINT)
    assert (code, out) == (130, "")
    if etag is None:
        md5 = hashlib.md5(body_bytes(0, 100 * KiB)).hexdigest()
        assert err == (
            "error: interrupted (SIGINT) after S3 committed the upload: "
            f"s3://{bucket}/k is the new object, {100 * KiB} bytes, "
            f"verified md5 {md5}\n"
        )
    else:
        assert err == (
            f"error: interrupted (SIGINT) after the upload was sent: s3://{bucket}/k "
            f"holds {100 * KiB} bytes, but S3 keeps no checksum to confirm they are "
            "the new ones\n"
        )
    assert stored(s3, bucket, "k") == body_bytes(0, 100 * KiB)


def test_signal_before_s3_saw_the_complete_aborts_it(proxy, s3, bucket, source):
    # Complete is held in the proxy before moto sees it: the abort gets there
    # first, so the upload can no longer complete and the old object stays.
    s3.put_object(Bucket=bucket, Key="k", Body=OLD)
    source.add("/data", 12 * 1024 * KiB)
    proxy.faults.delay_before["CompleteMultipartUpload"] = 3.0
    proc = start(proxy, source.url("/data"), f"s3://{bucket}/k")
    code, out, err = signal_when(
        proc, proxy.faults.arrived, "CompleteMultipartUpload", signal.SIGINT
    )
    assert code == 130
    assert err == (
        "error: interrupted (SIGINT): the upload was aborted, nothing was written\n"
    )
    time.sleep(3.5)  # the held Complete reaches moto now, and must fail there
    assert_nothing_written(s3, bucket, "k", old_body=OLD)


@pytest.mark.parametrize(
    "held",
    ["delay_before", "delay_after"],
    ids=["before-s3-acts", "after-s3-acted"],
)
def test_signal_during_create_aborts_the_upload_s3_creates(
    proxy, s3, bucket, source, held
):
    # The signal lands while CreateMultipartUpload is on its way: held before
    # moto sees it (a listing made at the signal finds nothing: devkit waits
    # for the answer and aborts the upload it names), or after moto acted.
    source.add("/data", 12 * 1024 * KiB)
    getattr(proxy.faults, held)["CreateMultipartUpload"] = 1.5
    proc = start(proxy, source.url("/data"), f"s3://{bucket}/k")
    seen = proxy.faults.arrived if held == "delay_before" else proxy.faults.acted
    code, out, err = signal_when(proc, seen, "CreateMultipartUpload", signal.SIGINT)
    assert code == 130
    assert err == (
        "error: interrupted (SIGINT): the upload was aborted, nothing was written\n"
    )
    assert "CreateMultipartUpload" in proxy.faults.acted
    assert_nothing_written(s3, bucket, "k")
