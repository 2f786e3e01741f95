from __future__ import annotations

import uuid

import pytest

from testing.http_source import HttpSource
from testing.s3_server import S3Server


@pytest.fixture(scope="session")
def s3_server():
    with S3Server() as server:
        yield server


@pytest.fixture
def s3(s3_server):
    return s3_server.client()


@pytest.fixture
def bucket(s3):
    name = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def source():
    with HttpSource() as server:
        yield server
