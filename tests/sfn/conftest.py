from __future__ import annotations

import pytest

from testing.s3_server import S3Server
from testing.sfn_oracle import create_role


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


@pytest.fixture
def sfn_server(aws_endpoint, monkeypatch):
    """The moto server running executions for real (Lambda without docker)."""
    import boto3
    import requests

    # Its interpreter calls Lambda on localhost:$MOTO_PORT: this server.
    monkeypatch.setenv("MOTO_PORT", aws_endpoint.rsplit(":", 1)[1])
    config = f"{aws_endpoint}/moto-api/config"
    requests.post(
        config,
        json={
            "lambda": {"use_docker": False},
            "stepfunctions": {"execute_state_machine": True},
        },
        timeout=10,
    )
    role = create_role(boto3.client("iam"), "pipeline")
    yield role["Role"]["Arn"]
    requests.post(
        config,
        json={
            "lambda": {"use_docker": True},
            "stepfunctions": {"execute_state_machine": False},
        },
        timeout=10,
    )


@pytest.fixture
def sfn_recorder(aws_endpoint):
    """The moto server as it is by default: it records executions, runs none.

    Its interpreter (when running executions) rejects a Distributed Map's
    ItemBatcher and friends; recording, it keeps the definition as given.
    """
    import boto3

    return create_role(boto3.client("iam"), "fanout")["Role"]["Arn"]
