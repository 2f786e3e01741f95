"""The commit (PutObject or CompleteMultipartUpload) and the truth after it.

Once the commit request is on the wire, S3 may act on it whether or not its
answer reaches us: a Ctrl-C, a SIGTERM or a dropped connection at that moment
says nothing about the key. Instead of guessing, an unfinished upload is
aborted (so it can no longer complete) and the key is read back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devkit.errors import Interrupted, UploadError
from devkit.s3stream.upload import (
    Destination,
    MultipartUpload,
    read_back,
    retried_complete_lost,
    unanswered,
)
from devkit.s3stream.verify import Expected, Verification, judge, verify_upload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def commit(
    client: S3Client,
    dest: Destination,
    expected: Expected,
    send: Callable[[], dict[str, Any]],
    upload: MultipartUpload | None,
    on_phase: Callable[[str], None],
    deadline: float | None,
    read_back: bool = False,
) -> tuple[dict[str, Any], Verification]:
    """Send the commit, then verify; on an unanswered commit, report what S3 holds."""
    size = expected.size
    if deadline is not None and time.monotonic() > deadline:
        if upload is not None:
            upload.abort_after(UploadError("deadline reached"))
        raise UploadError(
            f"deadline reached before the commit of {size} bytes: "
            "the upload was aborted, nothing was written"
        )
    try:
        response = send()
    except KeyboardInterrupt as exc:
        state = settle(client, dest, expected, upload, committed=False)
        raise Interrupted(f"interrupted ({str(exc) or 'SIGINT'}){state}") from None
    except UploadError as exc:
        if not unanswered(exc):
            raise  # S3 answered no: nothing was committed (and the upload aborted)
        state = settle(client, dest, expected, upload, committed=False)
        if retried_complete_lost(exc):
            raise UploadError(
                "CompleteMultipartUpload's answer was lost (its retry found no "
                f"upload){state}"
            ) from None
        raise UploadError(f"{exc}{state}") from None
    on_phase("verifying")
    expected = expected.confirmed_by(response)
    try:
        verification = verify_upload(
            client,
            dest,
            expected,
            etag=str(response.get("ETag", "")).strip('"'),
            version_id=response.get("VersionId"),
            read_back=read_back,
        )
    except KeyboardInterrupt as exc:
        state = settle(client, dest, expected, None, committed=True)
        raise Interrupted(f"interrupted ({str(exc) or 'SIGINT'}){state}") from None
    return response, verification


def settle(
    client: S3Client,
    dest: Destination,
    expected: Expected,
    upload: MultipartUpload | None,
    committed: bool,
) -> str:
    """Find out whether the commit happened; the tail of a one-line message."""
    leftover = upload.abort() if upload is not None else None
    try:
        head = read_back(client, dest)
    except UploadError:
        return (
            f" while S3 was committing {dest.url}, and S3 did not answer HeadObject"
            f" to say whether it did: check {dest.url} before relying on it"
        )
    size = expected.size
    judgement = None if head is None else judge(head, expected)
    problem = judgement.detail if judgement and judgement.same is False else None
    if head is None or (problem and not committed):
        tail = f"; {leftover}" if leftover else ""
        return f": the upload was aborted, nothing was written{tail}"
    if problem:
        return f" after S3 committed {dest.url}, but it does not match: {problem}"
    if judgement and judgement.same:
        return (
            f" after S3 committed the upload: {dest.url} is the new object, "
            f"{size} bytes, verified {judgement.method} {judgement.detail}"
        )
    if committed:
        return (
            f" after S3 committed the upload: {dest.url} is the new object, "
            f"{size} bytes (S3 keeps no checksum to verify it against)"
        )
    return (
        f" after the upload was sent: {dest.url} holds {size} bytes, but S3 keeps "
        "no checksum to confirm they are the new ones"
    )
