"""The engine end to end: real moto S3, real HTTP sources with faults."""

from __future__ import annotations

import hashlib
import io

import pytest
from s3stream_support import NO_WAIT, SMALL, KiB, assert_nothing_written, proxy_client

from devkit.errors import ConfigError, SourceError, UploadError
from devkit.s3stream import S3Limits, open_source, stream_to_s3
from devkit.s3stream.source import StreamSource
from testing.http_source import body_bytes, body_sha256
from testing.s3_faults import FaultProxy, Faults


def stored_sha256(s3, bucket, key):
    return hashlib.sha256(
        s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    ).hexdigest()


def test_sized_download_is_stored_byte_identical_in_parts(s3, bucket, source):
    size = 1000 * KiB + 17
    source.add("/data.bin", size, content_type="application/x-test")
    result = stream_to_s3(source.url("/data.bin"), bucket, "k", client=s3, limits=SMALL)
    assert stored_sha256(s3, bucket, "k") == body_sha256(size)
    assert result.bytes == size
    assert result.parts == -(-size // (64 * KiB))  # 64 KiB parts fit in 100
    assert result.etag.endswith(f"-{result.parts}")
    assert result.verified == "crc32-full-object"
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/x-test"  # carried from the source
    assert "crc32:" + head["ChecksumCRC32"] == result.checksum == result.proof
    assert_nothing_written(s3, bucket, "other-key")


def test_known_size_picks_a_part_size_that_fits_the_part_budget(s3, bucket, source):
    size = 10_000 * KiB  # 64 KiB parts would need 157 > 100 parts
    source.add("/big", size)
    result = stream_to_s3(source.url("/big"), bucket, "k", client=s3, limits=SMALL)
    assert result.parts <= SMALL.max_parts
    assert result.part_size == 100 * KiB
    assert stored_sha256(s3, bucket, "k") == body_sha256(size)


def test_chunked_body_of_unknown_size_grows_its_parts(s3, bucket, source):
    # 1 KiB parts doubling every 9 parts (100 // 11): 300 KiB takes 46 parts,
    # where a fixed 1 KiB part size would need 300 (more than the budget).
    limits = S3Limits(
        min_part=KiB, max_part=1024 * KiB, max_parts=100, default_part=KiB
    )
    size = 300 * KiB
    source.add("/stream", size, chunked=True)
    result = stream_to_s3(source.url("/stream"), bucket, "k", client=s3, limits=limits)
    assert result.parts == 9 * 5 + 1  # 9 each of 1, 2, 4, 8, 16 KiB, then 21 KiB
    assert stored_sha256(s3, bucket, "k") == body_sha256(size)


def test_unknown_size_beyond_the_part_budget_fails_and_cleans_up(s3, bucket, source):
    limits = S3Limits(min_part=KiB, max_part=2 * KiB, max_parts=20, default_part=KiB)
    source.add("/endless", 200 * KiB, chunked=True)
    with pytest.raises(UploadError, match="larger than .* the most 20 parts"):
        stream_to_s3(source.url("/endless"), bucket, "k", client=s3, limits=limits)
    assert_nothing_written(s3, bucket, "k")


def test_small_object_goes_up_in_one_put(s3, bucket, source):
    source.add("/small.txt", 10 * KiB, content_type=None)
    result = stream_to_s3(
        source.url("/small.txt"), bucket, "dir/small.txt", client=s3, limits=SMALL
    )
    assert result.parts == 1
    assert "-" not in result.etag  # a single PUT's ETag, not a multipart one
    assert stored_sha256(s3, bucket, "dir/small.txt") == body_sha256(10 * KiB)
    head = s3.head_object(Bucket=bucket, Key="dir/small.txt")
    assert head["ContentType"] == "text/plain"  # guessed from the key


def test_empty_body_is_an_empty_object(s3, bucket, source):
    source.add("/empty", 0)
    result = stream_to_s3(source.url("/empty"), bucket, "k", client=s3, limits=SMALL)
    assert result.bytes == 0
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == 0


def test_file_source_and_content_type_guess(s3, bucket, tmp_path):
    path = tmp_path / "report.json"
    path.write_bytes(body_bytes(0, 300 * KiB))
    result = stream_to_s3(str(path), bucket, "report.json", client=s3, limits=SMALL)
    assert result.parts == 5
    assert (
        s3.head_object(Bucket=bucket, Key="report.json")["ContentType"]
        == "application/json"
    )
    assert stored_sha256(s3, bucket, "report.json") == body_sha256(300 * KiB)


def test_stream_shorter_than_expected_size_fails(s3, bucket):
    src = StreamSource(io.BytesIO(body_bytes(0, 200 * KiB)), "stdin", None)
    with pytest.raises(SourceError, match=r"stdin ended after 204800 of 307200 bytes"):
        stream_to_s3(src, bucket, "k", client=s3, limits=SMALL, expected_size=300 * KiB)
    assert_nothing_written(s3, bucket, "k")


def test_stream_longer_than_expected_size_fails(s3, bucket):
    src = StreamSource(io.BytesIO(body_bytes(0, 300 * KiB)), "stdin", None)
    with pytest.raises(SourceError, match="more than the 204800 announced"):
        stream_to_s3(src, bucket, "k", client=s3, limits=SMALL, expected_size=200 * KiB)
    assert_nothing_written(s3, bucket, "k")


def test_dropped_connection_is_resumed_at_the_exact_offset(s3, bucket, source):
    size = 700 * KiB
    res = source.add("/drop", size, drop_after=300 * KiB + 3)
    result = stream_to_s3(
        source.url("/drop"), bucket, "k", client=s3, limits=SMALL, resume=NO_WAIT
    )
    assert result.resumes == 1
    assert stored_sha256(s3, bucket, "k") == body_sha256(size)
    second = res.requests[1]
    assert second["Range"] == f"bytes={300 * KiB + 3}-"
    assert second["If-Range"] == '"v1"'


def test_dropped_chunked_body_is_resumed_too(s3, bucket, source):
    size = 500 * KiB
    source.add("/dropc", size, chunked=True, drop_after=123_457)
    result = stream_to_s3(
        source.url("/dropc"), bucket, "k", client=s3, limits=SMALL, resume=NO_WAIT
    )
    assert result.resumes == 1
    assert stored_sha256(s3, bucket, "k") == body_sha256(size)


def test_resume_uses_last_modified_when_there_is_no_etag(s3, bucket, source):
    res = source.add("/lm", 400 * KiB, etag=None, drop_after=100 * KiB)
    stream_to_s3(
        source.url("/lm"), bucket, "k", client=s3, limits=SMALL, resume=NO_WAIT
    )
    assert res.requests[1]["If-Range"] == res.last_modified


def test_stalled_source_is_resumed(s3, bucket, source):
    from devkit.s3stream import ResumePolicy

    size = 400 * KiB
    source.add("/stall", size, stall_after=150 * KiB, stall_seconds=5)
    policy = ResumePolicy(sleep=lambda s: None, read_timeout=0.5)
    result = stream_to_s3(
        source.url("/stall"), bucket, "k", client=s3, limits=SMALL, resume=policy
    )
    assert result.resumes == 1
    assert stored_sha256(s3, bucket, "k") == body_sha256(size)


def test_drop_without_range_support_fails_naming_the_offset(s3, bucket, source):
    old = b"the previous object"
    s3.put_object(Bucket=bucket, Key="k", Body=old)
    source.add("/norange", 400 * KiB, ranges=False, drop_after=200 * KiB + 3)
    with pytest.raises(SourceError) as err:
        stream_to_s3(
            source.url("/norange"), bucket, "k", client=s3, limits=SMALL, resume=NO_WAIT
        )
    assert str(err.value) == (
        "source closed after 204803 of 409600 bytes and does not support ranges"
    )
    assert_nothing_written(s3, bucket, "k", old_body=old)  # the old object stays


def test_source_that_changed_between_attempts_fails(s3, bucket, source):
    source.add("/changes", 400 * KiB, drop_after=200 * KiB, change_after_drop=True)
    with pytest.raises(SourceError, match="source changed during the transfer"):
        stream_to_s3(
            source.url("/changes"), bucket, "k", client=s3, limits=SMALL, resume=NO_WAIT
        )
    assert_nothing_written(s3, bucket, "k")


def test_source_that_always_truncates_gives_up_after_bounded_resumes(
    s3, bucket, source
):
    res = source.add("/trunc", 400 * KiB, truncate_at=250 * KiB)
    with pytest.raises(
        SourceError, match=r"kept failing .* after 256000 of 409600 bytes"
    ):
        stream_to_s3(
            source.url("/trunc"), bucket, "k", client=s3, limits=SMALL, resume=NO_WAIT
        )
    assert len(res.requests) == 1 + NO_WAIT.max_consecutive
    assert_nothing_written(s3, bucket, "k")


@pytest.mark.parametrize("status", [403, 404])
def test_source_refusing_fails_before_any_upload(s3, bucket, source, status):
    source.add("/no", 10, status=status)
    with pytest.raises(
        SourceError, match=f"^{status} .* from http://127.0.0.1:[0-9]+/no$"
    ):
        stream_to_s3(source.url("/no?secret=1"), bucket, "k", client=s3)
    assert_nothing_written(s3, bucket, "k")


def test_closed_port_is_a_source_error(s3, bucket):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SourceError, match="cannot reach .* connection refused"):
        stream_to_s3(f"http://127.0.0.1:{port}/x", bucket, "k", client=s3)


def test_non_http_answer_is_a_source_error(s3, bucket):
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))

    def answer():
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    port = server.getsockname()[1]
    with pytest.raises(SourceError, match="did not answer with HTTP"):
        stream_to_s3(f"http://127.0.0.1:{port}/x", bucket, "k", client=s3)
    server.close()


def test_failed_parts_are_resent_from_memory_not_reread(s3_server, bucket, source):
    # chunked (no length): one sequential read, so any second request for
    # the body would be a re-read, not the parallel range reader at work
    res = source.add("/retry", 500 * KiB, chunked=True)
    with FaultProxy(
        s3_server.endpoint_url, Faults(fail_parts={2: [500, 503]})
    ) as proxy:
        client = proxy_client(proxy.endpoint_url)
        result = stream_to_s3(
            source.url("/retry"), bucket, "k", client=client, limits=SMALL
        )
        assert proxy.faults.part_attempts[2] == 3
    assert len(res.requests) == 1  # the source was read once
    assert result.resumes == 0
    assert stored_sha256(s3_server.client(), bucket, "k") == body_sha256(500 * KiB)


def test_a_part_that_keeps_failing_aborts_the_upload(s3_server, bucket, source):
    source.add("/fail", 500 * KiB)
    with FaultProxy(
        s3_server.endpoint_url, Faults(fail_parts={3: [500] * 20})
    ) as proxy:
        client = proxy_client(proxy.endpoint_url, max_attempts=3)
        with pytest.raises(UploadError, match="InternalError"):
            stream_to_s3(source.url("/fail"), bucket, "k", client=client, limits=SMALL)
    assert_nothing_written(s3_server.client(), bucket, "k")


def test_missing_bucket_is_named(s3, source):
    source.add("/x", 300 * KiB)
    with pytest.raises(UploadError, match="bucket 'no-such-bucket' does not exist"):
        stream_to_s3(source.url("/x"), "no-such-bucket", "k", client=s3, limits=SMALL)


def test_metadata_storage_class_and_encryption_are_applied(s3, bucket, source):
    source.add("/m", 300 * KiB)
    stream_to_s3(
        source.url("/m"),
        bucket,
        "k",
        client=s3,
        limits=SMALL,
        content_type="video/mp4",
        metadata={"origin": "test"},
        storage_class="STANDARD_IA",
        sse="AES256",
    )
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ContentType"] == "video/mp4"
    assert head["Metadata"] == {"origin": "test"}
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["ServerSideEncryption"] == "AES256"


def test_source_headers_are_sent(source):
    res = source.add("/auth", 10)
    src = open_source(source.url("/auth"), {"Authorization": "Bearer s3cr3t"})
    src.close()
    assert res.requests[0]["Authorization"] == "Bearer s3cr3t"
    assert res.requests[0]["Accept-Encoding"] == "identity"


def test_part_size_outside_s3_limits_is_refused(s3, bucket, source):
    source.add("/x", 10)
    with pytest.raises(ConfigError, match="outside S3's limits"):
        stream_to_s3(source.url("/x"), bucket, "k", client=s3, part_size=1024)


def test_library_call_builds_its_own_client_like_a_lambda_handler(
    s3_server, bucket, source
):
    from devkit.aws import AwsOptions

    source.add("/lambda", 200 * KiB)
    result = stream_to_s3(
        source.url("/lambda"),
        bucket,
        "from-lambda",
        aws=AwsOptions(endpoint_url=s3_server.endpoint_url, region="us-east-1"),
    )
    doc = result.as_dict()
    assert doc["bytes"] == 200 * KiB and doc["parts"] == 1
    assert stored_sha256(s3_server.client(), bucket, "from-lambda") == body_sha256(
        200 * KiB
    )


def test_deadline_stops_the_stream_and_aborts_cleanly(s3, bucket, source):
    import time

    source.add("/slow", 4 * 1024 * KiB, rate=1024 * KiB)  # would take 4 s
    started = time.monotonic()
    with pytest.raises(UploadError, match="deadline reached after [0-9]+ bytes"):
        stream_to_s3(
            source.url("/slow"),
            bucket,
            "k",
            client=s3,
            limits=SMALL,
            deadline=started + 0.5,
        )
    assert time.monotonic() - started < 2.5
    assert_nothing_written(s3, bucket, "k")
