"""When the abort itself fails: the first cause stays, and one call is enough."""

from __future__ import annotations

import pytest
from s3stream_support import SMALL, KiB, proxy_client

from devkit.errors import UploadError
from devkit.s3stream import stream_to_s3
from testing.s3_faults import FaultProxy, Faults


def test_a_failing_abort_keeps_the_cause_and_names_the_fix(s3_server, bucket, source):
    source.add("/x", 300 * KiB)
    faults = Faults(fail_parts={2: [500] * 20},
                    fail_ops={"AbortMultipartUpload": 503})  # fmt: skip
    with FaultProxy(s3_server.endpoint_url, faults) as proxy:
        client = proxy_client(proxy.endpoint_url, max_attempts=3)
        with pytest.raises(UploadError) as err:
            stream_to_s3(source.url("/x"), bucket, "k", client=client, limits=SMALL)
    message = str(err.value)
    assert message.startswith(
        f"S3 refused UploadPart for s3://{bucket}/k: InternalError"
    )
    assert "could not be aborted" in message
    assert f"aws s3api abort-multipart-upload --bucket {bucket} --key k" in message
    # one call with botocore's own retries (1 + 3 here), not rounds of them
    assert faults.arrived.count("AbortMultipartUpload") == 4
    uploads = s3_server.client().list_multipart_uploads(Bucket=bucket)["Uploads"]
    for upload in uploads:  # clean up what the failing abort left
        s3_server.client().abort_multipart_upload(
            Bucket=bucket, Key="k", UploadId=upload["UploadId"]
        )


def test_a_retried_complete_that_finds_no_upload_reads_the_key(
    s3_server, bucket, source
):
    # The first Complete's answer is lost (held past the client's read
    # timeout); the proxy answers the retry NoSuchUpload, as MinIO and Ceph do.
    import threading
    import time

    import boto3
    import botocore.config

    source.add("/x", 300 * KiB)
    faults = Faults(delay_after={"CompleteMultipartUpload": 3.0}, forget_completed=True)

    def answer_the_retry_at_once():
        while "CompleteMultipartUpload" not in faults.acted:
            time.sleep(0.01)
        faults.delay_after.clear()

    threading.Thread(target=answer_the_retry_at_once, daemon=True).start()
    with FaultProxy(s3_server.endpoint_url, faults) as proxy:
        client = boto3.client(
            "s3",
            endpoint_url=proxy.endpoint_url,
            region_name="us-east-1",
            config=botocore.config.Config(
                read_timeout=1,
                retries={"mode": "standard", "max_attempts": 3},
                request_checksum_calculation="when_required",
            ),
        )
        with pytest.raises(UploadError) as err:
            stream_to_s3(source.url("/x"), bucket, "k", client=client, limits=SMALL)
    assert str(err.value).startswith(
        "CompleteMultipartUpload's answer was lost (its retry found no upload) "
        f"after S3 committed the upload: s3://{bucket}/k is the new object, "
        f"{300 * KiB} bytes, verified"
    ), str(err.value)
    assert faults.arrived.count("CompleteMultipartUpload") == 2
