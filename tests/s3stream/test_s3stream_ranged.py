"""Parallel ranged reads of a far source, and the memory budget (issue 9).

The source is paced per connection (a far server), so one range connection's
first bytes come slowly and the reader opens several. Its body depends on the
byte position, so a swapped, shifted or repeated range changes the digest.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from s3stream_support import (
    NO_WAIT,
    SMALL,
    KiB,
    assert_nothing_written,
    proxy_client,
)

from devkit.errors import ConfigError, SourceError
from devkit.s3stream import stream_to_s3
from devkit.s3stream.budget import (
    MARGIN,
    MAX_SOURCE_CONNECTIONS,
    MIN_RANGE,
    choose,
    default_budget,
)
from testing.http_source import HttpSource, body_sha256
from testing.s3_discard import DiscardS3
from testing.s3_faults import FaultProxy, Faults

MiB = 1024 * KiB
PART = 1024 * KiB  # ranges of a MiB at least (and SMALL's largest part)
SIZE = 13 * PART + 777  # 14 parts, the last one short
FAR = {"rate": 10e6}  # bytes/s per connection: slow enough to want ranges
ROOMY = 64 << 30  # the test process is large: a budget it cannot exceed


def stored_sha256(s3, bucket, key):
    h = hashlib.sha256()
    for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(MiB):
        h.update(chunk)
    return h.hexdigest()


def ranges(res):
    """(first, last) of every Range request the source saw, in arrival order."""
    found = []
    for headers in res.requests:
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", headers.get("Range", ""))
        if m:
            found.append((int(m.group(1)), int(m.group(2) or -1)))
    return found


def stream(url, s3, bucket, **kwargs):
    kwargs.setdefault("max_memory", ROOMY)
    return stream_to_s3(
        url,
        bucket,
        "k",
        client=s3,
        part_size=PART,
        limits=SMALL,
        resume=NO_WAIT,
        **kwargs,
    )


def test_parallel_ranges_store_a_byte_identical_object(s3, bucket, source):
    res = source.add("/far", SIZE, **FAR)
    result = stream(source.url("/far"), s3, bucket)
    assert stored_sha256(s3, bucket, "k") == body_sha256(SIZE)
    assert result.source_connections > 1
    asked = ranges(res)
    # Part-aligned, each part once, every one bound to the first answer's ETag.
    assert sorted(asked) == [
        (n * PART, min((n + 1) * PART, SIZE) - 1) for n in range(1, 14)
    ]
    assert all(h.get("If-Range") == '"v1"' for h in res.requests if "Range" in h)
    assert result.peak_buffered > 0


def test_a_range_that_drops_is_asked_again_from_where_it_stopped(s3, bucket, source):
    cut = 5 * PART + 1000
    res = source.add("/far", SIZE, drop_after=cut, drops=2, **FAR)
    result = stream(source.url("/far"), s3, bucket)
    assert stored_sha256(s3, bucket, "k") == body_sha256(SIZE)
    assert (cut, 6 * PART - 1) in ranges(res)  # resumed at the first missing byte
    assert result.resumes >= 1


@pytest.mark.parametrize(
    "knobs",
    [
        {"ignore_range": True},  # Accept-Ranges, then 200 and the whole body
        {"shift_range": 512},  # 206, but another range (and says so)
    ],
    ids=["200-to-a-range", "wrong-content-range"],
)
def test_a_source_that_serves_ranges_wrongly_falls_back_to_one_stream(
    s3, bucket, source, knobs
):
    res = source.add("/far", SIZE, **FAR, **knobs)
    result = stream(source.url("/far"), s3, bucket)
    assert stored_sha256(s3, bucket, "k") == body_sha256(SIZE)
    assert ranges(res), "no range was asked: the fallback was not exercised"
    assert result.source_connections == 1


@pytest.mark.parametrize(
    "knobs",
    [{}, {"ignore_if_range": True}],
    ids=["honours-if-range", "ignores-if-range"],
)
def test_a_source_that_changes_between_ranges_fails_and_writes_nothing(
    s3, bucket, source, knobs
):
    # Request 1 is the first answer, 2 the probing range; the source changes
    # after it. Either the server sees the stale If-Range and answers 200
    # with the new version, or (broken) answers 206 with its bytes: both carry
    # the new ETag, and neither may be joined to the old bytes.
    source.add("/far", SIZE, change_after_requests=2, **FAR, **knobs)
    with pytest.raises(SourceError, match="source changed during the transfer"):
        stream(source.url("/far"), s3, bucket)
    assert_nothing_written(s3, bucket, "k")


def test_a_part_that_s3_fails_with_5xx_is_resent(s3_server, bucket, source):
    source.add("/far", SIZE, **FAR)
    with FaultProxy(
        s3_server.endpoint_url, Faults(fail_parts={3: [500, 503]})
    ) as proxy:
        client = proxy_client(proxy.endpoint_url)
        result = stream(source.url("/far"), client, bucket)
        assert proxy.faults.part_attempts[3] == 3
    assert stored_sha256(s3_server.client(), bucket, "k") == body_sha256(SIZE)
    assert result.source_connections > 1


def test_sigint_mid_run_aborts_the_upload_and_every_range(s3_server, s3, bucket):
    with HttpSource() as web:
        res = web.add("/far", 64 * MiB, rate=2e6)  # minutes: cut short below
        proc = subprocess.Popen(
            [sys.executable, "-m", "devkit", "s3-stream", web.url("/far")]
            + [f"s3://{bucket}/k"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "AWS_ENDPOINT_URL": s3_server.endpoint_url},
        )
        deadline = time.monotonic() + 60
        while len(ranges(res)) < 3:  # several ranges in flight
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no ranges were asked"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.decode() == (
        "error: interrupted (SIGINT): the upload was aborted, nothing was written\n"
    )
    assert_nothing_written(s3, bucket, "k")


# -- the memory budget -------------------------------------------------------


def test_budget_splits_buffers_between_the_two_sides():
    t = choose(128 * MiB, 5 * MiB, resident=56 * MiB, ranged=True)
    assert t.source_connections >= 2 and t.s3_connections >= 2
    assert 56 * MiB + t.buffers <= 128 * MiB
    # Without ranges the whole budget goes to S3 connections.
    seq = choose(128 * MiB, 5 * MiB, resident=56 * MiB, ranged=False)
    assert seq.source_connections == 1
    assert seq.s3_connections > t.s3_connections
    # --concurrency wins; the source gets what is left.
    fixed = choose(128 * MiB, 5 * MiB, resident=56 * MiB, ranged=True, concurrency=2)
    assert fixed.s3_connections == 2


def test_a_tight_budget_reads_smaller_ranges_on_more_connections():
    # 64 MiB beside a 43 MiB process: two part buffers for S3, and the rest
    # as several 1-2 MiB ranges rather than one part-sized range (which would
    # leave one connection, as slow as a plain download from a far server).
    t = choose(64 * MiB, 5 * MiB, resident=43 * MiB, ranged=True)
    assert t.s3_connections >= 1 and t.source_connections >= 2
    assert MIN_RANGE <= t.source_range < 5 * MiB
    assert 43 * MiB + MARGIN + t.buffers <= 64 * MiB
    # With room, ranges are part-sized and the source gets its most connections.
    roomy = choose(256 * MiB, 5 * MiB, resident=43 * MiB, ranged=True)
    assert roomy.source_range == 5 * MiB
    assert roomy.source_connections == MAX_SOURCE_CONNECTIONS


def test_a_budget_too_small_for_two_parts_is_refused_naming_what_fits():
    with pytest.raises(ConfigError, match=r"give at least \d+MiB"):
        choose(64 * MiB, 5 * MiB, resident=57 * MiB, ranged=True)
    # The default budget in a process already past it: as before budgets.
    t = choose(128 * MiB, 5 * MiB, resident=300 * MiB, ranged=True, explicit=False)
    assert (t.s3_connections, t.source_connections) == (3, 1)


def test_lambda_budget_follows_the_function_memory():
    assert default_budget({}) == 128 * MiB
    assert default_budget({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}) == 768 * MiB
    # Small functions keep at least 32 MiB for the handler.
    assert default_budget({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}) == 96 * MiB


def _cli_peak(url, endpoint, budget):
    with tempfile.NamedTemporaryFile("r") as out:
        cmd = [sys.executable, "-m", "testing.peak_rss", out.name, "-m", "devkit"]
        cmd += ["s3-stream", url, "s3://sink/obj", "--endpoint-url", endpoint]
        proc = subprocess.run(
            [*cmd, "-q", "--json", "--max-memory", budget],
            capture_output=True,
            text=True,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"},
        )
        return proc, int(out.read() or 0) * KiB


@pytest.mark.parametrize("budget", [64, 128, 256])
def test_peak_rss_of_the_cli_stays_under_the_budget(budget):
    # A far source (ranges on) into a far S3: every buffer the budget allows
    # fills, because S3 drains more slowly than the ranges arrive.
    with (
        HttpSource() as web,
        DiscardS3(rate=40e6, latency=0.02) as sink,
    ):
        web.add("/far", 64 * MiB, rate=20e6, first_byte_delay=0.03)
        proc, peak = _cli_peak(web.url("/far"), sink.endpoint_url, f"{budget}MiB")
    # 64 MiB too: what Python, botocore's S3 client and requests hold before
    # the first byte (~43 MiB) leaves room for parts.
    assert peak < budget * MiB, (peak / MiB, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert '"source_connections"' in proc.stdout
