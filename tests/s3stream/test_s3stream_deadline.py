"""The deadline bounds the whole call, as a Lambda handler needs it to."""

from __future__ import annotations

import os
import re
import threading
import time

import pytest
from s3stream_support import KiB, assert_nothing_written, proxy_client

from devkit.errors import UploadError
from devkit.s3stream import stream_to_s3
from devkit.s3stream.source import StreamSource
from testing.s3_faults import FaultProxy, Faults

MiB = 1024 * KiB


def bytes_read(error):
    return int(re.search(r"after (\d+) bytes", str(error)).group(1))


def test_slow_http_source_meets_the_deadline_within_a_slice(s3, bucket, source):
    # 512 KiB/s and 2 s left: the deadline is seen as slices arrive, not
    # only when a whole 5 MiB part is full (which would take 10 s).
    source.add("/slow", 20 * MiB, rate=512 * KiB)
    with pytest.raises(UploadError, match="deadline reached after") as err:
        stream_to_s3(source.url("/slow"), bucket, "k", client=s3,
                     deadline=time.monotonic() + 2)  # fmt: skip
    assert 0 < bytes_read(err.value) < 5 * MiB
    assert_nothing_written(s3, bucket, "k")


def test_slow_stdin_meets_the_deadline_within_a_slice(s3, bucket):
    r, w = os.pipe()
    stop = threading.Event()

    def trickle():
        with os.fdopen(w, "wb", buffering=0) as pipe:
            while not stop.is_set():
                pipe.write(b"x" * 64 * KiB)
                time.sleep(0.125)  # 512 KiB/s

    writer = threading.Thread(target=trickle, daemon=True)
    writer.start()
    src = StreamSource(os.fdopen(r, "rb"), "stdin", None)
    try:
        with pytest.raises(UploadError, match="deadline reached after") as err:
            stream_to_s3(src, bucket, "k", client=s3, deadline=time.monotonic() + 2)
    finally:
        stop.set()
    assert 0 < bytes_read(err.value) < 5 * MiB
    assert_nothing_written(s3, bucket, "k")


def test_a_deadline_already_past_writes_nothing(s3, bucket, source):
    source.add("/empty", 0)
    with pytest.raises(UploadError, match="deadline has already passed"):
        stream_to_s3(source.url("/empty"), bucket, "k", client=s3,
                     deadline=time.monotonic() - 1)  # fmt: skip
    assert_nothing_written(s3, bucket, "k")


def test_a_part_answered_after_the_deadline_is_not_waited_for(
    s3_server, s3, bucket, source
):
    source.add("/data", 12 * MiB)
    faults = Faults(delay_after={"UploadPart": 6.0})
    with FaultProxy(s3_server.endpoint_url, faults) as proxy:
        via_proxy = proxy_client(proxy.endpoint_url)
        late = "deadline reached after [0-9]+ bytes, while S3 was still receiving"
        with pytest.raises(UploadError, match=late):
            stream_to_s3(source.url("/data"), bucket, "k", client=via_proxy,
                         deadline=time.monotonic() + 2)  # fmt: skip
        # The held answers arrive later; the upload is gone by then.
        time.sleep(6.5)
    assert_nothing_written(s3, bucket, "k")


def test_a_client_devkit_builds_waits_no_longer_than_the_time_left(s3_server):
    from devkit.aws import AwsOptions
    from devkit.s3stream.api import make_s3_client

    aws = AwsOptions(endpoint_url=s3_server.endpoint_url)
    client = make_s3_client(aws, 3, deadline=time.monotonic() + 5)
    assert client.meta.config.read_timeout <= 5
    assert client.meta.config.connect_timeout <= 5
    assert make_s3_client(aws, 3).meta.config.read_timeout == 60  # botocore's
