"""Part size by how S3 answers: near S3 gets larger parts (budget.near_s3, issue 9).

On loopback or a LAN, where nothing paces a request, each request's CPU is
the limit: fewer, larger parts on fewer connections. Far S3 paces each
request: the smallest parts on the most connections the budget buys. The
decision comes from CreateMultipartUpload's time on the wire, before the
first part, so every part of one upload has one size.

A near server answers well inside NEAR_S3 (5 ms) on a quiet machine, but a
loaded test machine may not: tests that need "near" widen NEAR_S3, and the
"far" server answers after 20 ms, beyond it however loaded the machine is.
"""

from __future__ import annotations

import hashlib
import json

import boto3
import botocore.config
import pytest
from s3stream_support import NO_WAIT, KiB, assert_nothing_written

from devkit.errors import SourceError
from devkit.s3stream import budget, stream_to_s3
from devkit.s3stream.budget import NEAR_PART, choose
from testing.http_source import HttpSource, body_sha256
from testing.s3_discard import DiscardS3

MiB = 1024 * KiB
SIZE = 5 * NEAR_PART + 12345  # six 16 MiB parts, the last one short
BUDGET, RESIDENT = 128 * MiB, 43 * MiB  # the CLI's default, and its floor
# Sources read as one stream: the near rule is for those, and a ranged
# source's probe would judge this in-process server slow on a loaded machine
# (then ranges, and no near parts by design; test_s3stream_ranged covers it).
SEQUENTIAL = {"ranges": False}


@pytest.fixture
def near(monkeypatch):
    """Loopback counts as near however loaded this machine is."""
    monkeypatch.setattr(budget, "NEAR_S3", 1.0)


def _client(endpoint_url):
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
        config=botocore.config.Config(s3={"payload_signing_enabled": False}),
    )


def _stream(url, client, bucket="sink", **kwargs):
    kwargs.setdefault("max_memory", BUDGET)
    return stream_to_s3(
        url, bucket, "k", client=client, resident=RESIDENT, resume=NO_WAIT, **kwargs
    )


def test_a_near_s3_gets_16_mib_parts_of_one_size_on_fewer_connections(near):
    with HttpSource() as web, DiscardS3(same_size_parts=True) as sink:
        web.add("/o", SIZE, **SEQUENTIAL)
        result = _stream(web.url("/o"), _client(sink.endpoint_url))
    assert (result.bytes, result.part_size, result.parts) == (SIZE, NEAR_PART, 6)
    # 128 - 43 - 4 MiB of margin buys four 16 MiB buffers: three on the wire.
    assert result.s3_connections == 3
    # (A ranged source would add its probing range, dropped once the first
    # part is past it.)
    assert result.peak_buffered <= 4 * NEAR_PART + 5 * MiB


def test_a_far_s3_keeps_5_mib_parts_on_every_connection_the_budget_buys():
    default = choose(BUDGET, 5 * MiB, resident=RESIDENT, ranged=False)
    with HttpSource() as web, DiscardS3(latency=0.02, same_size_parts=True) as sink:
        web.add("/o", SIZE, **SEQUENTIAL)
        result = _stream(web.url("/o"), _client(sink.endpoint_url))
    assert (result.part_size, result.parts) == (5 * MiB, 17)
    assert result.s3_connections == default.s3_connections > 3


@pytest.mark.parametrize(
    "chosen",
    [{"part_size": 8 * MiB}, {"concurrency": 6}],
    ids=["--part-size", "--concurrency"],
)
def test_what_the_user_chose_is_kept_on_a_near_s3(near, chosen):
    part_size = chosen.get("part_size", 5 * MiB)
    expected = choose(
        BUDGET,
        part_size,
        resident=RESIDENT,
        ranged=False,
        concurrency=chosen.get("concurrency"),
    )
    with HttpSource() as web, DiscardS3() as sink:
        web.add("/o", SIZE, **SEQUENTIAL)
        result = _stream(web.url("/o"), _client(sink.endpoint_url), **chosen)
    assert (result.part_size, result.s3_connections) == (
        part_size,
        expected.s3_connections,
    )


@pytest.mark.parametrize(
    "knobs",
    [{"size": 3 * NEAR_PART}, {"size": SIZE, "chunked": True}],
    ids=["too-small-to-gain", "length-unknown"],
)
def test_small_objects_and_unknown_lengths_keep_5_mib_parts(near, knobs):
    # Under four large parts the requests saved do not matter; without a
    # length the upload is not known to be multipart before its first part.
    with HttpSource() as web, DiscardS3() as sink:
        web.add("/o", **knobs, **SEQUENTIAL)
        result = _stream(web.url("/o"), _client(sink.endpoint_url))
    assert result.part_size == 5 * MiB


def test_a_budget_without_room_for_three_large_parts_keeps_5_mib_parts(near):
    with HttpSource() as web, DiscardS3() as sink:
        web.add("/o", SIZE, **SEQUENTIAL)
        result = _stream(web.url("/o"), _client(sink.endpoint_url), max_memory=96 * MiB)
    assert result.part_size == 5 * MiB


def test_near_parts_store_a_byte_identical_object_in_moto(near, s3, bucket):
    with HttpSource() as web:
        web.add("/o", SIZE, **SEQUENTIAL)
        result = _stream(web.url("/o"), s3, bucket=bucket)
    assert result.part_size == NEAR_PART
    assert result.verified == "crc32-full-object"
    digest = hashlib.sha256()
    for chunk in s3.get_object(Bucket=bucket, Key="k")["Body"].iter_chunks(MiB):
        digest.update(chunk)
    assert digest.hexdigest() == body_sha256(SIZE)


def test_the_upload_created_before_its_first_part_is_aborted_if_the_source_fails(
    near, s3, bucket
):
    # The upload now exists before the first byte is read: a source that ends
    # inside the first part (and cannot resume: no ranges) leaves nothing.
    with HttpSource() as web:
        web.add("/o", SIZE, truncate_at=MiB, ranges=False)
        with pytest.raises(SourceError):
            _stream(web.url("/o"), s3, bucket=bucket)
    assert_nothing_written(s3, bucket, "k")


@pytest.mark.parametrize(
    ("endpoint", "aws"),
    [
        ("https://s3.amazonaws.com", True),
        ("https://s3.eu-west-1.amazonaws.com", True),
        ("https://s3.cn-north-1.amazonaws.com.cn", True),
        ("https://s3.dualstack.us-east-1.amazonaws.com", True),
        ("https://s3express-use1-az4.us-east-1.amazonaws.com", True),
        ("https://S3.US-EAST-1.AMAZONAWS.COM.", True),
        ("http://127.0.0.1:9000", False),
        ("https://minio.example.com", False),
        ("https://acct.r2.cloudflarestorage.com", False),
        ("https://amazonaws.com.example.net", False),
    ],
)
def test_aws_endpoints_always_count_as_far(endpoint, aws):
    # S3 paces each request at any distance (S3 Express answers in a few ms):
    # only an S3-compatible server that answers within NEAR_S3 gets large parts.
    tuning = choose(BUDGET, 5 * MiB, resident=RESIDENT, ranged=False)
    near = budget.near_s3(tuning, RESIDENT, 0.0005, endpoint)
    assert budget.is_aws(endpoint) is aws
    assert (near is None) is aws
    if near is not None:
        assert (near.part_size, near.s3_connections) == (NEAR_PART, 3)


def test_each_stream_of_a_batch_measures_its_own_create(near, tmp_path, capsys):
    # Four jobs share one client; each stream times its own request, not
    # another's (a stray timing would leave that stream at 5 MiB parts).
    from devkit.cli import main

    manifest = tmp_path / "m.jsonl"
    with HttpSource() as web, DiscardS3(same_size_parts=True) as sink:
        lines = []
        for n in range(4):
            web.add(f"/o{n}", SIZE, **SEQUENTIAL)
            lines.append(json.dumps({"url": web.url(f"/o{n}"), "key": f"o{n}"}))
        manifest.write_text("\n".join(lines) + "\n")
        code = main(["s3-stream", "--manifest", str(manifest), "s3://sink/",
                     "--jobs", "4", "--max-memory", "2GiB",
                     "--endpoint-url", sink.endpoint_url])  # fmt: skip
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [(r["status"], r["part_size"]) for r in records] == [("done", NEAR_PART)] * 4
