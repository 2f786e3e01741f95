"""Parallel ranged reads: one HTTP source read on several connections at once.

A far server is bounded per TCP connection (window / round trip), so reading
part-aligned byte ranges on several connections raises the aggregate, as
download accelerators and AWS's own guidance do. The upload engine still sees
one sequential stream: `RangedSource.readinto` hands out the bytes in order,
as soon as they arrive, from a bounded set of chunk buffers.

Every range is bound to the first response's validator with If-Range and
must come back as 206 with exactly the Content-Range asked for and the same
ETag and Last-Modified. A changed source fails the transfer. A server that
answers a Range with 200 while its validator is unchanged (it ignores
ranges), or with another range, makes the reader fall back to the first
response, read sequentially from where the delivered bytes end: slower, never
a wrong object. A range that drops is asked again from its first missing byte.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from devkit.errors import SourceError, UploadError
from devkit.s3stream.source import (
    _DROPPED,
    CONNECT_TIMEOUT,
    SLICE,
    HttpSource,
    ResumePolicy,
    _OriginSession,
    _reason,
)

_WAIT = 0.5  # seconds between checks for an error or a stop while waiting
# A worker's read, and so its wake-ups of the consumer: larger than SLICE
# (what the consumer hands on, for the deadline and progress), so several
# connections do not wake every waiting thread every 256 KiB.
_READ = 1 << 20
# One range connection probes first (the first response cannot: it sat in
# socket buffers while the S3 client was made). A source that gives one
# connection FAST_SOURCE already outruns what the S3 side takes on this kind
# of machine, and more connections would only cost memory and CPU (loopback,
# the same region): the rest is read from the first response. Slower sources
# get all the connections. The probe reads PROBE_BYTES, or stops as soon as
# the time they would take at FAST_SOURCE has passed (a far source is judged
# in 40 ms, as with a 1 MiB probe); 1 MiB alone misjudged loopback as slow
# when a loaded machine paused the reader for 7 ms.
PROBE_BYTES = 4 << 20
FAST_SOURCE = 100e6  # bytes per second on one connection (the family: 10-50)
# Ranges are at least this long: smaller ones cost more in requests than they
# win (and real parts are 5 MiB or more).
DECIDE_AFTER = 1 << 20


def can_range(src: object) -> bool:
    """True for an HTTP source with a length, byte ranges and a validator to bind."""
    return (
        isinstance(src, HttpSource)
        and src.size is not None
        and src._ranges
        and bool(src._validator)
        and not src.content_encoding  # ranges of an encoded body: not worth it
    )


class _Fallback(Exception):
    """The server does not serve ranges faithfully: read sequentially instead."""


@dataclass
class _Chunk:
    start: int
    end: int
    buf: bytearray  # reused from chunk to chunk; may be longer than the range
    got: int = 0  # bytes of buf filled

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass
class _Shared:
    """State the consumer and the workers share, under one condition."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    chunks: dict[int, _Chunk] = field(default_factory=dict)
    next_index: int = 1  # chunk 0 comes from the first response
    free_slots: int = 0
    # Buffers are reused, never freed and reallocated: with several threads,
    # glibc serves a freed 5 MiB block's successor from per-thread arenas and
    # the process grows well past what is live.
    spare: list[bytearray] = field(default_factory=list)
    error: BaseException | None = None
    fallback: str | None = None  # why, once a worker saw a faithless range
    stop: bool = False
    resumes: int = 0
    buffered: int = 0
    peak_buffered: int = 0


class RangedSource:
    """An HttpSource read as `connections` parallel ranges of `chunk` bytes."""

    def __init__(
        self,
        first: HttpSource,
        chunk: int,
        connections: int,
        fast_source: float = FAST_SOURCE,
        deadline: float | None = None,
    ) -> None:
        assert first.size is not None
        self._first = first
        self.size: int | None = first.size
        self.content_type = first.content_type
        self.content_encoding = first.content_encoding
        self.name = first.name
        self.offset = 0
        self.connections = connections
        self._chunk = chunk
        self._count = -(-first.size // chunk)
        self._shared = _Shared(free_slots=connections)
        self._policy: ResumePolicy = first._policy
        self._responses: set[requests.Response] = set()
        self._decided = False
        self._verdict = threading.Event()  # set once the probe has decided
        self._fast_source = fast_source
        self._deadline = deadline  # waits for a range end there, not at a stall
        self._threads = [self._start_worker(0)]

    @property
    def resumes(self) -> int:
        return self._first.resumes + self._shared.resumes

    @resumes.setter
    def resumes(self, value: int) -> None:
        self._shared.resumes = value - self._first.resumes

    @property
    def peak_buffered(self) -> int:
        return self._shared.peak_buffered

    @property
    def fallback(self) -> str | None:
        """Why the reader went sequential, or None."""
        return self._shared.fallback

    # -- the consumer (the upload engine's thread) ---------------------------

    def readinto(self, buffer: memoryview) -> int:
        """The next bytes in order, as soon as any have arrived."""
        assert self.size is not None
        if self.offset >= self.size:
            return self._first_tail(buffer)
        index = self.offset // self._chunk
        sh = self._shared
        if index == 0 or sh.fallback is not None:
            return self._sequential(buffer)
        with sh.cond:
            while True:
                if sh.error is not None:
                    raise sh.error
                if sh.fallback is not None:
                    break
                chunk = sh.chunks.get(index)
                at = self.offset - index * self._chunk
                if chunk is not None and chunk.got > at:
                    n = min(len(buffer), chunk.got - at, SLICE)
                    buffer[:n] = memoryview(chunk.buf)[at : at + n]
                    self.offset += n
                    if at + n == chunk.length:
                        del sh.chunks[index]  # consumed: its slot is free
                        sh.spare.append(chunk.buf)
                        sh.free_slots += 1
                        sh.cond.notify_all()
                    return n
                if self._deadline is not None and time.monotonic() > self._deadline:
                    raise UploadError(
                        f"deadline reached after {self.offset} bytes: "
                        "the upload was aborted, nothing was written"
                    )
                sh.cond.wait(_WAIT)
        return self._sequential(buffer)

    def _sequential(self, buffer: memoryview) -> int:
        """From the first response: chunk 0, or everything after a fallback."""
        assert self.size is not None
        first = self._first
        if self._shared.fallback is None:
            limit = self._chunk - self.offset  # only chunk 0 comes this way
        else:
            self._stop_workers()
            self._skip_first_to(self.offset)
            limit = self.size - self.offset
        n = first.readinto(buffer[: min(len(buffer), limit)])
        self.offset += n
        return n

    def _start_worker(self, i: int) -> threading.Thread:
        t = threading.Thread(target=self._worker, name=f"range-{i}", daemon=True)
        t.start()
        return t

    def one_stream_keeps_up(self, timeout: float) -> bool:
        """Wait up to `timeout` for the probe: True if one connection suffices.

        A probe that has not decided by then (a slow first byte, a failing
        range) counts as a slow source; the reader goes on either way.
        """
        self._verdict.wait(timeout)
        return self.connections == 1 and self._shared.fallback == "fast"

    def _decide(self, got: int, seconds: float) -> None:
        """The probe read `got` bytes in `seconds`: one connection, or several."""
        self._decided = True
        try:
            self._choose(got, seconds)
        finally:
            self._verdict.set()

    def _choose(self, got: int, seconds: float) -> None:
        if got / max(seconds, 1e-6) >= self._fast_source:
            with self._shared.cond:
                self.connections = 1
                if self._shared.fallback is None:
                    self._shared.fallback = "fast"  # one stream keeps up
                self._shared.cond.notify_all()
            return
        self._threads += [self._start_worker(i) for i in range(1, self.connections)]

    def _first_tail(self, buffer: memoryview) -> int:
        """At the announced end: a body longer than announced must still show."""
        if self._shared.fallback is None:
            return 0  # every range had exactly the length asked for
        n = self._first.readinto(buffer[:1])
        self.offset += n
        return n

    def _skip_first_to(self, offset: int) -> None:
        """Read and drop the first response's bytes that ranges already gave."""
        first = self._first
        scratch = memoryview(bytearray(min(SLICE, max(1, offset - first.offset))))
        while first.offset < offset:
            n = first.readinto(scratch[: min(len(scratch), offset - first.offset)])
            if n == 0:
                raise SourceError(
                    f"source ended after {first.offset} of {self.size} bytes"
                )

    def close(self) -> None:
        self._stop_workers()
        self._first.close()

    def _stop_workers(self) -> None:
        sh = self._shared
        with sh.cond:
            if sh.stop:
                return
            sh.stop = True
            sh.chunks.clear()
            sh.spare.clear()
            responses = list(self._responses)
            sh.cond.notify_all()
        for r in responses:  # unblocks a worker waiting on a slow server
            r.close()
        for t in self._threads:
            t.join(timeout=CONNECT_TIMEOUT)

    # -- the workers -----------------------------------------------------------

    def _worker(self) -> None:
        first = self._first
        private = {k: v for k, v in first._headers.items() if k != "Accept-Encoding"}
        session = _OriginSession(first.url, private)
        try:
            while True:
                chunk = self._next_chunk()
                if chunk is None:
                    return
                self._fetch(session, chunk)
        except _Fallback as why:
            with self._shared.cond:
                if self._shared.fallback is None:
                    self._shared.fallback = str(why)
                self.connections = 1  # what --json reports: one stream
                self._shared.cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            with self._shared.cond:
                if self._shared.error is None and not self._shared.stop:
                    self._shared.error = exc
                self._shared.cond.notify_all()
        finally:
            self._verdict.set()  # a probe that failed decides nothing
            session.close()

    def _next_chunk(self) -> _Chunk | None:
        """Wait for a free slot, then take the next range in order."""
        assert self.size is not None
        sh = self._shared
        with sh.cond:
            while not sh.stop and sh.fallback is None and sh.free_slots == 0:
                sh.cond.wait(_WAIT)
            if sh.stop or sh.fallback is not None or sh.next_index >= self._count:
                return None
            index = sh.next_index
            sh.next_index += 1
            sh.free_slots -= 1
            start = index * self._chunk
            end = min(start + self._chunk, self.size)
            if sh.spare:
                buf = sh.spare.pop()
            else:
                buf = bytearray(end - start)  # only the very last range is short
                sh.buffered += len(buf)
                sh.peak_buffered = max(sh.peak_buffered, sh.buffered)
            chunk = _Chunk(start, end, buf)
            sh.chunks[index] = chunk
            return chunk

    def _fetch(self, session: requests.Session, chunk: _Chunk) -> None:
        """Fill `chunk`, asking again from the first missing byte after a drop."""
        policy = self._policy
        consecutive = 0
        while chunk.got < chunk.length:
            if self._shared.stop or self._shared.fallback is not None:
                return
            try:
                progressed = self._read_range(session, chunk)
            except _DROPPED as exc:
                progressed, why = False, _reason(exc)
            else:
                why = "connection closed"
            if self._shared.stop or self._shared.fallback is not None:
                return  # stopped, or the rest comes from the first response
            if chunk.got >= chunk.length:
                break
            consecutive = 0 if progressed else consecutive + 1
            with self._shared.cond:
                self._shared.resumes += 1
                total = self._shared.resumes
            if consecutive > policy.max_consecutive or total > policy.max_total:
                raise SourceError(
                    f"source kept failing ({why}) at byte {chunk.start + chunk.got} "
                    f"of {self.size}; gave up after {total} resumes"
                )
            policy.sleep(
                min(policy.backoff * 2 ** max(consecutive - 1, 0), policy.max_backoff)
            )

    def _read_range(self, session: requests.Session, chunk: _Chunk) -> bool:
        """One request for the rest of `chunk`; True if it gave any bytes."""
        first = self._first
        at = chunk.start + chunk.got
        headers = dict(first._headers)
        headers["Range"] = f"bytes={at}-{chunk.end - 1}"
        headers["If-Range"] = first._validator or ""
        response = session.get(
            first.url,
            headers=headers,
            stream=True,
            timeout=(CONNECT_TIMEOUT, self._policy.read_timeout),
        )
        answered = time.monotonic()
        with self._shared.cond:
            if self._shared.stop:
                response.close()
                return False
            self._responses.add(response)
        try:
            self._check(response, at, chunk.end)
            return self._read_body(response, chunk, answered)
        finally:
            with self._shared.cond:
                self._responses.discard(response)
            response.close()

    def _check(self, response: requests.Response, at: int, end: int) -> None:
        where = f"at byte {at} of {self.size}"
        changed = self._first._changed(response)
        if changed:
            raise SourceError(f"source changed during the transfer {where}: {changed}")
        if response.status_code == 200:
            raise _Fallback("the source answered a range request with the whole body")
        if response.status_code != 206:
            raise SourceError(
                f"{response.status_code} {response.reason} for a range of "
                f"{self._first._shown} {where}"
            )
        expected = f"bytes {at}-{end - 1}/{self.size}"
        got = re.sub(r"\s+", " ", response.headers.get("Content-Range", "")).strip()
        if got != expected:
            raise _Fallback(
                f"the source answered range {at}-{end - 1} with "
                f"{got or 'no Content-Range'}"
            )

    def _read_body(
        self, response: requests.Response, chunk: _Chunk, answered: float
    ) -> bool:
        view = memoryview(chunk.buf)
        # Straight into the chunk buffer through http.client (which raises
        # IncompleteRead on a short body): urllib3's read1 would allocate a
        # bytes object per slice on each thread, and glibc's per-thread
        # arenas turn that churn into megabytes of RSS per connection.
        fp = response.raw._fp
        if fp is None:  # already closed (a stop): nothing more to read
            return False
        readinto: Callable[[memoryview], int] = fp.readinto
        progressed = False
        sh = self._shared
        began_at = chunk.got
        while chunk.got < chunk.length:
            if sh.fallback is not None:
                return progressed
            n = readinto(view[chunk.got : min(chunk.length, chunk.got + _READ)])
            if not n or sh.stop:
                return progressed
            progressed = True
            with sh.cond:
                chunk.got += n
                sh.cond.notify_all()
            got = chunk.got - began_at
            if not self._decided:
                took = time.monotonic() - answered
                probed = got >= min(PROBE_BYTES, chunk.length)
                if probed or took >= PROBE_BYTES / self._fast_source:
                    self._decide(got, took)
        return progressed
