"""Stream an HTTP(S) download, stdin or a file into S3 in bounded memory.

from devkit.s3stream import stream_to_s3
result = stream_to_s3("https://example.com/big.iso", "my-bucket", "big.iso")
"""

from __future__ import annotations

from devkit.s3stream.api import (
    DEFAULT_CONCURRENCY,
    check_size_options,
    object_key,
    parse_s3_url,
    stream_to_s3,
)
from devkit.s3stream.handler import lambda_handler
from devkit.s3stream.parts import S3Limits
from devkit.s3stream.source import ResumePolicy, Source, open_source
from devkit.s3stream.upload import UploadResult

__all__ = [
    "DEFAULT_CONCURRENCY",
    "ResumePolicy",
    "S3Limits",
    "Source",
    "UploadResult",
    "check_size_options",
    "lambda_handler",
    "object_key",
    "open_source",
    "parse_s3_url",
    "stream_to_s3",
]
