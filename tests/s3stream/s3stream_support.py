"""Shared constants and assertions for the s3-stream tests."""

from __future__ import annotations

from devkit.s3stream import ResumePolicy, S3Limits

KiB = 1024
# Kilobyte parts: the part-count rules are tested with kilobytes, not terabytes.
SMALL = S3Limits(
    min_part=1 * KiB, max_part=1024 * KiB, max_parts=100, default_part=64 * KiB
)
NO_WAIT = ResumePolicy(sleep=lambda seconds: None, read_timeout=2.0)


def assert_nothing_written(s3, bucket, key, old_body=None):
    """No object (or the old one, untouched) and no unfinished multipart upload."""
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert uploads == [], f"orphaned multipart uploads: {uploads}"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    if old_body is None:
        assert key not in keys
    else:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == old_body


def proxy_client(endpoint_url, max_attempts=8):
    """A client like devkit's own (unsigned payload, standard retries) for a proxy."""
    import boto3
    import botocore.config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        config=botocore.config.Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            s3={"payload_signing_enabled": False},
            request_checksum_calculation="when_required",
        ),
    )
