"""`stream_to_s3`: the engine as one library call (CLI and Lambda handlers alike)."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from devkit.aws import AwsOptions, require_credentials
from devkit.errors import ConfigError, SourceError, UploadError
from devkit.s3stream.budget import (
    MAX_S3_CONNECTIONS,
    NEAR_MIN_PARTS,
    NEAR_PART,
    Tuning,
    choose,
    default_budget,
    near_s3,
    resident_bytes,
)
from devkit.s3stream.commit import commit
from devkit.s3stream.parts import PartPlan, S3Limits, plan_parts
from devkit.s3stream.ranged import DECIDE_AFTER, RangedSource, can_range
from devkit.s3stream.source import HttpSource, ResumePolicy, Source, open_source
from devkit.s3stream.upload import (
    Destination,
    MultipartUpload,
    UploadResult,
    _BufferPool,
    buffer_size,
    check_condition,
    fill,
    put_single,
    single_expected,
    trim,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_CONCURRENCY = None  # chosen within the memory budget (budget.choose)
REAL_LIMITS = S3Limits()
# How long the upload waits for the ranged reader's probe before sizing the S3
# side (a far source decides in well under a second: 1 MiB at 25 MB/s).
PROBE_WAIT = 2.0


def parse_s3_url(url: str, what: str = "destination") -> tuple[str, str]:
    """Split s3://BUCKET/KEY; a ConfigError names `what` and the expected form."""
    if not url.startswith("s3://"):
        raise ConfigError(f"{what} {url!r} is not an S3 URL: use s3://BUCKET/KEY")
    bucket, _, key = url[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ConfigError(f"{what} {url!r} needs a bucket and a key: s3://BUCKET/KEY")
    return bucket, key


def destination_prefix(dest: str | None) -> str | None:
    """s3://BUCKET/PREFIX/ with its trailing slash, for a manifest's relative keys."""
    if dest is None:
        return None
    if not dest.startswith("s3://") or not dest[len("s3://") :].strip("/"):
        raise ConfigError(f"{dest!r} is not a destination: use s3://BUCKET/PREFIX/")
    return dest if dest.endswith("/") else dest + "/"


def make_s3_client(
    aws: AwsOptions, concurrency: int | None, deadline: float | None = None
) -> S3Client:
    """An S3 client tuned for streaming: retries, a pool per part, no payload hash.

    With a deadline, no single request may outlast the time left (botocore's
    default would wait 60 s for an answer).
    """
    session = aws.session("s3")
    require_credentials(session)
    timeouts: dict[str, float] = {}
    if deadline is not None:
        left = min(60.0, max(1.0, deadline - time.monotonic()))
        timeouts = {"connect_timeout": left, "read_timeout": left}
    return aws.s3(
        session,
        **timeouts,
        # Standard retries resend a failed part from the buffer still held.
        retries={"mode": "standard", "max_attempts": 8},
        max_pool_connections=max(concurrency or 0, MAX_S3_CONNECTIONS) + 2,
        tcp_keepalive=True,
        # Every part carries a CRC32 that S3 verifies, so SigV4 need not also
        # SHA-256 the body (botocore already skips it over HTTPS with a checksum;
        # this makes plain-HTTP endpoints behave the same).
        s3={"payload_signing_enabled": False},
        request_checksum_calculation="when_required",
    )


def stream_to_s3(
    source: str | Source,
    bucket: str,
    key: str,
    *,
    client: S3Client | None = None,
    aws: AwsOptions | None = None,
    part_size: int | None = None,
    concurrency: int | None = DEFAULT_CONCURRENCY,
    max_memory: int | None = None,
    resident: int | None = None,
    expected_size: int | None = None,
    size_hint: int | None = None,
    content_type: str | None = None,
    content_encoding: str | None = None,
    metadata: Mapping[str, str] | None = None,
    storage_class: str | None = None,
    sse: str | None = None,
    sse_kms_key_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    resume: ResumePolicy | None = None,
    limits: S3Limits = REAL_LIMITS,
    on_bytes: Callable[[int], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
    deadline: float | None = None,
    read_back: bool = False,
    no_overwrite: bool = False,
    if_match: str | None = None,
) -> UploadResult:
    """Stream SOURCE (URL, '-', path or an open Source) into s3://bucket/key.

    The whole process stays within `max_memory` bytes (default: 128 MiB, in
    Lambda a share of the function's memory): part size and the connections
    on each side are chosen to fit, `part_size` and `concurrency` override.
    A source with a length, byte ranges and a validator is read on several
    connections at once (devkit.s3stream.ranged). On any failure the
    multipart upload is aborted and nothing appears under the key. `on_bytes`
    gets each count of bytes read; `on_phase` hears "completing" and
    "verifying" once the body is read. `deadline` (a `time.monotonic()`
    value) stops the stream there and aborts the upload cleanly: in a Lambda
    handler, a timeout that kills the function would leave the upload behind.
    `read_back` GETs the stored object and CRCs it, for servers that keep no
    checksum devkit can compare. `no_overwrite` / `if_match` (an ETag) make the
    commit conditional: S3 refuses it if the key exists / holds another object.
    `resident` is what the process held before any stream's buffers (default:
    measured now); a batch sharing one budget among several streams passes
    the figure it measured at the start, so each stream sees only its share.
    """
    if no_overwrite and if_match:
        raise ConfigError("--no-overwrite and --if-match exclude each other")
    if concurrency is not None and concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    check_size_options(expected_size, size_hint)
    budget = default_budget() if max_memory is None else max_memory
    explicit_budget = max_memory is not None
    started = time.monotonic()
    if deadline is not None and started >= deadline:
        raise UploadError("the deadline has already passed: nothing was written")
    src = open_source(source, headers, resume) if isinstance(source, str) else source
    try:
        key = object_key(key, src)
        s3 = client or make_s3_client(aws or AwsOptions(), concurrency, deadline)
        dest = Destination(
            bucket=bucket,
            key=key,
            content_type=_content_type(content_type, src, key),
            content_encoding=content_encoding or src.content_encoding,
            metadata=dict(metadata or {}),
            storage_class=storage_class,
            sse=sse,
            sse_kms_key_id=sse_kms_key_id,
            no_overwrite=no_overwrite,
            if_match=if_match,
        )
        return _stream(
            s3,
            src,
            dest,
            part_size,
            concurrency,
            (budget, explicit_budget, resident),
            expected_size,
            size_hint,
            limits,
            _until(deadline, on_bytes or _ignore),
            on_phase or _ignore,
            started,
            deadline,
            read_back,
        )
    finally:
        src.close()


def _stream(
    s3: S3Client,
    src: Source,
    dest: Destination,
    part_size: int | None,
    concurrency: int | None,
    budgeted: tuple[int, bool, int | None],
    expected_size: int | None,
    size_hint: int | None,
    limits: S3Limits,
    on_bytes: Callable[[int], None],
    on_phase: Callable[[str], None],
    started: float,
    deadline: float | None,
    read_back: bool,
) -> UploadResult:
    announced = src.size if src.size is not None else expected_size
    if src.size is not None and expected_size is not None and src.size != expected_size:
        raise SourceError(
            f"{src.name} announces {src.size} bytes "
            f"but --expected-size is {expected_size}"
        )
    plan = plan_parts(announced, part_size, limits, hint=size_hint)
    check_condition(s3, dest)
    # Ranges of at least a MiB: the probe needs that much to measure, and
    # smaller ones cost more in requests than they win (real parts are 5 MiB+).
    ranged = (
        can_range(src)
        and announced is not None
        and announced > plan.first >= DECIDE_AFTER
    )
    budget, explicit_budget, resident = budgeted
    choice: dict[str, Any] = {
        "budget": budget,
        "part_size": buffer_size(plan.first, announced),  # a small object: less
        "resident": resident_bytes() if resident is None else resident,
        "concurrency": concurrency,
        "explicit": explicit_budget,
    }
    tuning = choose(**choice, ranged=ranged)

    def upload(source: Source) -> UploadResult:
        return _upload(
            s3,
            source,
            dest,
            plan,
            tuning,
            # What to size parts by once S3 has answered (budget.near_s3);
            # None: the user chose parts or connections.
            choice["resident"] if part_size is None and concurrency is None else None,
            announced,
            on_bytes,
            on_phase,
            started,
            deadline,
            read_back,
        )

    if tuning.source_connections > 1 and isinstance(src, HttpSource):
        wide = RangedSource(
            src, tuning.source_range, tuning.source_connections, deadline=deadline
        )
        try:
            if wide.one_stream_keeps_up(timeout=PROBE_WAIT):
                # A fast source: the source's share of the budget goes to S3.
                tuning = choose(**choice, ranged=False)
            return upload(wide)
        finally:
            wide.close()
    return upload(src)


def _upload(
    s3: S3Client,
    src: Source,
    dest: Destination,
    plan: PartPlan,
    tuning: Tuning,
    resident: int | None,
    announced: int | None,
    on_bytes: Callable[[int], None],
    on_phase: Callable[[str], None],
    started: float,
    deadline: float | None,
    read_back: bool,
) -> UploadResult:
    upload: MultipartUpload | None = None
    try:
        if (
            resident is not None
            and announced is not None
            and announced >= NEAR_MIN_PARTS * NEAR_PART  # smaller: too few requests
        ):
            # Certainly multipart: create the upload first, to size its parts
            # by how S3 answers before the first part is filled.
            upload = MultipartUpload(
                s3, dest, plan, tuning.s3_connections, on_bytes, announced, deadline
            )
            plan, tuning = _create_sized(upload, plan, tuning, resident, announced)
        pool = _BufferPool(tuning.s3_connections + 1)
        # +1: a body longer than announced must overflow the buffer to be caught.
        first = pool.acquire(buffer_size(plan.size(1), announced))
        length = fill(src, first, on_bytes)
        if length < len(first):
            _check_length(src, length, announced)
    except BaseException as exc:
        if upload is not None:  # created above: nothing may be left behind
            upload.abort_after(exc)
        raise
    if length < len(first):
        trim(first, length)
        body = first
        expected = single_expected(body)
        parts, total = 1, length

        def send() -> dict[str, Any]:
            return put_single(s3, dest, body, expected)

    else:
        upload = upload or MultipartUpload(
            s3, dest, plan, tuning.s3_connections, on_bytes, announced, deadline
        )
        done, total = upload.run(src, first, pool)
        try:
            _check_length(src, total, announced)
        except BaseException as exc:
            upload.abort_after(exc)
            raise
        on_phase("completing")
        try:
            expected = upload.expected(done, total)
        except BaseException as exc:
            upload.abort_after(exc)
            raise
        parts = len(done)
        mpu = upload

        def send() -> dict[str, Any]:
            return mpu.complete(done, total)

    response, verification = commit(
        s3, dest, expected, send, upload, on_phase, deadline, read_back
    )
    version_id = response.get("VersionId")
    return UploadResult(
        bucket=dest.bucket,
        key=dest.key,
        bytes=total,
        parts=parts,
        part_size=plan.first,
        etag=str(response.get("ETag", "")).strip('"'),
        checksum=expected.crc32_text,
        seconds=time.monotonic() - started,
        resumes=src.resumes,
        version_id=version_id,
        content_type=dest.content_type,
        verified=verification.method,
        proof=verification.detail,
        s3_connections=tuning.s3_connections,
        source_connections=getattr(src, "connections", 1),
        peak_buffered=pool.peak + getattr(src, "peak_buffered", 0),
        max_memory=tuning.budget,
    )


def _create_sized(
    upload: MultipartUpload, plan: PartPlan, tuning: Tuning, resident: int, size: int
) -> tuple[PartPlan, Tuning]:
    """Create `upload`, then the parts and connections for how S3 answered."""
    upload.create()
    if upload.answered_in is None:  # retried: no measure
        return plan, tuning
    endpoint = upload.client.meta.endpoint_url
    near = near_s3(tuning, resident, upload.answered_in, endpoint)
    if near is None:
        return plan, tuning
    plan = plan_parts(size, near.part_size, plan.limits)
    upload.plan, upload.concurrency = plan, near.s3_connections
    return plan, near


def check_size_options(expected_size: int | None, size_hint: int | None) -> None:
    """An exact size and an estimate cannot both be given."""
    if expected_size is not None and size_hint is not None:
        raise ConfigError(
            "give --expected-size (exact, checked) or --size-hint (an estimate), "
            "not both"
        )


def object_key(key: str, src: Source) -> str:
    """KEY, or KEY plus the source's file name when KEY ends in `/`."""
    return key + src.name if key.endswith("/") else key


def _check_length(src: Source, got: int, announced: int | None) -> None:
    if announced is None or got == announced:
        return
    if got < announced:
        raise SourceError(f"{src.name} ended after {got} of {announced} bytes")
    raise SourceError(
        f"{src.name} gave {got} bytes, more than the {announced} announced"
    )


def _content_type(explicit: str | None, src: Source, key: str) -> str:
    if explicit:
        return explicit
    if src.content_type:
        return src.content_type
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "application/octet-stream"


def _until(
    deadline: float | None, on_bytes: Callable[[int], None]
) -> Callable[[int], None]:
    """`on_bytes`, raising once the deadline passes (checked as bytes arrive)."""
    if deadline is None:
        return on_bytes
    seen = 0

    def check(n: int) -> None:
        nonlocal seen
        seen += n
        on_bytes(n)
        if time.monotonic() > deadline:
            raise UploadError(
                f"deadline reached after {seen} bytes: "
                "the upload was aborted, nothing was written"
            )

    return check


def _ignore(_: object) -> None:
    pass
