"""The README's s3-stream shell examples run as written (sources faked locally)."""

from __future__ import annotations

import gzip
import os
import random
import re
import subprocess
import sys
from pathlib import Path

from s3stream_support import KiB

ROOT = Path(__file__).parents[2]
DOCS = (ROOT / "docs" / "s3-stream.md", ROOT / "README.md")


def readme_line(starts_with):
    """The one example line starting so in docs/s3-stream.md; the README's copy
    of it, where it has one, must be the same line."""
    found = {
        doc.name: [
            ln for ln in doc.read_text().splitlines() if ln.startswith(starts_with)
        ]
        for doc in DOCS
    }
    lines = found["s3-stream.md"]
    assert len(lines) == 1, lines
    assert all(other in ([], lines) for other in found.values()), found
    return lines[0]


def test_stdin_example_with_a_size_hint_works_as_written(s3_server, s3, tmp_path):
    line = readme_line("pg_dump ")
    assert "--size-hint" in line and "--expected-size" not in line
    bucket = re.search(r"s3://([^/]+)/", line).group(1)
    s3.create_bucket(Bucket=bucket)
    # A stand-in pg_dump: 12 MiB that gzip cannot shrink below one part.
    dump = random.Random(7).randbytes(12 * 1024 * KiB)
    (tmp_path / "dump.sql").write_bytes(dump)
    fake = tmp_path / "bin" / "pg_dump"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nexec cat {tmp_path / 'dump.sql'}\n")
    fake.chmod(0o755)
    env = {
        **os.environ,
        # the stand-in pg_dump, then this environment's `devkit` script
        "PATH": f"{fake.parent}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
    }
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", line], env=env,
                          capture_output=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    key = line.split(f"s3://{bucket}/", 1)[1].split()[0]
    stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert gzip.decompress(stored) == dump
    assert proc.stdout.decode().startswith(f"s3://{bucket}/{key}  ")
