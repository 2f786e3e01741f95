"""Verification: what each server can prove, and never losing a good object.

Real moto behind the fault proxy, which makes it answer as other servers do:
no full-object checksum, an opaque ETag, a plain-MD5 ETag, a refused
Complete, a HeadObject that keeps failing, a part changed on the wire.
"""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
from s3stream_support import SMALL, KiB, assert_nothing_written, proxy_client

from devkit.errors import ConfigError, UploadError
from devkit.s3stream import stream_to_s3
from devkit.s3stream.verify import Expected, judge
from testing.http_source import body_bytes, body_sha256
from testing.s3_faults import FaultProxy, Faults

OLD = b"the object that was there before"


def _stored(s3, bucket, key):
    return hashlib.sha256(
        s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    ).hexdigest()


def _stream(proxy, source, bucket, path, **kwargs):
    return stream_to_s3(
        source.url(path),
        bucket,
        "k",
        client=proxy_client(proxy.endpoint_url),
        limits=SMALL,
        **kwargs,
    )


@pytest.fixture
def versioned(s3, bucket):
    s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    return bucket


# -- the decision, from what the server answers ------------------------------


def test_full_object_crc32_is_proof_only_where_the_server_showed_it_checks():
    expected = Expected(size=3, crc32=0x12345678)
    # rclone stores and echoes the client's claimed CRC without checking it.
    parroted = {"ContentLength": 3, "ChecksumCRC32": "EjRWeA==", "ETag": '"x"'}
    assert judge(parroted, expected).method == "size-only"
    checked = Expected(size=3, crc32=0x12345678, server_crc=True)
    assert judge(parroted, checked).method == "crc32-full-object"
    assert judge(parroted, checked).same is True
    other = dict(parroted, ChecksumCRC32="AAAAAA==")
    assert judge(other, checked).same is False


def test_a_different_size_is_always_proof():
    verdict = judge({"ContentLength": 2, "ETag": '"x"'}, Expected(3, 0))
    assert verdict.same is False
    assert "stored 2 bytes, the source gave 3" in verdict.detail


def test_an_etag_is_proof_of_difference_only_in_aws_multipart_form():
    md5s = "0" * 32
    expected = Expected(3, 0, md5="a" * 32, multipart_etag=f"{'b' * 32}-2")
    head = {"ContentLength": 3}
    assert judge(dict(head, ETag=f'"{"b" * 32}-2"'), expected).same is True
    assert judge(dict(head, ETag=f'"{"c" * 32}-2"'), expected).same is False
    # another part count: not the same scheme, no claim either way
    assert judge(dict(head, ETag=f'"{"c" * 32}-3"'), expected).same is None
    # a plain MD5-looking ETag: the whole body's MD5 proves equality ...
    assert judge(dict(head, ETag=f'"{"a" * 32}"'), expected).method == "md5"
    # ... and anything else proves nothing (encryption, another hash)
    assert judge(dict(head, ETag=f'"{md5s}"'), expected).same is None
    assert judge(dict(head, ETag='"opaque-etag"'), expected).same is None


# -- moto's own answers ---------------------------------------------------------


def test_small_object_on_a_server_that_keeps_no_checksum_says_md5(s3, bucket, source):
    source.add("/small", 10 * KiB)
    result = stream_to_s3(source.url("/small"), bucket, "k", client=s3, limits=SMALL)
    # moto's PutObject answer carries no CRC: the CRC is not claimed as proved
    assert result.verified == "md5"
    assert result.proof == hashlib.md5(body_bytes(0, 10 * KiB)).hexdigest()


def test_server_without_full_object_checksums_is_checked_by_multipart_etag(
    s3_server, bucket, source
):
    source.add("/etag", 300 * KiB)
    with FaultProxy(s3_server.endpoint_url, Faults(hide_full_object=True)) as proxy:
        result = _stream(proxy, source, bucket, "/etag")
        parts = [op for op in proxy.faults.arrived if op == "UploadPart"]
    assert result.verified == "multipart-etag"
    assert result.proof == result.etag and result.etag.endswith("-5")
    assert len(parts) == 5


@pytest.mark.parametrize(
    "etag",
    [
        "opaque-not-an-md5",  # e.g. a gateway's own identifier
        "0123456789abcdef0123456789abcdef",  # MD5-shaped but of something else
    ],
)
def test_an_etag_that_proves_nothing_never_deletes_the_object(
    s3_server, bucket, source, etag
):
    source.add("/o", 300 * KiB)
    faults = Faults(hide_full_object=True, etag_override=etag)
    with FaultProxy(s3_server.endpoint_url, faults) as proxy:
        result = _stream(proxy, source, bucket, "/o")
    assert result.verified == "size-only"
    assert _stored(s3_server.client(), bucket, "k") == body_sha256(300 * KiB)


def test_a_plain_md5_etag_after_multipart_is_compared_with_the_whole_body(
    s3_server, bucket, source
):
    # rclone serve s3 and s3rver answer HEAD with the MD5 of the whole body.
    size = 300 * KiB
    whole = hashlib.md5(body_bytes(0, size)).hexdigest()
    source.add("/w", size)
    faults = Faults(hide_full_object=True, etag_override=whole)
    with FaultProxy(s3_server.endpoint_url, faults) as proxy:
        result = _stream(proxy, source, bucket, "/w")
    assert (result.verified, result.proof) == ("md5", whole)


def test_read_back_proves_what_the_server_could_not(s3_server, bucket, source):
    source.add("/rb", 300 * KiB)
    faults = Faults(hide_full_object=True, etag_override="opaque")
    with FaultProxy(s3_server.endpoint_url, faults) as proxy:
        result = _stream(proxy, source, bucket, "/rb", read_back=True)
        gets = [op for op in proxy.faults.arrived if op == "GetObject"]
    assert result.verified == "read-back"
    assert result.proof == result.checksum
    assert len(gets) == 1


def test_full_object_crc32_path_computes_no_md5(s3, bucket, source, monkeypatch):
    """S3's fast path pays nothing for the other servers' checks."""
    import devkit.s3stream.upload as upload

    calls = []
    real = hashlib.md5

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    # moto runs in this process and hashes too: count devkit's own calls only
    monkeypatch.setattr(upload, "hashlib", SimpleNamespace(md5=counting))
    source.add("/fast", 300 * KiB)
    result = stream_to_s3(source.url("/fast"), bucket, "k", client=s3, limits=SMALL)
    assert result.verified == "crc32-full-object"
    assert calls == []


# -- a wrong object is prevented, or undone without losing the old one -------


def test_s3_refusing_the_full_object_crc_at_complete_keeps_the_old_object(
    s3_server, bucket, source
):
    s3 = s3_server.client()
    s3.put_object(Bucket=bucket, Key="k", Body=OLD)
    source.add("/bd", 300 * KiB)
    faults = Faults(refuse_complete=("BadDigest", 400))
    with FaultProxy(s3_server.endpoint_url, faults) as proxy:
        with pytest.raises(UploadError, match="CompleteMultipartUpload .*BadDigest"):
            _stream(proxy, source, bucket, "/bd")
    assert_nothing_written(s3, bucket, "k", old_body=OLD)


def test_a_part_changed_on_the_way_is_caught_before_complete(s3_server, bucket, source):
    # A server that checks neither CRC32 nor Content-MD5 (moto, s3rver):
    # the changed part's ETag is not its MD5 while the others' are.
    s3 = s3_server.client()
    s3.put_object(Bucket=bucket, Key="k", Body=OLD)
    source.add("/cp", 300 * KiB)
    faults = Faults(hide_full_object=True, corrupt_parts={2})
    with FaultProxy(s3_server.endpoint_url, faults) as proxy:
        with pytest.raises(UploadError) as err:
            _stream(proxy, source, bucket, "/cp")
        arrived = proxy.faults.arrived
    assert str(err.value).startswith(f"S3 stored part 2 of s3://{bucket}/k with ETag ")
    assert str(err.value).endswith("the upload was aborted, nothing was written")
    assert "CompleteMultipartUpload" not in arrived
    assert_nothing_written(s3, bucket, "k", old_body=OLD)


def test_wrong_object_in_a_versioned_bucket_removes_only_the_new_version(
    s3_server, versioned, source
):
    s3 = s3_server.client()
    old_version = s3.put_object(Bucket=versioned, Key="k", Body=OLD)["VersionId"]
    source.add("/corrupt", 300 * KiB)
    # moto keeps full-object CRCs but, unlike S3, checks neither the parts'
    # CRCs nor the one sent at Complete: the wrong object is stored.
    with FaultProxy(s3_server.endpoint_url, Faults(corrupt_parts={2})) as proxy:
        with pytest.raises(UploadError) as err:
            _stream(proxy, source, versioned, "/corrupt")
    message = str(err.value)
    assert message.startswith(f"verification failed for s3://{versioned}/k: ")
    assert "full-object CRC32" in message
    assert "the version that was current before (if any) is current again" in message
    assert_nothing_written(s3, versioned, "k", old_body=OLD)
    versions = s3.list_object_versions(Bucket=versioned, Prefix="k")
    assert [v["VersionId"] for v in versions["Versions"]] == [old_version]


def test_wrong_object_in_an_unversioned_bucket_says_what_the_key_holds(
    s3_server, bucket, source
):
    source.add("/corrupt", 300 * KiB)
    with FaultProxy(s3_server.endpoint_url, Faults(corrupt_parts={2})) as proxy:
        with pytest.raises(UploadError) as err:
            _stream(proxy, source, bucket, "/corrupt")
    assert str(err.value).endswith(
        "it was deleted and the key is now empty; the bucket keeps no versions, "
        "so an object that was under the key before was replaced when the "
        "upload completed (use --no-overwrite or a versioned bucket to keep it)"
    )
    assert_nothing_written(s3_server.client(), bucket, "k")


def test_wrong_object_written_with_no_overwrite_leaves_the_key_as_before(
    s3_server, bucket, source
):
    source.add("/corrupt", 300 * KiB)
    with FaultProxy(s3_server.endpoint_url, Faults(corrupt_parts={2})) as proxy:
        with pytest.raises(UploadError) as err:
            _stream(proxy, source, bucket, "/corrupt", no_overwrite=True)
    assert str(err.value).endswith(
        "it was deleted, so the key is empty, as it was before"
    )
    assert_nothing_written(s3_server.client(), bucket, "k")


def test_read_back_that_differs_removes_the_new_version(s3_server, versioned, source):
    s3 = s3_server.client()
    s3.put_object(Bucket=versioned, Key="k", Body=OLD)
    source.add("/rb", 300 * KiB)
    faults = Faults(hide_full_object=True, etag_override="opaque", corrupt_gets=True)
    with FaultProxy(s3_server.endpoint_url, faults) as proxy:
        with pytest.raises(UploadError, match="the bytes read back .* differ"):
            _stream(proxy, source, versioned, "/rb", read_back=True)
    assert_nothing_written(s3, versioned, "k", old_body=OLD)


def test_a_part_refused_as_changed_is_resent_from_memory(s3_server, bucket, source):
    # S3 answers BadDigest when a part's CRC32 does not match what arrived;
    # botocore does not retry that, devkit resends the buffer it still holds.
    res = source.add("/bd", 300 * KiB, chunked=True)  # one sequential read
    with FaultProxy(s3_server.endpoint_url, Faults(bad_digest_once={2})) as proxy:
        result = _stream(proxy, source, bucket, "/bd")
        assert proxy.faults.part_attempts[2] == 2
    assert len(res.requests) == 1
    assert result.verified == "crc32-full-object"
    assert _stored(s3_server.client(), bucket, "k") == body_sha256(300 * KiB)


def test_head_failing_after_a_good_complete_says_the_object_is_in_place(
    s3_server, bucket, source
):
    source.add("/h", 300 * KiB)
    with FaultProxy(s3_server.endpoint_url, Faults(fail_head=503)) as proxy:
        client = proxy_client(proxy.endpoint_url, max_attempts=2)
        with pytest.raises(UploadError) as err:
            stream_to_s3(source.url("/h"), bucket, "k", client=client, limits=SMALL)
    message = str(err.value)
    assert message.startswith(f"s3://{bucket}/k was stored (ETag ")
    assert message.endswith(
        "but could not be verified: S3 refused HeadObject (503 Service Unavailable); "
        "the new object is in place, unverified"
    )
    assert _stored(s3_server.client(), bucket, "k") == body_sha256(300 * KiB)


# -- conditional writes --------------------------------------------------------


def test_no_overwrite_refuses_an_existing_key_before_uploading(s3, bucket, source):
    s3.put_object(Bucket=bucket, Key="k", Body=OLD)
    source.add("/n", 300 * KiB)
    with pytest.raises(UploadError) as err:
        stream_to_s3(
            source.url("/n"), bucket, "k", client=s3, limits=SMALL, no_overwrite=True
        )
    assert str(err.value) == (
        f"s3://{bucket}/k already exists (--no-overwrite): nothing was written"
    )
    assert_nothing_written(s3, bucket, "k", old_body=OLD)


def test_no_overwrite_is_enforced_by_s3_at_complete(s3, bucket, source):
    """Another writer creates the key while the parts go up: S3 refuses ours."""
    source.add("/race", 300 * KiB)

    def other_writer(phase):
        if phase == "completing":
            s3.put_object(Bucket=bucket, Key="k", Body=OLD)

    with pytest.raises(UploadError, match="already exists .*nothing was written"):
        stream_to_s3(
            source.url("/race"),
            bucket,
            "k",
            client=s3,
            limits=SMALL,
            no_overwrite=True,
            on_phase=other_writer,
        )
    assert_nothing_written(s3, bucket, "k", old_body=OLD)


@pytest.mark.parametrize("size", [10 * KiB, 300 * KiB])  # one PUT; multipart
def test_no_overwrite_writes_a_new_key(s3, bucket, source, size):
    source.add("/new", size)
    stream_to_s3(
        source.url("/new"), bucket, "k", client=s3, limits=SMALL, no_overwrite=True
    )
    assert _stored(s3, bucket, "k") == body_sha256(size)


def test_if_match_replaces_only_the_named_object(s3, bucket, source):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=OLD)["ETag"].strip('"')
    source.add("/m", 10 * KiB)
    with pytest.raises(UploadError) as err:
        stream_to_s3(
            source.url("/m"), bucket, "k", client=s3, limits=SMALL, if_match="0" * 32
        )
    assert str(err.value) == (
        f"s3://{bucket}/k is not the object --if-match {'0' * 32} names "
        f"(its ETag is {etag}): nothing was written"
    )
    assert_nothing_written(s3, bucket, "k", old_body=OLD)
    stream_to_s3(source.url("/m"), bucket, "k", client=s3, limits=SMALL, if_match=etag)
    assert _stored(s3, bucket, "k") == body_sha256(10 * KiB)


def test_if_match_on_a_missing_key_fails(s3, bucket, source):
    source.add("/m", 10 * KiB)
    with pytest.raises(UploadError, match="does not exist, so --if-match"):
        stream_to_s3(
            source.url("/m"), bucket, "k", client=s3, limits=SMALL, if_match="abc"
        )
    assert_nothing_written(s3, bucket, "k")


def test_no_overwrite_and_if_match_exclude_each_other(s3, bucket, source):
    source.add("/m", 10)
    with pytest.raises(ConfigError, match="exclude each other"):
        stream_to_s3(
            source.url("/m"), bucket, "k", client=s3, no_overwrite=True, if_match="x"
        )
