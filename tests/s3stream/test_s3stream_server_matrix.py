"""The integrity and clean-up cases on every S3-compatible server we can run.

moto, `rclone serve s3` and s3rver on 127.0.0.1 (testing/s3_others.py). Each
object devkit reports as stored is read back and compared byte for byte;
what a server cannot do is skipped with the reason.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import uuid

import pytest
from s3stream_support import NO_WAIT, SMALL, KiB

from devkit.aws import AwsOptions
from devkit.errors import SourceError, UploadError
from devkit.s3stream import budget, stream_to_s3
from devkit.s3stream.api import make_s3_client
from devkit.s3stream.source import StreamSource
from testing.http_source import body_bytes, body_sha256
from testing.s3_faults import FaultProxy, Faults
from testing.s3_others import SERVERS, missing, start_server

OLD = b"the object that was there before"
MiB = 1024 * KiB

# What each server can prove about a multipart / a single-PUT object.
PROOF = {
    "moto": ("crc32-full-object", "md5"),
    "rclone": ("md5", "md5"),  # HEAD gives the whole body's MD5 as the ETag
    "s3rver": ("md5", "md5"),
}


@pytest.fixture(scope="module", params=SERVERS)
def server(request):
    why = missing(request.param)
    if why:
        pytest.skip(why)
    with start_server(request.param) as server:
        yield server


@pytest.fixture
def admin(server):
    return server.client()


@pytest.fixture
def bucket(admin):
    name = f"m-{uuid.uuid4().hex[:16]}"
    admin.create_bucket(Bucket=name)
    return name


@pytest.fixture
def devkit_client(server, monkeypatch):
    """The client devkit itself builds (unsigned payload, CRC32 per part)."""
    key = "S3RVER" if server.kind == "s3rver" else "testing"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key)
    return make_s3_client(AwsOptions(endpoint_url=server.endpoint_url), 3)


def stored_sha256(admin, bucket, key):
    digest = hashlib.sha256()
    for chunk in admin.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(MiB):
        digest.update(chunk)
    return digest.hexdigest()


def assert_clean(server, admin, bucket, key, old_body=None):
    """The old object (or none) under the key; no unfinished upload where listable."""
    keys = [o["Key"] for o in admin.list_objects_v2(Bucket=bucket).get("Contents", [])]
    if old_body is None:
        assert key not in keys
    else:
        assert admin.get_object(Bucket=bucket, Key=key)["Body"].read() == old_body
    if server.can("list-uploads"):
        try:
            uploads = admin.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        except admin.exceptions.NoSuchUpload:
            uploads = []  # rclone's answer to a bucket with no unfinished upload
        assert uploads == [], f"orphaned multipart uploads: {uploads}"


@pytest.mark.parametrize(
    "size",
    [0, 1, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, 3 * 64 * KiB + 5],
    ids=["0", "1", "part-1", "part", "part+1", "3parts+5"],
)
def test_sizes_around_part_boundaries(
    server, admin, devkit_client, bucket, source, size
):
    source.add("/b", size, content_type="application/x-test")
    result = stream_to_s3(
        source.url("/b"), bucket, "k", client=devkit_client, limits=SMALL
    )
    assert stored_sha256(admin, bucket, "k") == body_sha256(size)
    multipart, single = PROOF[server.kind]
    assert result.verified == (multipart if size >= 64 * KiB else single)
    assert admin.head_object(Bucket=bucket, Key="k")["ContentType"] == (
        "application/x-test"
    )


@pytest.mark.parametrize(
    ("near_s3", "parts"),
    [(0.0, 20), (1.0, 7)],
    ids=["5-mib-parts", "16-mib-parts-of-a-near-s3"],
)
def test_100_mib(
    server, admin, devkit_client, bucket, source, monkeypatch, near_s3, parts
):
    # The server counts as far (5 MiB parts) or near (16 MiB: budget.near_s3)
    # whatever it answered in; the CLI's budget and floor, not this process's.
    monkeypatch.setattr(budget, "NEAR_S3", near_s3)
    size = 100 * MiB
    source.add("/big.iso", size, ranges=False)  # one stream: no probe to misjudge
    result = stream_to_s3(
        source.url("/big.iso"),
        bucket,
        "big.iso",
        client=devkit_client,
        max_memory=128 * MiB,
        resident=43 * MiB,
    )
    assert (result.bytes, result.parts) == (size, parts)
    assert result.verified == PROOF[server.kind][0]
    assert stored_sha256(admin, bucket, "big.iso") == body_sha256(size)


def test_chunked_source_of_unknown_size(server, admin, devkit_client, bucket, source):
    size = 300 * KiB + 7
    source.add("/c", size, chunked=True)
    result = stream_to_s3(
        source.url("/c"), bucket, "k", client=devkit_client, limits=SMALL
    )
    assert result.parts > 1
    assert stored_sha256(admin, bucket, "k") == body_sha256(size)


def test_stdin_through_the_cli(server, admin, bucket):
    data = body_bytes(0, 6 * MiB + 3)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "devkit",
            "s3-stream",
            "-",
            f"s3://{bucket}/stdin",
            "--expected-size",
            str(len(data)),
            "--json",
        ],  # fmt: skip
        input=data,
        capture_output=True,
        env={**os.environ, **server.credentials},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert stored_sha256(admin, bucket, "stdin") == body_sha256(len(data))
    assert b'"verified": "' + PROOF[server.kind][0].encode() in proc.stdout


def test_dropped_source_is_resumed(server, admin, devkit_client, bucket, source):
    size = 400 * KiB
    source.add("/d", size, drop_after=150 * KiB + 3)
    result = stream_to_s3(
        source.url("/d"),
        bucket,
        "k",
        client=devkit_client,
        limits=SMALL,
        resume=NO_WAIT,
    )
    assert result.resumes == 1
    assert stored_sha256(admin, bucket, "k") == body_sha256(size)


def test_failure_after_parts_went_up_leaves_the_old_object(
    server, admin, devkit_client, bucket
):
    admin.put_object(Bucket=bucket, Key="k", Body=OLD)
    src = StreamSource(io.BytesIO(body_bytes(0, 200 * KiB)), "stdin", None)
    with pytest.raises(SourceError) as err:
        stream_to_s3(
            src,
            bucket,
            "k",
            client=devkit_client,
            limits=SMALL,
            expected_size=300 * KiB,
        )
    if not server.can("abort"):
        # Said, not hidden: the parts stay and the user is told how to remove them.
        assert "could not be aborted" in str(err.value)
    assert_clean(server, admin, bucket, "k", old_body=OLD)


def test_a_part_changed_on_the_wire_never_becomes_the_object(
    server, admin, bucket, source, monkeypatch
):
    admin.put_object(Bucket=bucket, Key="k", Body=OLD)
    source.add("/x", 300 * KiB)
    with FaultProxy(server.endpoint_url, Faults(corrupt_parts={2})) as proxy:
        key = "S3RVER" if server.kind == "s3rver" else "testing"
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key)
        client = make_s3_client(AwsOptions(endpoint_url=proxy.endpoint_url), 3)
        with pytest.raises(UploadError):
            stream_to_s3(source.url("/x"), bucket, "k", client=client, limits=SMALL)
    if server.kind == "moto":
        # moto checks no part CRC: the object was stored, proved wrong by its
        # CRC and deleted (in a versioned bucket the old version would return).
        assert_clean(server, admin, bucket, "k")
    else:
        # rclone refuses the part (Content-MD5); s3rver's ETag for it is not
        # its MD5: either way the upload stops before Complete.
        assert_clean(server, admin, bucket, "k", old_body=OLD)


def test_no_overwrite_keeps_an_existing_object(
    server, admin, devkit_client, bucket, source
):
    admin.put_object(Bucket=bucket, Key="k", Body=OLD)
    source.add("/n", 300 * KiB)
    with pytest.raises(UploadError, match="already exists"):
        stream_to_s3(
            source.url("/n"), bucket, "k", client=devkit_client, limits=SMALL,
            no_overwrite=True,
        )  # fmt: skip
    assert_clean(server, admin, bucket, "k", old_body=OLD)


def test_read_back_proves_the_bytes(server, admin, devkit_client, bucket, source):
    source.add("/r", 300 * KiB)
    result = stream_to_s3(
        source.url("/r"),
        bucket,
        "k",
        client=devkit_client,
        limits=SMALL,
        read_back=True,
    )
    assert (result.verified, result.proof) == ("read-back", result.checksum)


@pytest.mark.parametrize("part", [2, 0], ids=["part", "single-put"])
def test_a_body_refused_as_changed_is_resent_or_fails_cleanly(
    server, admin, bucket, source, monkeypatch, part
):
    if server.kind != "rclone":
        pytest.skip(f"{server.kind} checks neither Content-MD5 nor CRC32 on receipt")
    admin.put_object(Bucket=bucket, Key="k", Body=OLD)
    size = 300 * KiB if part else 10 * KiB
    res = source.add("/x", size, chunked=True)  # one sequential read
    with FaultProxy(server.endpoint_url, Faults(corrupt_once={part})) as proxy:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        client = make_s3_client(AwsOptions(endpoint_url=proxy.endpoint_url), 3)
        try:
            stream_to_s3(source.url("/x"), bucket, "k", client=client, limits=SMALL)
        except UploadError as err:
            # rclone 1.75 sometimes drops the whole upload when it refuses a
            # part, so nothing can be resent: then a clean, named failure.
            assert part and "BadDigest" in str(err)
            assert str(err).endswith("the server then discarded the upload")
            assert_clean(server, admin, bucket, "k", old_body=OLD)
            return
        attempts = proxy.faults.part_attempts.get(part) or proxy.faults.put_attempts
        assert attempts == 2  # refused once (BadDigest), resent from memory
    assert len(res.requests) == 1  # the source was read once
    assert stored_sha256(admin, bucket, "k") == body_sha256(size)
