"""The discard-only S3 endpoint that bench/s3_stream.py measures clients against."""

from __future__ import annotations

import base64
import io
import json
import socket
import urllib.request
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from devkit.s3stream import stream_to_s3
from testing.http_source import HttpSource
from testing.s3_discard import DiscardS3

MiB = 1 << 20


@pytest.fixture
def sink() -> Iterator[DiscardS3]:
    with DiscardS3() as server:
        yield server


def _client(sink: DiscardS3) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=sink.endpoint_url,
        config=botocore.config.Config(s3={"payload_signing_enabled": False}),
    )


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_upload_fileobj_is_dropped_but_its_size_is_remembered(sink: DiscardS3) -> None:
    client = _client(sink)
    client.upload_fileobj(io.BytesIO(b"x" * (20 * MiB)), "bench", "obj")

    head = client.head_object(Bucket="bench", Key="obj", ChecksumMode="ENABLED")
    assert head["ContentLength"] == 20 * MiB
    assert head["PartsCount"] == 3
    assert head["ChecksumType"] == "COMPOSITE"
    assert sink.bytes_in == 20 * MiB


def test_full_object_checksum_sent_at_complete_comes_back_on_head(
    sink: DiscardS3,
) -> None:
    client = _client(sink)
    data = b"ab" * (5 * MiB)
    up = client.create_multipart_upload(
        Bucket="bench", Key="k", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )
    assert up["ChecksumType"] == "FULL_OBJECT"
    part = client.upload_part(
        Bucket="bench",
        Key="k",
        UploadId=up["UploadId"],
        PartNumber=1,
        Body=data,
        ChecksumCRC32=_crc32(data),
    )
    assert part["ChecksumCRC32"] == _crc32(data)
    client.complete_multipart_upload(
        Bucket="bench",
        Key="k",
        UploadId=up["UploadId"],
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": part["ETag"], "ChecksumCRC32": _crc32(data)}
            ]
        },
        ChecksumCRC32=_crc32(data),
        ChecksumType="FULL_OBJECT",
    )

    head = client.head_object(Bucket="bench", Key="k", ChecksumMode="ENABLED")
    assert (head["ContentLength"], head["ChecksumCRC32"]) == (len(data), _crc32(data))
    assert client.list_multipart_uploads(Bucket="bench").get("Uploads", []) == []


def test_aws_chunked_body_with_trailing_checksum(sink: DiscardS3) -> None:
    body = (
        b"5\r\nhello\r\n6;chunk-signature=00\r\n world\r\n0\r\n"
        b"x-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
    )
    head = (
        "PUT /bench/chunked HTTP/1.1\r\nHost: x\r\nContent-Encoding: aws-chunked\r\n"
        "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\r\n"
        "x-amz-decoded-content-length: 11\r\nExpect: 100-continue\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", sink.port)) as conn:
        conn.sendall(head.encode())
        assert conn.recv(100).startswith(b"HTTP/1.1 100 Continue")
        conn.sendall(body)
        reply = conn.recv(1000)
    assert reply.startswith(b"HTTP/1.1 200 OK")
    assert b"x-amz-checksum-crc32: DUoRhQ==" in reply

    stats_url = f"{sink.endpoint_url}/__discard/stats"
    with urllib.request.urlopen(stats_url) as r:
        stats = json.load(r)
    assert stats["bytes_in"] == 11
    assert stats["bodies"] == {
        "payload=STREAMING-UNSIGNED-PAYLOAD-TRAILER checksum=crc32 (trailer)": 1
    }


def test_devkit_end_to_end_verification_passes(sink: DiscardS3) -> None:
    with HttpSource() as source:
        source.add("/obj", 12 * MiB)
        result = stream_to_s3(source.url("/obj"), "bench", "obj", client=_client(sink))

    assert result.bytes == 12 * MiB
    assert result.checksum.startswith("crc32:")
    assert sink.bytes_in == 12 * MiB


@pytest.mark.parametrize(
    ("sizes", "refused"),
    [
        ((5, 5, 2), False),
        ((5, 5, 5), False),
        ((5, 6, 2), True),  # a part grew mid-way
        ((5, 5, 6), True),  # the last part is larger than the others
    ],
)
def test_same_size_parts_refuses_parts_of_different_sizes_as_r2_does(
    sizes: tuple[int, ...], refused: bool
) -> None:
    with DiscardS3(same_size_parts=True) as server:
        client = _client(server)
        up = client.create_multipart_upload(Bucket="bench", Key="k")
        parts = []
        for number, size in enumerate(sizes, 1):
            answer = client.upload_part(
                Bucket="bench",
                Key="k",
                UploadId=up["UploadId"],
                PartNumber=number,
                Body=b"x" * (size * MiB),
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})

        def complete() -> None:
            client.complete_multipart_upload(
                Bucket="bench",
                Key="k",
                UploadId=up["UploadId"],
                MultipartUpload={"Parts": parts},
            )

        if refused:
            with pytest.raises(botocore.exceptions.ClientError, match="same length"):
                complete()
        else:
            complete()
