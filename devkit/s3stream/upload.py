"""The multipart engine: a bounded buffer pool, parts in flight, abort on any failure.

Why not s3transfer's `upload_fileobj`: it reads up to ten parts ahead (RSS of
about 11 x part size, 158 MB at 8 MiB measured), cannot grow the part size of
an unknown-length stream (it fails at part 10,001, about 78 GiB), and cannot
resume its source. This engine holds at most concurrency + 1 part buffers,
grows parts as the stream goes, and leaves retries of each part to botocore,
which resends the buffer it still holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import shlex
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from devkit.errors import DevkitError, Interrupted, UploadError
from devkit.s3stream.parts import PartPlan, b64_crc32, crc32_combine
from devkit.s3stream.source import Source

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Destination:
    """Where the object goes and what it carries."""

    bucket: str
    key: str
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)
    storage_class: str | None = None
    sse: str | None = None
    sse_kms_key_id: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def object_args(self) -> dict[str, Any]:
        """The arguments shared by PutObject and CreateMultipartUpload."""
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.key,
            "ContentType": self.content_type,
        }
        if self.metadata:
            args["Metadata"] = self.metadata
        if self.storage_class:
            args["StorageClass"] = self.storage_class
        if self.sse:
            args["ServerSideEncryption"] = self.sse
        if self.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.sse_kms_key_id
        return args


@dataclass(frozen=True)
class UploadResult:
    """What was stored, and how it was verified."""

    bucket: str
    key: str
    bytes: int
    parts: int
    part_size: int
    etag: str
    checksum: str  # e.g. "crc32:AAAAAA==" (full object) or "etag:<md5>-N"
    seconds: float
    resumes: int
    version_id: str | None
    content_type: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON document `--json` prints (and a Lambda handler can return)."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "bytes": self.bytes,
            "parts": self.parts,
            "part_size": self.part_size,
            "etag": self.etag,
            "checksum": self.checksum,
            "seconds": round(self.seconds, 3),
            "resumes": self.resumes,
            "version_id": self.version_id,
            "content_type": self.content_type,
        }


@dataclass
class _Part:
    number: int
    size: int
    crc: int
    etag: str
    md5: bytes | None


class _BufferPool:
    """At most `count` part buffers exist; acquiring blocks while all are in use."""

    def __init__(self, count: int) -> None:
        self._free: queue.SimpleQueue[bytearray | None] = queue.SimpleQueue()
        for _ in range(count):
            self._free.put(None)  # allocated lazily, at the size first asked for

    def acquire(self, size: int) -> bytearray:
        buf = self._free.get()
        if buf is None or len(buf) != size:
            buf = bytearray(size)  # part sizes only grow: the old one is dropped
        return buf

    def release(self, buf: bytearray) -> None:
        self._free.put(buf)


def buffer_size(part: int, remaining: int | None) -> int:
    """A part buffer no larger than the object needs: a 5 GiB --part-size on a
    12 MiB file allocates 12 MiB (+1 byte, so a longer body overflows and is caught).
    """
    return part if remaining is None else max(1, min(part, remaining + 1))


def fill(source: Source, buf: bytearray, on_bytes: Callable[[int], None]) -> int:
    """Read into `buf` until it is full or the source ends; return the length."""
    view = memoryview(buf)
    got = 0
    while got < len(buf):
        n = source.readinto(view[got:])
        if n == 0:
            break
        got += n
        on_bytes(n)
    return got


class MultipartUpload:
    """One multipart upload, from CreateMultipartUpload to a verified object."""

    def __init__(
        self,
        client: S3Client,
        dest: Destination,
        plan: PartPlan,
        concurrency: int,
        on_bytes: Callable[[int], None],
        announced: int | None = None,
    ) -> None:
        self.client = client
        self.announced = announced
        self.dest = dest
        self.plan = plan
        self.concurrency = concurrency
        self.on_bytes = on_bytes
        self.upload_id = ""
        self.full_object = False
        self._parts: list[_Part] = []
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def run(
        self, source: Source, first: bytearray, pool: _BufferPool
    ) -> tuple[list[_Part], int]:
        """Upload every part; abort the upload on any failure, Ctrl-C included."""
        self._create()
        try:
            parts, total = self._upload_all(source, first, pool)
            return parts, total
        except BaseException as exc:
            self.abort_after(exc)
            raise

    def _create(self) -> None:
        args = self.dest.object_args()
        before = self._unfinished()
        try:
            response = _call(
                self.client.create_multipart_upload,
                self.dest,
                **args,
                ChecksumAlgorithm="CRC32",
                ChecksumType="FULL_OBJECT",
            )
        except BaseException as exc:
            # Interrupted or timed out after S3 may have created the upload:
            # its id never reached us, so find it (new since `before`) and abort it.
            if isinstance(exc, KeyboardInterrupt) or unanswered(exc):
                self._abort_new(before, keep=None)
            raise
        self.upload_id = response["UploadId"]
        if response.get("ResponseMetadata", {}).get("RetryAttempts"):
            self._abort_new(before, keep=self.upload_id)  # from lost attempts
        # A server that does not echo FULL_OBJECT will not check a full-object
        # CRC at Complete: fall back to comparing the multipart ETag.
        self.full_object = response.get("ChecksumType") == "FULL_OBJECT"

    def _upload_all(
        self, source: Source, first: bytearray, pool: _BufferPool
    ) -> tuple[list[_Part], int]:
        total = len(first)
        futures: list[Future[_Part]] = []
        executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="s3-part")
        try:
            number, buf, length = 1, first, len(first)
            while True:
                futures.append(executor.submit(self._send, number, buf, length, pool))
                self._raise_part_error()
                if length < len(buf):
                    break  # the short part was the last
                number += 1
                left = None if self.announced is None else self.announced - total
                buf = pool.acquire(buffer_size(self.plan.size(number), left))
                self._raise_part_error()
                length = fill(source, buf, self.on_bytes)
                if length == 0:
                    pool.release(buf)
                    break
                if number > self.plan.limits.max_parts:
                    pool.release(buf)
                    raise UploadError(
                        f"the stream is larger than {self.plan.capacity()} bytes, "
                        f"the most {self.plan.limits.max_parts} parts can hold: "
                        "pass --expected-size or a larger --part-size"
                    )
                total += length
                if self.announced is not None and total > self.announced:
                    pool.release(buf)
                    break  # longer than announced: the caller's length check fails
            parts = [f.result() for f in futures]
        finally:
            # On failure: drop queued parts, let those on the wire finish, so
            # nothing uploads after the abort below.
            executor.shutdown(wait=True, cancel_futures=True)
        return parts, total

    def _raise_part_error(self) -> None:
        with self._lock:
            if self._error is not None:
                raise self._error

    def _send(
        self, number: int, buf: bytearray, length: int, pool: _BufferPool
    ) -> _Part:
        try:
            view = memoryview(buf)[:length]
            crc = zlib.crc32(view)
            md5 = None if self.full_object else hashlib.md5(view).digest()
            # botocore takes bytes/bytearray bodies without copying; only a
            # short last part needs its own bytes.
            body = buf if length == len(buf) else bytes(view)
            response = _call(
                self.client.upload_part,
                self.dest,
                Bucket=self.dest.bucket,
                Key=self.dest.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=body,
                ContentLength=length,
                ChecksumCRC32=b64_crc32(crc),
            )
            return _Part(number, length, crc, response["ETag"], md5)
        except BaseException as exc:
            with self._lock:
                if self._error is None:
                    self._error = exc
            raise
        finally:
            pool.release(buf)

    def complete(self, parts: list[_Part], total: int) -> tuple[dict[str, Any], str]:
        """Complete the upload; return the response and the checksum to verify."""
        listing = []
        for p in parts:
            listing.append(
                {
                    "PartNumber": p.number,
                    "ETag": p.etag,
                    "ChecksumCRC32": b64_crc32(p.crc),
                }
            )
        extra: dict[str, Any] = {"MpuObjectSize": total}
        expected = self.checksum(parts)
        if self.full_object:
            extra.update(
                ChecksumCRC32=expected.partition(":")[2], ChecksumType="FULL_OBJECT"
            )
        try:
            response = _call(
                self.client.complete_multipart_upload,
                self.dest,
                Bucket=self.dest.bucket,
                Key=self.dest.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": listing},
                **extra,
            )
        except BaseException as exc:
            self.abort_after(exc)
            raise
        return dict(response), expected

    def checksum(self, parts: list[_Part]) -> str:
        """What the stored object must show: its full-object CRC32, else its ETag."""
        if self.full_object:
            crc = 0
            for p in parts:
                crc = crc32_combine(crc, p.crc, p.size)
            return f"crc32:{b64_crc32(crc)}"
        digest = hashlib.md5(b"".join(p.md5 or b"" for p in parts)).hexdigest()
        return f"etag:{digest}-{len(parts)}"

    def abort(self) -> str | None:
        """Abort the upload so no parts are left behind (and billed).

        One call (botocore already retries inside it); None when done, else
        what the user must run to finish the job.
        """
        if not self.upload_id:
            return None
        try:
            self.client.abort_multipart_upload(
                Bucket=self.dest.bucket, Key=self.dest.key, UploadId=self.upload_id
            )
            return None
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return None
        except BotoCoreError:
            pass
        return (
            f"multipart upload {self.upload_id} could not be aborted (its parts "
            "are billed until it is): run `aws s3api abort-multipart-upload "
            f"--bucket {shlex.quote(self.dest.bucket)} "
            f"--key {shlex.quote(self.dest.key)} --upload-id {self.upload_id}`"
        )

    def abort_after(self, exc: BaseException) -> None:
        """Abort after `exc`; if that fails too, raise `exc`'s message plus the fix."""
        leftover = self.abort()
        if leftover is None:
            return
        if isinstance(exc, KeyboardInterrupt):
            why = str(exc) or "SIGINT"
            raise Interrupted(
                f"interrupted ({why}): nothing was written, but {leftover}"
            )
        if isinstance(exc, DevkitError):
            raise type(exc)(f"{exc}; {leftover}") from exc

    def _unfinished(self) -> set[str] | None:
        """Ids of this key's unfinished uploads (None if S3 will not list them)."""
        try:
            listing = self.client.list_multipart_uploads(
                Bucket=self.dest.bucket, Prefix=self.dest.key
            )
        except (ClientError, BotoCoreError):
            return None
        return {
            u["UploadId"]
            for u in listing.get("Uploads", [])
            if u.get("Key") == self.dest.key
        }

    def _abort_new(self, before: set[str] | None, keep: str | None) -> None:
        """Abort this key's uploads that S3 started for requests we got no answer to.

        Only ids that were not there just before our request, so another
        writer's older upload of the same key is left alone.
        """
        now = self._unfinished()
        if before is None or now is None:
            return
        for upload_id in now - before - {keep}:
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.abort_multipart_upload(
                    Bucket=self.dest.bucket, Key=self.dest.key, UploadId=upload_id
                )


def single_checksum(body: bytes) -> str:
    """What an object stored with one PutObject of `body` must show."""
    return f"crc32:{b64_crc32(zlib.crc32(body))}"


def put_single(
    client: S3Client, dest: Destination, body: bytes
) -> tuple[dict[str, Any], str]:
    """Upload a body smaller than one part with one PutObject."""
    expected = single_checksum(body)
    response = _call(
        client.put_object,
        dest,
        **dest.object_args(),
        Body=body,
        ChecksumCRC32=expected.partition(":")[2],
    )
    return dict(response), expected


def read_back(client: S3Client, dest: Destination) -> dict[str, Any] | None:
    """HEAD the object under the key (with its checksum); None if there is none."""
    # No VersionId here: some S3-compatible servers return one for
    # unversioned buckets and then refuse it on HEAD.
    try:
        return dict(
            client.head_object(Bucket=dest.bucket, Key=dest.key, ChecksumMode="ENABLED")
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            return None
        raise UploadError(_client_error_message(exc, dest)) from exc
    except BotoCoreError as exc:
        raise UploadError(f"S3 request for {dest.url} failed: {exc}") from exc


def mismatch(head: dict[str, Any], size: int, expected: str) -> str | None:
    """How the stored object differs from what was sent; None if it does not."""
    kind, _, value = expected.partition(":")
    stored = (
        head.get("ChecksumCRC32")
        if kind == "crc32"
        else head.get("ETag", "").strip('"')
    )
    if head.get("ContentLength") != size:
        return f"S3 stored {head.get('ContentLength')} bytes, the source gave {size}"
    if kind == "crc32" and stored is None:
        return None  # the server keeps no checksum: size checked, parts CRC-checked
    if stored != value:
        return f"S3's {kind} {stored} differs from the source's {value}"
    return None


def verify_stored(
    client: S3Client,
    dest: Destination,
    size: int,
    expected: str,
    version_id: str | None,
) -> dict[str, Any]:
    """HEAD the new object and compare its size and checksum with ours."""
    head = dict(
        _call(
            client.head_object,
            dest,
            Bucket=dest.bucket,
            Key=dest.key,
            ChecksumMode="ENABLED",
        )
    )
    problem = mismatch(head, size, expected)
    if problem:
        _delete_quietly(client, dest, version_id)
        raise UploadError(
            f"verification failed for {dest.url}: {problem}; the object was deleted"
        )
    return head


def _delete_quietly(
    client: S3Client, dest: Destination, version_id: str | None
) -> None:
    args: dict[str, Any] = {"Bucket": dest.bucket, "Key": dest.key}
    if version_id:
        args["VersionId"] = version_id
    try:
        client.delete_object(**args)
    except (ClientError, BotoCoreError):
        pass


def unanswered(exc: BaseException) -> bool:
    """True when S3 may have acted on a request whose answer never came."""
    return isinstance(exc, UploadError) and isinstance(exc.__cause__, BotoCoreError)


def _call(method: Callable[..., Any], dest: Destination, **kwargs: Any) -> Any:
    """Call S3, turning botocore's exceptions into one-line UploadErrors."""
    try:
        return method(**kwargs)
    except ClientError as exc:
        raise UploadError(_client_error_message(exc, dest)) from exc
    except BotoCoreError as exc:
        raise UploadError(f"S3 request for {dest.url} failed: {exc}") from exc


def _client_error_message(exc: ClientError, dest: Destination) -> str:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    op = exc.operation_name
    if code == "NoSuchBucket":
        return (
            f"bucket {dest.bucket!r} does not exist: "
            "create it, or check the name and --region"
        )
    if code in ("AccessDenied", "403", "Forbidden"):
        return (
            f"access denied for {dest.url} ({op}): "
            "check the credentials' S3 permissions"
        )
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return (
            f"S3 rejected the credentials ({code}): check AWS_ACCESS_KEY_ID/--profile"
        )
    message = error.get("Message") or str(exc)
    return f"S3 refused {op} for {dest.url}: {code}: {message}"
