"""moto's S3-compatible server on 127.0.0.1, for tests, `scripts/try` and bench/."""

from __future__ import annotations

import logging
import os
from typing import Any

# moto reads its settings at import time; tests stream megabytes, not
# gigabytes, so let it accept small parts (the 10,000-part limit stays).
os.environ.setdefault("S3_UPLOAD_PART_MIN_SIZE", "1024")

import boto3  # noqa: E402
import botocore.config  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402


class S3Server:
    """A running moto server; `client()` returns a boto3 S3 client for it."""

    kind = "moto"  # as testing/s3_others.py's servers say which they are

    def can(self, feature: str) -> bool:
        """moto does all that the tests ask of an S3 server (see s3_others.CANNOT)."""
        return True

    @property
    def credentials(self) -> dict[str, str]:
        """Environment for a devkit subprocess talking to this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }

    def __init__(self) -> None:
        # Always pass ip_address: the default binds 0.0.0.0.
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def __enter__(self) -> S3Server:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def client(self, **config: Any) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=botocore.config.Config(**config) if config else None,
        )

    def reset(self) -> None:
        """Forget every bucket (moto's reset API)."""
        import requests

        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10)
