"""The multipart engine: a bounded buffer pool, parts in flight, abort on any failure.

Why not s3transfer's `upload_fileobj`: it reads up to ten parts ahead (RSS of
about 11 x part size, 158 MB at 8 MiB measured), cannot grow the part size of
an unknown-length stream (it fails at part 10,001, about 78 GiB), and cannot
resume its source. This engine holds at most concurrency + 1 part buffers,
grows parts as the stream goes, and leaves retries of each part to botocore,
which resends the buffer it still holds.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import queue
import re
import shlex
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from devkit.errors import DevkitError, Interrupted, UploadError
from devkit.s3stream.parts import PartPlan, b64_crc32, crc32_combine
from devkit.s3stream.source import Source
from devkit.s3stream.verify import SIZE_ONLY, Expected, md5_hex_of_parts

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Destination:
    """Where the object goes and what it carries."""

    bucket: str
    key: str
    content_type: str = "application/octet-stream"
    content_encoding: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    storage_class: str | None = None
    sse: str | None = None
    sse_kms_key_id: str | None = None
    # S3's conditional writes, sent with the commit (PutObject or
    # CompleteMultipartUpload) so S3 refuses it atomically.
    no_overwrite: bool = False
    if_match: str | None = None

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
        if self.content_encoding:
            args["ContentEncoding"] = self.content_encoding
        if self.metadata:
            args["Metadata"] = self.metadata
        if self.storage_class:
            args["StorageClass"] = self.storage_class
        if self.sse:
            args["ServerSideEncryption"] = self.sse
        if self.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.sse_kms_key_id
        return args

    def commit_args(self) -> dict[str, Any]:
        """The conditional-write arguments of PutObject and CompleteMultipartUpload."""
        if self.no_overwrite:
            return {"IfNoneMatch": "*"}
        if self.if_match:
            return {"IfMatch": _quoted(self.if_match)}
        return {}


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


@dataclass(frozen=True)
class UploadResult:
    """What was stored, and how it was verified."""

    bucket: str
    key: str
    bytes: int
    parts: int
    part_size: int
    etag: str
    checksum: str  # the source's full-object CRC32, "crc32:AAAAAA=="
    seconds: float
    resumes: int
    version_id: str | None
    content_type: str
    # Which check proved the stored object equal to the source (verify.py):
    # crc32-full-object, multipart-etag, md5, read-back, or size-only.
    verified: str = SIZE_ONLY
    proof: str = ""  # the value compared, e.g. "crc32:AAAAAA==" or an ETag
    # What the memory budget chose, and the most part buffers held at once.
    s3_connections: int = 0
    source_connections: int = 1
    peak_buffered: int = 0
    max_memory: int = 0

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
            "verified": self.verified,
            "seconds": round(self.seconds, 3),
            "resumes": self.resumes,
            "version_id": self.version_id,
            "content_type": self.content_type,
            "s3_connections": self.s3_connections,
            "source_connections": self.source_connections,
            "peak_buffered": self.peak_buffered,
            "max_memory": self.max_memory,
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
        self.allocated = 0  # bytes of live buffers (only the acquiring thread)
        self.peak = 0

    def acquire(self, size: int, timeout: float | None = None) -> bytearray:
        """A buffer of `size` bytes; FutureTimeout if none is free by `timeout`."""
        try:
            buf = self._free.get(timeout=timeout)
        except queue.Empty:
            raise FutureTimeout from None
        if buf is not None and len(buf) > size:
            # The short last part: cut a free buffer down in place. A new one
            # would add to it, since botocore may still hold the old buffer
            # (its last request's body) until its connection's next request.
            with contextlib.suppress(BufferError):  # still viewed: allocate
                shrunk = len(buf) - size
                del buf[size:]
                self.allocated -= shrunk
        if buf is None or len(buf) != size:
            self.allocated -= len(buf) if buf is not None else 0
            buf = bytearray(size)  # part sizes only grow: the old one is dropped
            self.allocated += size
            self.peak = max(self.peak, self.allocated)
        return buf

    def release(self, buf: bytearray) -> None:
        self._free.put(buf)


def buffer_size(part: int, remaining: int | None) -> int:
    """A part buffer no larger than the object needs: a 5 GiB --part-size on a
    12 MiB file allocates 12 MiB (+1 byte, so a longer body overflows and is caught).
    """
    return part if remaining is None else max(1, min(part, remaining + 1))


def trim(buf: bytearray, length: int) -> None:
    """Shorten `buf` to `length` bytes in place (no copy; nothing may view it)."""
    if length < len(buf):
        del buf[length:]


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
        deadline: float | None = None,
    ) -> None:
        self.client = client
        self.announced = announced
        self.deadline = deadline  # a time.monotonic() value
        self._late = False
        self.dest = dest
        self.plan = plan
        self.concurrency = concurrency
        self.on_bytes = on_bytes
        self.upload_id = ""
        self.answered_in: float | None = None  # CreateMultipartUpload's, in seconds
        self.full_object = False
        # Only where the server keeps no full-object checksum: the whole
        # body's MD5, which such servers often give as a multipart ETag.
        self.whole_md5: Any = None
        self._parts: list[_Part] = []
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def run(
        self, source: Source, first: bytearray, pool: _BufferPool
    ) -> tuple[list[_Part], int]:
        """Upload every part; abort the upload on any failure, Ctrl-C included."""
        try:
            if not self.upload_id:
                self.create()
            if not self.full_object:
                self.whole_md5 = hashlib.md5(first)
            parts, total = self._upload_all(source, first, pool)
            return parts, total
        except BaseException as exc:
            self.abort_after(exc)  # nothing to abort if create() failed
            raise

    def create(self) -> None:
        """CreateMultipartUpload; `answered_in` is how long S3 took to answer it.

        That is the time on the wire, from botocore's before-send to the
        answer (signing and botocore's first-call set-up excluded): what S3
        and the path to it cost a request. None after a retry.
        """
        args = self.dest.object_args()
        before = self._unfinished()
        sent: list[float] = []
        answer: dict[str, Any] = {}
        # An Event, not Thread.join: a join cut short by Ctrl-C leaves the
        # thread looking finished to the next join (CPython before 3.13).
        answered = threading.Event()

        def send() -> None:
            # In a thread of its own, so Ctrl-C (which only the main thread
            # sees) cannot cut the request off between S3 acting on it and
            # its answer naming the upload.
            try:
                answer["response"] = response = _call(
                    self.client.create_multipart_upload,
                    self.dest,
                    **args,
                    ChecksumAlgorithm="CRC32",
                    ChecksumType="FULL_OBJECT",
                )
                answer["at"] = time.monotonic()
                self.upload_id = response["UploadId"]
            except BaseException as exc:  # noqa: BLE001 - raised in the caller
                answer["error"] = exc
            finally:
                answered.set()

        worker = threading.Thread(target=send, name="s3-create", daemon=True)

        def mark(**_: Any) -> None:
            # Only this upload's request: a batch's streams share one client.
            if threading.current_thread() is worker:
                sent.append(time.monotonic())

        events = self.client.meta.events
        hook, hook_id = "before-send.s3.CreateMultipartUpload", f"devkit-{id(self)}"
        events.register(hook, mark, unique_id=hook_id)
        try:
            worker.start()
            answered.wait()
        except KeyboardInterrupt:
            # S3 may act on the request after anything listed now: wait for
            # its answer, whose upload id the caller then aborts. Unanswered
            # by then, abort whatever is new since `before`.
            answered.wait(CREATE_ANSWER_WAIT)
            if not self.upload_id:
                self._abort_new(before, keep=None)
            raise
        finally:
            events.unregister(hook, unique_id=hook_id)
        if "error" in answer:
            # Timed out or cut off after S3 may have created the upload: its
            # id never reached us, so find it (new since `before`) and abort it.
            if unanswered(answer["error"]):
                self._abort_new(before, keep=None)
            raise answer["error"]
        response = answer["response"]
        if response.get("ResponseMetadata", {}).get("RetryAttempts"):
            self._abort_new(before, keep=self.upload_id)  # from lost attempts
        elif len(sent) == 1:
            self.answered_in = answer["at"] - sent[0]
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
                buf = pool.acquire(
                    buffer_size(self.plan.size(number), left), self._wait()
                )
                self._raise_part_error()
                length = fill(source, buf, self.on_bytes)
                if self.whole_md5 is not None:
                    self.whole_md5.update(memoryview(buf)[:length])
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
            parts = [f.result(timeout=self._wait()) for f in futures]
        except FutureTimeout:
            self._late = True
            raise self._deadline_error(total) from None
        finally:
            # On failure: drop queued parts, let those on the wire finish, so
            # nothing uploads after the abort below. Past the deadline, do not
            # wait for them: the abort makes S3 refuse what they still send.
            executor.shutdown(wait=not self._late, cancel_futures=True)
        return parts, total

    def _wait(self) -> float | None:
        """How long a wait may last: until the deadline (None: no deadline)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def _deadline_error(self, read: int) -> UploadError:
        # Worded like the deadline seen while reading (api._until), plus why.
        return UploadError(
            f"deadline reached after {read} bytes, while S3 was still receiving "
            "parts: the upload was aborted, nothing was written"
        )

    def _raise_part_error(self) -> None:
        with self._lock:
            if self._error is not None:
                raise self._error

    def _send(
        self, number: int, buf: bytearray, length: int, pool: _BufferPool
    ) -> _Part:
        try:
            with memoryview(buf) as whole, whole[:length] as view:
                crc = zlib.crc32(view)
                md5 = None if self.full_object else hashlib.md5(view).digest()
            # botocore takes bytes/bytearray bodies without copying. A short
            # last part is cut to its length in place: a copy would hold one
            # more part's memory, past the budget, while the parts finish.
            trim(buf, length)
            body = buf
            # Where the server cannot check a full-object CRC, Content-MD5 lets
            # it refuse a part changed on the way (rclone does; S3 does too).
            extra = {"ContentMD5": base64.b64encode(md5).decode()} if md5 else {}
            response = _resend_refused(
                self.client.upload_part,
                self.dest,
                Bucket=self.dest.bucket,
                Key=self.dest.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=body,
                ContentLength=length,
                ChecksumCRC32=b64_crc32(crc),
                **extra,
            )
            return _Part(number, length, crc, response["ETag"], md5)
        except BaseException as exc:
            with self._lock:
                if self._error is None:
                    self._error = exc
            raise
        finally:
            pool.release(buf)

    def complete(self, parts: list[_Part], total: int) -> dict[str, Any]:
        """Complete the upload (conditionally, if asked); return S3's answer.

        Where the server keeps full-object checksums, the CRC32 goes with
        Complete, so S3 refuses a wrong object instead of storing it.
        """
        listing = []
        for p in parts:
            listing.append(
                {
                    "PartNumber": p.number,
                    "ETag": p.etag,
                    "ChecksumCRC32": b64_crc32(p.crc),
                }
            )
        extra: dict[str, Any] = {"MpuObjectSize": total, **self.dest.commit_args()}
        if self.full_object:
            extra.update(
                ChecksumCRC32=b64_crc32(_combined_crc(parts)),
                ChecksumType="FULL_OBJECT",
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
        return dict(response)

    def expected(self, parts: list[_Part], total: int) -> Expected:
        """What the stored object must show; fails before Complete on a changed part."""
        crc = _combined_crc(parts)
        if self.full_object:
            return Expected(total, crc, server_crc=True)
        return Expected(
            total,
            crc,
            md5=self.whole_md5.hexdigest(),
            multipart_etag=self._multipart_etag(parts),
        )

    def _multipart_etag(self, parts: list[_Part]) -> str | None:
        """MD5-of-MD5s-N if every part's ETag is its MD5; fail if only some are.

        A server whose part ETags are MD5s but one of which is not the MD5 of
        what was sent received that part changed (it checked no Content-MD5):
        stop before Complete, so nothing wrong is stored.
        """
        md5s = [p.md5 or b"" for p in parts]
        differ = [
            p
            for p, m in zip(parts, md5s, strict=True)
            if p.etag.strip('"').lower() != m.hex()
        ]
        if not differ:
            return md5_hex_of_parts(md5s)
        if len(differ) < len(parts) and all(_is_md5(p.etag) for p in parts):
            p = differ[0]
            raise UploadError(
                f"S3 stored part {p.number} of {self.dest.url} with ETag "
                f"{p.etag.strip(chr(34))}, which is not the MD5 of the bytes sent "
                "(the other parts' ETags are): the part was changed on the way; "
                "the upload was aborted, nothing was written"
            )
        return None  # the server's part ETags are not MD5s: they prove nothing

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


# How long Ctrl-C waits for CreateMultipartUpload's answer (S3 gives it in
# well under a second) before falling back to listing what is new.
CREATE_ANSWER_WAIT = 10.0


def _combined_crc(parts: list[_Part]) -> int:
    crc = 0
    for p in parts:
        crc = crc32_combine(crc, p.crc, p.size)
    return crc


def single_expected(body: bytes | bytearray) -> Expected:
    """What an object stored with one PutObject of `body` must show."""
    return Expected(len(body), zlib.crc32(body), md5=hashlib.md5(body).hexdigest())


def put_single(
    client: S3Client, dest: Destination, body: bytes | bytearray, expected: Expected
) -> dict[str, Any]:
    """Upload a body smaller than one part with one PutObject."""
    # CRC32 for S3, Content-MD5 for servers that check only that (rclone):
    # either way a body changed on the way is refused, not stored.
    md5 = bytes.fromhex(expected.md5 or hashlib.md5(body).hexdigest())
    response = _resend_refused(
        client.put_object,
        dest,
        **dest.object_args(),
        **dest.commit_args(),
        Body=body,
        ChecksumCRC32=b64_crc32(expected.crc32),
        ContentMD5=base64.b64encode(md5).decode(),
    )
    return dict(response)


def check_condition(client: S3Client, dest: Destination) -> None:
    """Fail before uploading when --no-overwrite or --if-match cannot hold.

    S3 enforces both atomically at the commit; this early look saves the
    upload, and is the only check on servers that ignore conditional writes.
    """
    if not (dest.no_overwrite or dest.if_match):
        return
    try:
        head = client.head_object(Bucket=dest.bucket, Key=dest.key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            if dest.if_match:
                raise UploadError(_missing(dest)) from exc
            return
        return  # e.g. no s3:GetObject permission: the commit's condition decides
    except BotoCoreError:
        return
    if dest.no_overwrite:
        raise UploadError(_exists(dest))
    stored = str(head.get("ETag", "")).strip('"')
    if stored != (dest.if_match or "").strip('"'):
        raise UploadError(_changed(dest, stored))


def _exists(dest: Destination) -> str:
    return f"{dest.url} already exists (--no-overwrite): nothing was written"


def _missing(dest: Destination) -> str:
    return (
        f"{dest.url} does not exist, so --if-match {dest.if_match} "
        "cannot hold: nothing was written"
    )


def _changed(dest: Destination, stored: str | None) -> str:
    now = f"its ETag is {stored}" if stored else "its ETag changed"
    return (
        f"{dest.url} is not the object --if-match {dest.if_match} names "
        f"({now}): nothing was written"
    )


def _is_md5(etag: str) -> bool:
    return re.fullmatch(r"[0-9a-f]{32}", etag.strip('"').lower()) is not None


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


def unanswered(exc: BaseException) -> bool:
    """True when S3 may have acted on a request whose answer never came."""
    if not isinstance(exc, UploadError):
        return False
    return isinstance(exc.__cause__, BotoCoreError) or retried_complete_lost(exc)


def retried_complete_lost(exc: BaseException) -> bool:
    """A retried CompleteMultipartUpload answered NoSuchUpload.

    AWS answers a repeated Complete as it did the first; MinIO, Ceph, moto
    and others answer NoSuchUpload, although the first attempt (whose answer
    was lost, hence the retry) may have committed the object.
    """
    cause = exc.__cause__
    return (
        isinstance(cause, ClientError)
        and cause.operation_name == "CompleteMultipartUpload"
        and cause.response.get("Error", {}).get("Code") == "NoSuchUpload"
        and cause.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) > 0
    )


# A body the server refused because its CRC32 or Content-MD5 did not match
# was changed on the way: resend it from memory (botocore's retries do not
# cover this), a bounded number of times.
DIGEST_RESENDS = 2
_REFUSED_DIGEST = ("BadDigest", "XAmzContentChecksumMismatch")


def _resend_refused(
    method: Callable[..., Any], dest: Destination, **kwargs: Any
) -> Any:
    """`_call`, resending a body the server refused as changed on the way."""
    refused: UploadError | None = None
    for _ in range(DIGEST_RESENDS + 1):
        try:
            return _call(method, dest, **kwargs)
        except UploadError as exc:
            if refused is not None and _code(exc) == "NoSuchUpload":
                # rclone drops the whole upload when it refuses a part
                raise UploadError(
                    f"{refused}; the server then discarded the upload"
                ) from refused
            if _code(exc) not in _REFUSED_DIGEST:
                raise
            refused = exc
    assert refused is not None
    raise refused


def _code(exc: UploadError) -> str:
    cause = exc.__cause__
    if isinstance(cause, ClientError):
        return str(cause.response.get("Error", {}).get("Code", ""))
    return ""


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
    if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
        if dest.no_overwrite:
            return _exists(dest)
        if dest.if_match:
            return _changed(dest, None)
    if code == "NoSuchKey" and dest.if_match:
        return _missing(dest)
    message = error.get("Message") or str(exc)
    return f"S3 refused {op} for {dest.url}: {code}: {message}"
