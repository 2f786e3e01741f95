from __future__ import annotations

import pytest

from testing.s3_server import S3Server


@pytest.fixture(scope="session")
def moto_server():
    """One moto server on 127.0.0.1 (S3, SQS, Lambda, Step Functions, IAM)."""
    with S3Server() as server:
        yield server


@pytest.fixture
def aws_endpoint(moto_server, monkeypatch):
    """boto3 clients made in the test go to the moto server, which starts empty."""
    moto_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    return moto_server.endpoint_url
