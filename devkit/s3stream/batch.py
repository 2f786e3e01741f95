"""Many URLs into S3 from one process: bounded parallelism, one memory budget.

`run_batch` streams each manifest item with `stream_to_s3`, `jobs` at a time,
and hands one result record per item to `record` as each finishes (the CLI
appends it to the results file, flushed per line, so a killed run still says
what finished). The memory budget is the process's, as for one stream: what
the process holds when the batch starts is measured once, and what is left is
shared between the jobs, each stream sizing its parts within its share.

On a stop (Ctrl-C, SIGTERM) no new item starts, the streams in flight are
aborted at their next bytes (nothing is written under their keys) and get no
record, so `--resume` runs them again; an item already committing finishes and
is recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devkit.errors import ConfigError, DevkitError, ExitCode, Interrupted
from devkit.s3stream.budget import (
    MARGIN,
    PER_CONNECTION,
    choose,
    default_budget,
    resident_bytes,
)
from devkit.s3stream.manifest import BadLine, Item
from devkit.s3stream.parts import S3Limits

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DONE = "done"
FAILED = "failed"
DEFAULT_JOBS = 4
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)


@dataclass
class Progress:
    """Counts so far; `on_progress` receives this object after each change."""

    done: int = 0
    failed: int = 0
    skipped: int = 0  # done in an earlier run (--resume) and still in S3
    running: int = 0
    aborted: int = 0  # stopped part-way by Ctrl-C/SIGTERM: nothing written
    bytes: int = 0  # read from sources so far (failed and aborted items too)
    stored: int = 0  # the size of every object stored
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ok(self) -> bool:
        return self.failed == 0


@dataclass(frozen=True)
class Share:
    """What the memory budget gives each job."""

    jobs: int
    max_memory: int | None  # per stream; None: the engine's default rule
    resident: int | None


class _Stopped(Interrupted):
    """Raised from a stream's byte callback once the batch is told to stop."""


def share_budget(max_memory: int | None, jobs: int, part_size: int | None) -> Share:
    """Split the process's budget between `jobs` streams (fewer if it cannot hold them).

    Each job needs at least two part buffers; with less room, fewer jobs run.
    An explicit `--max-memory` too small for even one job is the engine's own
    error; the default budget in a process already past it falls back to the
    engine's rule (one job, as a single stream would).
    """
    explicit = max_memory is not None
    budget = default_budget() if max_memory is None else max_memory
    resident = resident_bytes()
    per_buffer = (part_size or S3Limits().default_part) + PER_CONNECTION
    free = budget - resident - MARGIN
    fit = free // (2 * per_buffer)
    if fit < 1:
        if explicit:  # raises the engine's message: how much would be needed
            choose(budget, per_buffer - PER_CONNECTION, resident=resident, ranged=False)
        return Share(1, None, None)
    jobs = max(1, min(jobs, fit))
    return Share(jobs, resident + MARGIN + free // jobs, resident)


def warm_up(client: S3Client, dest: str | None) -> None:
    """One request before the budget is measured: botocore loads its S3 model
    and endpoint rules on the first request, which a single stream
    measures before it sizes itself and a batch must count once for all."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not dest:
        return
    bucket, _, key = dest[len("s3://") :].partition("/")
    try:
        client.head_object(Bucket=bucket, Key=key or "-")
    except (ClientError, BotoCoreError):
        pass  # a 404 or a refusal has loaded the same machinery


def load_done(path: Path) -> dict[str, dict[str, Any]]:
    """The last record of each dest in an earlier results file (missing: none)."""
    import json

    records: dict[str, dict[str, Any]] = {}
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        return records
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        for text in handle:
            try:
                record = json.loads(text)
            except ValueError:
                continue  # a line cut short when an earlier run was killed
            if isinstance(record, dict) and isinstance(record.get("dest"), str):
                records[record["dest"]] = record
    return records


def still_there(client: S3Client, record: Mapping[str, Any]) -> bool:
    """The object a done record names is in S3 with the same size, ETag, CRC32."""
    from botocore.exceptions import BotoCoreError, ClientError

    if record.get("status") != DONE:
        return False
    try:
        head = client.head_object(
            Bucket=record["bucket"], Key=record["key"], ChecksumMode="ENABLED"
        )
    except (ClientError, BotoCoreError, KeyError):
        return False  # gone, or not readable: streaming it again is safe
    if head.get("ContentLength") != record.get("bytes"):
        return False
    if head.get("ETag", "").strip('"') != record.get("etag"):
        return False
    stored = head.get("ChecksumCRC32")
    checksum = str(record.get("checksum") or "")
    full = head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
    if stored and full and checksum.startswith("crc32:") and "-" not in stored:
        return checksum == f"crc32:{stored}"
    return True


def run_batch(
    items: Iterable[Item | BadLine],
    record: Callable[[dict[str, Any]], None],
    *,
    client: S3Client,
    share: Share,
    stream_options: Mapping[str, Any] | None = None,
    done_before: Mapping[str, Mapping[str, Any]] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """Stream every item, `share.jobs` at a time; return the final counts.

    `stream_options` are `stream_to_s3` keywords for every item (an item's
    own headers, content type and metadata add to or override them).
    `done_before` holds an earlier run's records by dest: those still in S3
    are skipped. On KeyboardInterrupt the streams in flight are aborted and
    `Interrupted` says how far the batch got.
    """
    _buffers_back_to_the_os()
    runner = _Runner(
        client, share, dict(stream_options or {}), done_before or {}, record
    )
    runner.on_progress = on_progress or (lambda p: None)
    return runner.run(iter(items))


def _buffers_back_to_the_os() -> None:
    """Have glibc mmap every part buffer, so freeing it returns it to the OS.

    After the first large block is freed glibc raises its mmap threshold, and
    later 5 MiB buffers come from the heaps of the threads that used them and
    stay there: item after item, the process grows past the budget (measured:
    eight 48 MiB items at one job under the default 128 MiB peaked at 158 MiB;
    with a fixed threshold, 109). Elsewhere than glibc this does nothing.
    """
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):
        pass


class _Runner:
    def __init__(
        self,
        client: S3Client,
        share: Share,
        options: dict[str, Any],
        done_before: Mapping[str, Mapping[str, Any]],
        record: Callable[[dict[str, Any]], None],
    ) -> None:
        self.client = client
        self.share = share
        self.options = options
        self.done_before = done_before
        self._record = record
        self.progress = Progress()
        self.stop = threading.Event()
        self.on_progress: Callable[[Progress], None] = lambda p: None

    def run(self, items: Iterator[Item | BadLine]) -> Progress:
        pool = ThreadPoolExecutor(self.share.jobs, thread_name_prefix="s3-batch")
        running: set[Future[None]] = set()
        try:
            for item in items:
                while len(running) >= self.share.jobs:
                    running = self._wait(running)
                running.add(pool.submit(self._one, item))
            while running:
                running = self._wait(running)
        except KeyboardInterrupt as exc:
            self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            p = self.progress
            raise Interrupted(
                f"interrupted ({exc or 'SIGINT'}): {p.done} done, {p.failed} failed, "
                f"{p.aborted} aborted (nothing written for them); "
                "rerun with --resume to do the rest"
            ) from None
        finally:
            pool.shutdown(wait=True)
        return self.progress

    @staticmethod
    def _wait(running: set[Future[None]]) -> set[Future[None]]:
        # A timeout keeps the main thread where a signal can reach it.
        finished, pending = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
        for future in finished:
            future.result()  # a bug in the runner itself surfaces here
        return pending

    def _one(self, item: Item | BadLine) -> None:
        if self.stop.is_set():
            return
        if isinstance(item, BadLine):
            self._failed(item.line, item.url, item.dest, item.error)
            return
        before = self.done_before.get(item.dest)
        if before is not None and still_there(self.client, before):
            self._count(skipped=1)
            return
        self._count(running=1)
        try:
            result = self._stream(item)
        except BaseException as exc:
            if self.stop.is_set():
                self._count(running=-1, aborted=1)
                return  # aborted by the stop: no record, --resume runs it again
            self._count(running=-1)
            if isinstance(exc, DevkitError):
                self._failed(item.line, item.shown_url, item.dest, exc)
            elif isinstance(exc, Exception):
                # Not one of devkit's errors (a bug): the item fails, the batch goes
                # on. Only the type is kept: a library's text may hold a URL's query.
                error = DevkitError(f"internal error: {type(exc).__name__}")
                error.exit_code = ExitCode.INTERNAL
                self._failed(item.line, item.shown_url, item.dest, error)
            else:
                raise
            return
        self._count(running=-1)
        self._emit(
            {"line": item.line, "url": item.shown_url, "dest": item.dest}
            | {"status": DONE}
            | result
        )
        self._count(done=1, stored=int(result["bytes"]))

    def _stream(self, item: Item) -> dict[str, Any]:
        from devkit.s3stream.api import object_key, stream_to_s3
        from devkit.s3stream.source import open_source

        bucket, _, key = item.dest[len("s3://") :].partition("/")
        options = dict(self.options)
        headers = {**options.pop("headers", {}), **item.headers}
        metadata = {**options.pop("metadata", {}), **item.metadata}
        if item.content_type:
            options["content_type"] = item.content_type
        src = open_source(item.url, headers, options.pop("resume", None))
        key = object_key(key, src) if key else src.name

        def on_bytes(n: int) -> None:
            if self.stop.is_set():
                raise _Stopped("stopped")
            self._count(bytes=n)

        result = stream_to_s3(
            src,
            bucket,
            key,
            client=self.client,
            max_memory=self.share.max_memory,
            resident=self.share.resident,
            metadata=metadata,
            on_bytes=on_bytes,
            **options,
        )
        return result.as_dict()

    def _failed(
        self, line: int, url: str | None, dest: str | None, error: DevkitError
    ) -> None:
        self._emit(
            {
                "line": line,
                "url": url,
                "dest": dest,
                "status": FAILED,
                "error": str(error).strip().splitlines()[0] if str(error) else "",
                "error_type": type(error).__name__,
                "exit_code": int(error.exit_code),
            }
        )
        self._count(failed=1)

    def _emit(self, document: dict[str, Any]) -> None:
        with self.progress._lock:
            self._record(document)

    def _count(self, **changes: int) -> None:
        p = self.progress
        with p._lock:
            for name, n in changes.items():
                setattr(p, name, getattr(p, name) + n)
            self.on_progress(p)
