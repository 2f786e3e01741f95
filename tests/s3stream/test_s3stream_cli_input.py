"""User input the CLI must refuse with one line and exit 2, echoing no secret."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devkit.cli import main


def run(args, capsys):
    code = main(["s3-stream", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("X-Api-Key SECRETVALUE", "--header number 1 is not in the form 'NAME: VALUE'"),
        ("X-Api-Key: abc\nInjected: SECRETVALUE", "header X-Api-Key has a line break"),
        ("X-Api-Key: SECRETVALUE€", "header X-Api-Key has characters HTTP cannot"),
        ("Bad Name SECRETVALUE: v", "is not a valid HTTP header name"),
    ],
)
def test_malformed_header_is_named_never_echoed(header, message, capsys):
    code, out, err = run(["http://127.0.0.1:1/x", "s3://b/k", "--header", header],
                         capsys)  # fmt: skip
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert "SECRETVALUE" not in out + err


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://[::1/x", "unclosed [ in the host"),
        ("http://127.0.0.1:99999/x", "the port must be a number, 1 to 65535"),
        ("http://host:abc/x", "the port must be a number, 1 to 65535"),
        ("http:///x", "no host"),
    ],
)
def test_malformed_url_is_a_usage_error(url, why, capsys):
    code, out, err = run([url, "s3://b/k"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: not a valid URL ({why})")


def test_stdin_closed_is_a_usage_error():
    proc = subprocess.run(
        ["bash", "-c", 'exec "$0" -m devkit s3-stream - s3://b/k <&-', sys.executable],
        capture_output=True,
        env={**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:1"},
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.decode() == (
        "error: stdin is closed: pipe data into devkit or give a file\n"
    )


def test_expected_size_and_size_hint_together_are_refused(capsys):
    code, out, err = run(["-", "s3://b/k", "--expected-size", "1MiB",
                          "--size-hint", "2MiB"], capsys)  # fmt: skip
    assert code == 2 and "not both" in err
