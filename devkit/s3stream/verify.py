"""What a stored object proves about itself, decided from what the server answers.

S3-compatible servers differ in what they can prove: S3 checks and keeps a
full-object CRC32; others keep none, or echo back whatever checksum the client
claimed without checking it (rclone 1.75); some return the MD5 of the whole
body as the ETag of a multipart object (rclone, s3rver), others an opaque
ETag. So a check is used only where the server has shown it means something,
and a difference counts as proof only where it cannot come from the server's
way of naming things. Where nothing can be proved, the size is checked and
the result says "size-only"; the object is never deleted on that path.

One entry point, `verify_upload`, runs after the commit (PutObject or
CompleteMultipartUpload) was answered. `judge` is the pure decision, for
callers that must find out whether a commit happened at all (an interrupt
while the commit was in flight): it never deletes anything.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from devkit.errors import UploadError
from devkit.s3stream.parts import b64_crc32

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from devkit.s3stream.upload import Destination

# What `verified` can say, strongest first.
CRC32_FULL_OBJECT = "crc32-full-object"
MULTIPART_ETAG = "multipart-etag"
MD5 = "md5"
READ_BACK = "read-back"
SIZE_ONLY = "size-only"

_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")
_MULTIPART = re.compile(r"([0-9a-f]{32})-([0-9]+)")


@dataclass(frozen=True)
class Expected:
    """What devkit knows about the bytes it sent, and what the server has shown."""

    size: int
    crc32: int  # of the whole object, combined from the parts' CRCs
    # The server showed it computes full-object CRC32s itself: Create echoed
    # ChecksumType=FULL_OBJECT, or PutObject's answer carried the CRC. A
    # checksum seen only on HEAD may be the client's own claim, stored unchecked.
    server_crc: bool = False
    md5: str | None = None  # hex MD5 of the whole body, when it was computed
    # "<md5 of part MD5s>-N", only when every part's ETag was that part's MD5
    # (so the server's ETags are MD5s and a different one is a different body).
    multipart_etag: str | None = None

    @property
    def crc32_text(self) -> str:
        return f"crc32:{b64_crc32(self.crc32)}"

    def confirmed_by(self, response: Mapping[str, Any]) -> Expected:
        """This, with `server_crc` set if the commit's answer carried our CRC.

        S3 answers PutObject with the CRC32 it checked; servers that only
        store the client's claim (and echo it on HEAD) do not.
        """
        if response.get("ChecksumCRC32") == b64_crc32(self.crc32):
            return replace(self, server_crc=True)
        return self


@dataclass(frozen=True)
class Judgement:
    """`same` is True (proved equal), False (proved different) or None (unproved)."""

    method: str
    same: bool | None
    detail: str  # the value compared, or why nothing more could be compared


@dataclass(frozen=True)
class Verification:
    """The outcome of `verify_upload` for an object that is stored as sent."""

    method: str
    detail: str


def judge(head: dict[str, Any], expected: Expected) -> Judgement:
    """Compare a HeadObject answer with what was sent; no requests, no side effects."""
    stored_size = head.get("ContentLength")
    if stored_size != expected.size:
        return Judgement(
            SIZE_ONLY,
            False,
            f"S3 stored {stored_size} bytes, the source gave {expected.size}",
        )
    crc = head.get("ChecksumCRC32")
    if expected.server_crc and crc and head.get("ChecksumType") != "COMPOSITE":
        ours = b64_crc32(expected.crc32)
        if crc == ours:
            return Judgement(CRC32_FULL_OBJECT, True, f"crc32:{ours}")
        return Judgement(
            CRC32_FULL_OBJECT,
            False,
            f"S3's full-object CRC32 {crc} differs from the source's {ours}",
        )
    etag = str(head.get("ETag", "")).strip('"').lower()
    multipart = _MULTIPART.fullmatch(etag)
    if multipart and expected.multipart_etag:
        if etag == expected.multipart_etag:
            return Judgement(MULTIPART_ETAG, True, etag)
        if multipart.group(2) == expected.multipart_etag.rpartition("-")[2]:
            return Judgement(
                MULTIPART_ETAG,
                False,
                f"S3's multipart ETag {etag} differs from the source's "
                f"{expected.multipart_etag}",
            )
    if _PLAIN_MD5.fullmatch(etag):
        if etag == expected.md5:
            return Judgement(MD5, True, etag)
        if expected.multipart_etag and etag == expected.multipart_etag.split("-")[0]:
            return Judgement(MULTIPART_ETAG, True, etag)
    # An opaque ETag, or one that is not an MD5 of these bytes (encryption,
    # another hash): no proof either way, so no claim and no deletion.
    return Judgement(SIZE_ONLY, None, "the server keeps no checksum devkit can compare")


def verify_upload(
    client: S3Client,
    dest: Destination,
    expected: Expected,
    *,
    etag: str,
    version_id: str | None,
    read_back: bool = False,
    on_bytes: Callable[[int], None] | None = None,
) -> Verification:
    """After a commit: prove what can be proved, or undo an object proved wrong.

    `etag` and `version_id` are the commit's answer. Raises UploadError when
    the object is proved different (after removing it, saying what the key
    holds now) or when it cannot be read back (saying the new object is in
    place, unverified).
    """
    head = _head(client, dest, etag)
    judgement = judge(head, expected)
    if read_back and judgement.same is not False:
        stored_etag = str(head.get("ETag") or etag)
        judgement = _read_back(client, dest, expected, stored_etag, on_bytes)
    if judgement.same is False:
        raise UploadError(
            f"verification failed for {dest.url}: {judgement.detail}; "
            + _undo(client, dest, version_id)
        )
    return Verification(judgement.method, judgement.detail)


def _head(client: S3Client, dest: Destination, etag: str) -> dict[str, Any]:
    # No VersionId here: some S3-compatible servers return one for
    # unversioned buckets and then refuse it on HEAD.
    try:
        return dict(
            client.head_object(Bucket=dest.bucket, Key=dest.key, ChecksumMode="ENABLED")
        )
    except (ClientError, BotoCoreError) as exc:
        raise UploadError(_unverified(dest, etag, "HeadObject", exc)) from exc


def _read_back(
    client: S3Client,
    dest: Destination,
    expected: Expected,
    etag: str,
    on_bytes: Callable[[int], None] | None,
) -> Judgement:
    """GET the stored object and CRC32 it as it streams (never held whole)."""
    crc, size = 0, 0
    try:
        # IfMatch (the ETag HEAD just gave): read the object this upload
        # stored, not a later writer's.
        body = client.get_object(Bucket=dest.bucket, Key=dest.key, IfMatch=etag)["Body"]
        for chunk in body.iter_chunks(1 << 20):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    except (ClientError, BotoCoreError, OSError) as exc:
        raise UploadError(_unverified(dest, etag, "GetObject", exc)) from exc
    if size != expected.size:
        return Judgement(
            READ_BACK,
            False,
            f"S3 returned {size} bytes, the source gave {expected.size}",
        )
    if crc != expected.crc32:
        return Judgement(
            READ_BACK,
            False,
            f"the bytes read back (crc32:{b64_crc32(crc)}) differ from the "
            f"source's ({expected.crc32_text})",
        )
    return Judgement(READ_BACK, True, expected.crc32_text)


def _unverified(dest: Destination, etag: str, op: str, exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        cause = f"{error.get('Code') or 'error'} {error.get('Message') or ''}".strip()
    else:
        cause = type(exc).__name__
    return (
        f"{dest.url} was stored (ETag {etag}) but could not be verified: "
        f"S3 refused {op} ({cause}); the new object is in place, unverified"
    )


def _undo(client: S3Client, dest: Destination, version_id: str | None) -> str:
    """Remove an object proved wrong; return what the key holds now, in words."""
    versioned = bool(version_id) and version_id != "null"
    args: dict[str, Any] = {"Bucket": dest.bucket, "Key": dest.key}
    if versioned:
        args["VersionId"] = version_id
    try:
        client.delete_object(**args)
    except (ClientError, BotoCoreError) as exc:
        code = (
            exc.response.get("Error", {}).get("Code", "")
            if isinstance(exc, ClientError)
            else type(exc).__name__
        )
        return (
            f"deleting it failed ({code}): the wrong object is in place; "
            f"delete it with `aws s3api delete-object --bucket {dest.bucket} "
            f"--key {dest.key}" + (f" --version-id {version_id}`" if versioned else "`")
        )
    if versioned:
        return (
            f"its version {version_id} was deleted, so the version that was "
            "current before (if any) is current again"
        )
    if dest.no_overwrite:
        # S3 refused the commit had the key existed: nothing was replaced.
        return "it was deleted, so the key is empty, as it was before"
    return (
        "it was deleted and the key is now empty; the bucket keeps no versions, "
        "so an object that was under the key before was replaced when the "
        "upload completed (use --no-overwrite or a versioned bucket to keep it)"
    )


def md5_hex_of_parts(part_md5s: list[bytes]) -> str:
    """S3's multipart ETag: the MD5 of the parts' binary MD5s, then -N."""
    return f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{len(part_md5s)}"
