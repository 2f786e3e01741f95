"""Bounded memory: peak RSS stays under the budget whatever the object's size
(a real CLI process)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest
from s3stream_support import KiB

from testing.http_source import HttpSource
from testing.s3_discard import DiscardS3

MiB = 1024 * KiB


def _peak_rss_mib(source_url, endpoint, extra=()):
    # The process's own VmHWM: wait4's ru_maxrss would include this (large)
    # pytest process's RSS, which Linux carries into a child at exec.
    with tempfile.NamedTemporaryFile("r") as out:
        cmd = [sys.executable, "-m", "testing.peak_rss", out.name, "-m", "devkit"]
        cmd += ["s3-stream", source_url, "s3://sink/obj", "--endpoint-url", endpoint]
        proc = subprocess.run(
            [*cmd, "-q", *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=os.environ.copy(),
        )
        assert proc.returncode == 0, proc.stderr
        return int(out.read()) / 1024


def test_peak_rss_stays_under_the_default_budget_whatever_the_size():
    with HttpSource() as web, DiscardS3() as sink:
        web.add("/small", 48 * MiB)
        web.add("/large", 480 * MiB)
        small = _peak_rss_mib(web.url("/small"), sink.endpoint_url)
        large = _peak_rss_mib(web.url("/large"), sink.endpoint_url)
        # 10x the bytes, still within the default 128 MiB budget (how much of
        # it fills depends on which side is slower, not on the size).
        assert small < 128, small
        assert large < 128, large
        # Bigger parts buy fewer connections, not more memory.
        big_parts = _peak_rss_mib(
            web.url("/large"), sink.endpoint_url, ("--part-size", "24MiB")
        )
        assert big_parts < 128, big_parts


def test_large_part_size_on_a_small_object_allocates_only_the_object():
    # 12 MiB with --part-size 512MiB: one 12 MiB buffer, not a 512 MiB one.
    with HttpSource() as web, DiscardS3() as sink:
        web.add("/small", 12 * MiB)
        peak = _peak_rss_mib(
            web.url("/small"), sink.endpoint_url, ("--part-size", "512MiB")
        )
        assert peak < 120, peak


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_a_manifest_shares_one_budget_between_its_jobs(tmp_path, jobs):
    # Eight 48 MiB ranged sources: four at a time, each stream sizes itself
    # within a quarter of what is free (were each to take the whole budget,
    # four would hold far more); one at a time, what one item's buffers held
    # goes back before the next (glibc kept it: 158 MiB). Either way the
    # process stays within 128 MiB.
    manifest = tmp_path / "m.jsonl"
    with (
        HttpSource() as web,
        DiscardS3() as sink,
        tempfile.NamedTemporaryFile("r") as out,
    ):
        lines = []
        for i in range(8):
            web.add(f"/f{i}", 48 * MiB)
            lines.append(f'{{"url": "{web.url(f"/f{i}")}", "dest": "s3://sink/f{i}"}}')
        manifest.write_text("\n".join(lines) + "\n")
        cmd = [sys.executable, "-m", "testing.peak_rss", out.name, "-m", "devkit",
               "s3-stream", "--manifest", str(manifest), "--jobs", jobs, "-q",
               "--endpoint-url", sink.endpoint_url,
               "--results", str(tmp_path / "r.jsonl")]  # fmt: skip
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.returncode == 0, proc.stderr
        peak = int(out.read()) / 1024
    records = (tmp_path / "r.jsonl").read_text().splitlines()
    assert len(records) == 8 and all('"status":"done"' in r for r in records)
    assert peak < 128, peak
