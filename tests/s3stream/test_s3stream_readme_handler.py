"""The Lambda handler the README shows runs as written (Lambda's context faked)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from s3stream_support import KiB

from testing.http_source import body_sha256

README = Path(__file__).parents[2] / "README.md"


class FakeLambdaContext:
    """Only what the handler uses of Lambda's context object."""

    def get_remaining_time_in_millis(self):
        return 900_000


def test_readme_lambda_handler_streams_into_s3(
    s3_server, s3, bucket, source, monkeypatch
):
    section = README.read_text().split("## s3-stream in an AWS Lambda function", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)  # as in Lambda's env
    source.add("/export.csv", 300 * KiB, content_type="text/csv")
    event = {"url": source.url("/export.csv"), "bucket": bucket, "key": "e.csv"}
    doc = namespace["handler"](event, FakeLambdaContext())
    assert doc["bytes"] == 300 * KiB
    body = s3.get_object(Bucket=bucket, Key="e.csv")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == body_sha256(300 * KiB)
