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
