"""A real HTTP download server on 127.0.0.1 with fault knobs.

Used by the tests, `scripts/try` and `bench/`. The body is a deterministic
function of the byte position (each 1 MiB block is a different rotation of
one random pattern), so a swapped, repeated or shifted part changes the
digest, and any range can be served without holding the body.
"""

from __future__ import annotations

import hashlib
import random
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from testing.loopback import LoopbackServer

BLOCK = 1 << 20
_PACE_STEP = 64 << 10
_PATTERN = random.Random(20261126).randbytes(BLOCK)
_DOUBLE = memoryview(_PATTERN + _PATTERN)


def _block_rotation(index: int) -> int:
    return (index * 7919 + 13) % BLOCK


def body_chunks(start: int, end: int, seed: int = 0) -> Iterator[memoryview]:
    """Yield the body bytes in [start, end) as zero-copy slices."""
    pos = start
    while pos < end:
        index, offset = divmod(pos, BLOCK)
        rot = _block_rotation(index + seed * 1_000_003)
        n = min(BLOCK - offset, end - pos)
        yield _DOUBLE[rot + offset : rot + offset + n]
        pos += n


def body_bytes(start: int, end: int, seed: int = 0) -> bytes:
    """The body bytes in [start, end) as one bytes object (small ranges only)."""
    return b"".join(body_chunks(start, end, seed))


def body_sha256(size: int, seed: int = 0) -> str:
    """The hex SHA-256 of a body of `size` bytes."""
    h = hashlib.sha256()
    for chunk in body_chunks(0, size, seed):
        h.update(chunk)
    return h.hexdigest()


@dataclass
class Resource:
    """One downloadable path and its fault knobs."""

    size: int
    content_type: str | None = "application/octet-stream"
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length
    ranges: bool = True  # honour Range/If-Range, advertise Accept-Ranges
    etag: str | None = '"v1"'
    last_modified: str | None = "Wed, 25 Nov 2026 10:00:00 GMT"
    drop_after: int | None = None  # close the connection after N body bytes ...
    drops: int = 1  # ... this many times (then serve normally)
    truncate_at: int | None = None  # always end the body early at this offset
    stall_after: int | None = None  # stop sending (keep the socket open) at N
    stall_seconds: float = 30.0
    status: int = 200  # e.g. 403, 404
    # Shaping, as a far server: each response (one connection) is paced to
    # `rate` bytes per second and sends its first byte after `first_byte_delay`
    # seconds, so parallel ranges are what raises the aggregate.
    rate: float | None = None  # bytes per second per response
    first_byte_delay: float = 0.0  # seconds before the status line
    seed: int = 0  # a different body (the source "changed")
    change_after_drop: bool = False  # after the first drop, serve a new version
    changed_etag: str | None = '"v2"'  # the new version's ETag (None: none)
    ignore_range: bool = False  # advertise Accept-Ranges, then answer 200 anyway
    ignore_if_range: bool = False  # answer a Range with 206 whatever If-Range says
    shift_range: int = 0  # answer a Range with bytes this far off (and say so)
    change_after_requests: int | None = None  # a new version from request N+1 on
    redirect_to: str | None = None  # answer 302 with this Location instead
    content_encoding: str | None = None  # sent as is; the body is not encoded
    content_disposition: str | None = None
    requests: list[dict[str, str]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: tests read their own assertions, not access logs

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        res = self.server.resources.get(self.path.split("?")[0])
        if res is None:
            self._plain(404, b"not found\n")
            return
        res.requests.append(dict(self.headers.items()))
        if res.change_after_requests is not None and (
            len(res.requests) > res.change_after_requests
        ):
            res.change_after_requests = None
            res.seed += 1
            res.etag = res.changed_etag
            res.last_modified = "Thu, 26 Nov 2026 10:00:00 GMT"
        if res.first_byte_delay:
            time.sleep(res.first_byte_delay)
        if res.redirect_to:
            self.send_response(302)
            self.send_header("Location", res.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if res.status != 200:
            self._plain(res.status, f"status {res.status}\n".encode())
            return
        start, stop, status = self._range(res)
        if start is None:
            return
        if status == 206 and res.shift_range:  # another range than asked, said so
            start = min(start + res.shift_range, res.size - 1)
            stop = min(stop + res.shift_range, res.size)
        end = stop if res.truncate_at is None else min(stop, res.truncate_at)
        self.send_response(status)
        if res.content_type:
            self.send_header("Content-Type", res.content_type)
        if res.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if res.etag:
            self.send_header("ETag", res.etag)
        if res.last_modified:
            self.send_header("Last-Modified", res.last_modified)
        if res.content_encoding:
            self.send_header("Content-Encoding", res.content_encoding)
        if res.content_disposition:
            self.send_header("Content-Disposition", res.content_disposition)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{res.size}")
        if res.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(stop - start))
        self.end_headers()
        if not head:
            self._body(res, start, end, stop - start)

    def _range(self, res: Resource) -> tuple[int | None, int, int]:
        """(first byte, end, status) of what to send; None after a 416."""
        header = self.headers.get("Range")
        if not header or not res.ranges or res.ignore_range:
            return 0, res.size, 200
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", header.strip())
        if not m or int(m.group(1)) >= res.size:
            self._plain(416, b"bad range\n")
            return None, 0, 416
        start = int(m.group(1))
        stop = min(int(m.group(2)) + 1, res.size) if m.group(2) else res.size
        if stop <= start:
            self._plain(416, b"bad range\n")
            return None, 0, 416
        if_range = self.headers.get("If-Range")
        if if_range and if_range not in (res.etag, res.last_modified):
            if res.ignore_if_range:  # a broken server: the new version's bytes
                return start, stop, 206
            # validator changed: the whole new body, as RFC 9110 says
            return 0, res.size, 200
        return start, stop, 206

    def _body(self, res: Resource, start: int, end: int, length: int) -> None:
        drop_at = None
        if res.drop_after is not None and res.drops > 0 and start < res.drop_after:
            drop_at = res.drop_after
        stall_at = (
            res.stall_after if res.stall_after and start < res.stall_after else None
        )
        pos = start
        began = time.monotonic()
        step = _PACE_STEP if res.rate else BLOCK  # paced: small, even writes
        pieces = (
            whole[i : i + step]
            for whole in body_chunks(start, end, res.seed)
            for i in range(0, len(whole), step)
        )
        try:
            for chunk in pieces:
                n = len(chunk)
                for limit in (drop_at, stall_at):
                    if limit is not None and pos < limit < pos + n:
                        n = min(n, limit - pos)
                chunk = chunk[:n]
                self._write(res, chunk)
                pos += n
                if drop_at is not None and pos >= drop_at:
                    res.drops -= 1
                    if res.change_after_drop:
                        res.seed += 1
                        res.etag = res.changed_etag
                        res.last_modified = "Thu, 26 Nov 2026 10:00:00 GMT"
                    self._abort()
                    return
                if stall_at is not None and pos >= stall_at:
                    res.stall_after = None  # stall once
                    time.sleep(res.stall_seconds)
                    self._abort()
                    return
                if res.rate:
                    ahead = pos - start - res.rate * (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead / res.rate)
            if res.chunked and pos - start >= length:
                self.wfile.write(b"0\r\n\r\n")
            if pos - start < length:
                self._abort()  # truncated: the client must notice
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _write(self, res: Resource, chunk: memoryview) -> None:
        if res.chunked:
            self.wfile.write(b"%x\r\n" % len(chunk))
            self.wfile.write(chunk)
            self.wfile.write(b"\r\n")
        else:
            self.wfile.write(chunk)

    def _abort(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _plain(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    resources: dict[str, Resource]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up early is a test scenario, not noise


class HttpSource(LoopbackServer):
    """A running source server; `add()` a path, then fetch `url(path)`."""

    _server: _Server

    def __init__(self) -> None:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.resources = {}
        super().__init__(server)

    def add(self, path: str, size: int, **knobs: object) -> Resource:
        """Serve a body of `size` bytes at `path` with the given fault knobs."""
        res = Resource(size=size, **knobs)  # type: ignore[arg-type]
        self._server.resources[path] = res
        return res

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"
