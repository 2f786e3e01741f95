"""A discard-only S3-compatible endpoint on 127.0.0.1, for measuring clients.

It answers just enough of the S3 API for boto3/s3transfer, the AWS CLI,
smart_open, s5cmd and devkit to stream an object in, reads every request body
into one reusable buffer and drops it. It remembers each object's size and the
checksum the client sent, so a HeadObject after the upload answers like S3 and
a client's end-to-end verification can pass. Nothing else is kept: GetObject
is not implemented.

Run it in its own process so its CPU does not count toward the client's:
`python -m testing.s3_discard --port 0` prints the port, then serves until
SIGTERM/SIGINT (or, with `--until-stdin-closes`, until its stdin closes).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

from testing.loopback import LoopbackServer

CHUNK = 1 << 20  # one recv_into buffer per connection
STATS_BUCKET = "__discard"  # GET /__discard/stats: what the server saw
_EMPTY_MD5 = hashlib.md5(b"").hexdigest()
_CHECKSUM_TAG = re.compile(rb"<Checksum(CRC32C|CRC32|CRC64NVME|SHA1|SHA256)>([^<]*)<")
_XML = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_REASONS = {
    100: "Continue",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    501: "Not Implemented",
}


@dataclass
class _Upload:
    bucket: str
    key: str
    algorithm: str | None
    checksum_type: str | None
    content_type: str
    parts: dict[int, int] = field(default_factory=dict)  # part number -> size
    md5s: dict[int, bytes] = field(default_factory=dict)


@dataclass
class _Object:
    size: int
    etag: str
    content_type: str
    checksums: dict[str, str]  # header name -> value
    checksum_type: str | None
    parts: int = 0


@dataclass
class _State:
    md5: bool = False  # compute real MD5 ETags (costs the server CPU)
    # Shaping, as a real S3 seen from afar: each request's body is read at
    # `rate` bytes per second at most, and every answer waits `latency`
    # seconds, so only requests in parallel raise the aggregate.
    rate: float | None = None
    latency: float = 0.0
    # As Cloudflare R2: Complete refuses parts of different sizes (all but
    # the last one the same size, the last no larger).
    same_size_parts: bool = False
    buckets: set[str] = field(default_factory=set)
    uploads: dict[str, _Upload] = field(default_factory=dict)
    objects: dict[tuple[str, str], _Object] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count[int] = field(default_factory=itertools.count)
    bytes_in: int = 0
    # How clients signed and checksummed their body requests, e.g.
    # "payload=UNSIGNED-PAYLOAD checksum=crc32": the bench reports it.
    bodies: Counter[str] = field(default_factory=Counter)


class _Closed(Exception):
    """The client closed the connection."""


class _Conn:
    """A socket with one reusable receive buffer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray(CHUNK)
        self.mv = memoryview(self.buf)
        self.start = 0
        self.end = 0

    def _fill(self) -> None:
        if self.start == self.end:
            self.start = self.end = 0
        elif self.end == len(self.buf):
            n = self.end - self.start
            self.buf[:n] = self.buf[self.start : self.end]
            self.start, self.end = 0, n
        n = self.sock.recv_into(self.mv[self.end :])
        if n == 0:
            raise _Closed
        self.end += n

    def read_until(self, sep: bytes, limit: int = 1 << 16) -> bytes:
        """Bytes up to `sep` (which is consumed, not returned)."""
        while True:
            i = self.buf.find(sep, self.start, self.end)
            if i >= 0:
                data = bytes(self.buf[self.start : i])
                self.start = i + len(sep)
                return data
            if self.end - self.start > limit:
                raise _Closed
            self._fill()

    def read(self, n: int) -> bytes:
        """Exactly `n` bytes (small bodies only)."""
        out = bytearray()
        self.discard(n, out.extend)
        return bytes(out)

    def discard(
        self, n: int, sink: Callable[[memoryview], object] | None = None
    ) -> None:
        """Consume `n` body bytes, passing them to `sink` if given."""
        take = min(n, self.end - self.start)
        if take:
            if sink:
                sink(self.mv[self.start : self.start + take])
            self.start += take
            n -= take
        if n == 0:
            return
        self.start = self.end = 0
        mv, recv_into = self.mv, self.sock.recv_into
        while n > 0:
            got = recv_into(mv, min(n, CHUNK))
            if got == 0:
                raise _Closed
            if sink:
                sink(mv[:got])
            n -= got

    def send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


@dataclass
class _Request:
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(sock)
        try:
            while self._one(conn):
                pass
        except (_Closed, ConnectionError, TimeoutError):
            pass

    def _one(self, conn: _Conn) -> bool:
        head = conn.read_until(b"\r\n\r\n").decode("latin-1")
        if not head.strip():
            return True
        line, *lines = head.split("\r\n")
        method, target, _version = line.split(" ", 2)
        headers = {}
        for h in lines:
            name, _, value = h.partition(":")
            headers[name.strip().lower()] = value.strip()
        url = urlsplit(target)
        bucket, _, key = unquote(url.path).lstrip("/").partition("/")
        query = {
            k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()
        }
        req = _Request(method, bucket, key, query, headers)
        if headers.get("expect", "").lower() == "100-continue":
            conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        status, out, body = _dispatch(self.server.state, req, conn)
        out.setdefault("Content-Length", str(len(body)))
        out["x-amz-request-id"] = "discard"
        out["Date"] = formatdate(usegmt=True)
        conn.send(status, out, b"" if method == "HEAD" else body)
        return headers.get("connection", "").lower() != "close"


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    state: _State


_Reply = tuple[int, dict[str, str], bytes]


def _error(status: int, code: str, message: str = "") -> _Reply:
    body = (
        _XML
        + (
            f"<Error><Code>{code}</Code><Message>{message or code}</Message></Error>"
        ).encode()
    )
    return status, {"Content-Type": "application/xml"}, body


def _paced(
    rate: float, sink: Callable[[memoryview], object] | None
) -> Callable[[memoryview], object]:
    """A sink that sleeps so the body arrives at `rate` bytes per second."""
    began = time.monotonic()
    got = 0

    def pace(mv: memoryview) -> None:
        nonlocal got
        if sink:
            sink(mv)
        got += len(mv)
        ahead = got / rate - (time.monotonic() - began)
        if ahead > 0:
            time.sleep(ahead)

    return pace


def _read_body(
    req: _Request, conn: _Conn, md5: hashlib._Hash | None, rate: float | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Consume the request body; return its decoded size, trailers and small data."""
    keep = req.method == "POST"  # only Complete/Create bodies are read
    kept = bytearray()

    def sink(mv: memoryview) -> None:
        if md5 is not None:
            md5.update(mv)
        if keep:
            kept.extend(mv)

    use = sink if (keep or md5 is not None) else None
    if rate:
        use = _paced(rate, use)
    h = req.headers
    chunked = "chunked" in h.get("transfer-encoding", "").lower()
    if "aws-chunked" in h.get("content-encoding", "").lower() or chunked:
        size, trailers = _read_chunked(conn, use)
        return size, trailers, bytes(kept)
    n = int(h.get("content-length", "0") or 0)
    conn.discard(n, use)
    return n, {}, bytes(kept)


def _read_chunked(
    conn: _Conn, sink: Callable[[memoryview], object] | None
) -> tuple[int, dict[str, str]]:
    """Consume a chunked or aws-chunked body; return its size and trailers."""
    size = 0
    while True:
        line = conn.read_until(b"\r\n")
        n = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if n == 0:
            break
        conn.discard(n, sink)
        conn.read_until(b"\r\n")
        size += n
    trailers: dict[str, str] = {}
    while True:
        line = conn.read_until(b"\r\n")
        if not line:
            return size, trailers
        name, _, value = line.decode("latin-1").partition(":")
        trailers[name.strip().lower()] = value.strip()


def _checksum_headers(headers: dict[str, str]) -> dict[str, str]:
    skip = ("x-amz-checksum-algorithm", "x-amz-checksum-type", "x-amz-checksum-mode")
    return {
        k: v
        for k, v in headers.items()
        if k.startswith("x-amz-checksum-") and k not in skip
    }


def _dispatch(state: _State, req: _Request, conn: _Conn) -> _Reply:
    md5 = hashlib.md5() if state.md5 and req.method == "PUT" and req.key else None
    size, trailers, body = _read_body(req, conn, md5, state.rate)
    if state.latency and req.bucket != STATS_BUCKET:
        time.sleep(state.latency)
    if req.method == "PUT" and req.key:  # object data, not Complete's XML
        with state.lock:
            state.bytes_in += size
            state.bodies[_describe(req.headers, trailers)] += 1
    m, q = req.method, req.query
    if req.bucket == STATS_BUCKET:
        return _stats(state, m)
    if not req.bucket:
        return _list_buckets(state) if m == "GET" else _error(400, "InvalidRequest")
    if not req.key:
        return _bucket_op(state, req)
    if m == "POST" and "uploads" in q:
        return _create(state, req)
    if m == "PUT" and "uploadId" in q:
        return _upload_part(state, req, size, trailers, md5)
    if m == "POST" and "uploadId" in q:
        return _complete(state, req, body)
    if m == "DELETE" and "uploadId" in q:
        with state.lock:
            state.uploads.pop(q["uploadId"], None)
        return 204, {}, b""
    if m == "PUT":
        return _put(state, req, size, trailers, md5)
    if m == "HEAD":
        return _head(state, req)
    if m == "DELETE":
        with state.lock:
            state.objects.pop((req.bucket, req.key), None)
        return 204, {}, b""
    return _error(501, "NotImplemented", f"{m} on an object is not implemented")


def _describe(headers: dict[str, str], trailers: dict[str, str]) -> str:
    """How a body was signed and checksummed, in a few words."""
    payload = headers.get("x-amz-content-sha256", "none")
    if re.fullmatch(r"[0-9a-f]{64}", payload):
        payload = "sha256"
    sums = sorted(
        k[15:] for k in _checksum_headers(headers) | _checksum_headers(trailers)
    )
    if "content-md5" in headers:
        sums.append("content-md5")
    where = " (trailer)" if trailers else ""
    return f"payload={payload} checksum={'+'.join(sums) or 'none'}{where}"


def _stats(state: _State, method: str) -> _Reply:
    """GET: bytes received and body kinds as JSON; DELETE: reset them."""
    with state.lock:
        if method == "DELETE":
            state.bytes_in = 0
            state.bodies.clear()
            return 204, {}, b""
        doc = {"bytes_in": state.bytes_in, "bodies": dict(state.bodies)}
    return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()


def _list_buckets(state: _State) -> _Reply:
    names = "".join(f"<Bucket><Name>{b}</Name></Bucket>" for b in sorted(state.buckets))
    body = (
        f"<ListAllMyBucketsResult><Buckets>{names}</Buckets></ListAllMyBucketsResult>"
    )
    return 200, {"Content-Type": "application/xml"}, _XML + body.encode()


def _bucket_op(state: _State, req: _Request) -> _Reply:
    """HeadBucket, CreateBucket, GetBucketLocation, ListMultipartUploads, lists."""
    xml = {"Content-Type": "application/xml"}
    if req.method in ("HEAD", "PUT"):
        with state.lock:
            state.buckets.add(req.bucket)
        return 200, {"x-amz-bucket-region": "us-east-1"}, b""
    if req.method == "GET" and "location" in req.query:
        return 200, xml, _XML + b"<LocationConstraint/>"
    if req.method == "GET" and "uploads" in req.query:
        body = (
            f"<ListMultipartUploadsResult><Bucket>{req.bucket}</Bucket>"
            "<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
            "<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>"
            "</ListMultipartUploadsResult>"
        )
        return 200, xml, _XML + body.encode()
    if req.method == "GET":
        return _list_objects(state, req)
    if req.method == "DELETE":
        return 204, {}, b""
    return _error(501, "NotImplemented")


def _list_objects(state: _State, req: _Request) -> _Reply:
    prefix = req.query.get("prefix", "")
    with state.lock:
        items = sorted(
            (k, o)
            for (b, k), o in state.objects.items()
            if b == req.bucket and k.startswith(prefix)
        )
    contents = "".join(
        f"<Contents><Key>{k}</Key><Size>{o.size}</Size><ETag>&quot;{o.etag}&quot;</ETag>"
        "<LastModified>2026-11-26T00:00:00.000Z</LastModified>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        for k, o in items
    )
    body = (
        f"<ListBucketResult><Name>{req.bucket}</Name><Prefix>{prefix}</Prefix>"
        f"<KeyCount>{len(items)}</KeyCount><MaxKeys>1000</MaxKeys>"
        f"<IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
    )
    return 200, {"Content-Type": "application/xml"}, _XML + body.encode()


def _create(state: _State, req: _Request) -> _Reply:
    h = req.headers
    with state.lock:
        upload_id = f"discard-{next(state.ids)}-{time.monotonic_ns()}"
        state.uploads[upload_id] = _Upload(
            req.bucket,
            req.key,
            h.get("x-amz-checksum-algorithm"),
            h.get("x-amz-checksum-type"),
            h.get("content-type", "binary/octet-stream"),
        )
    out = {"Content-Type": "application/xml"}
    if "x-amz-checksum-algorithm" in h:
        out["x-amz-checksum-algorithm"] = h["x-amz-checksum-algorithm"]
    if "x-amz-checksum-type" in h:
        out["x-amz-checksum-type"] = h["x-amz-checksum-type"]
    body = (
        f"<InitiateMultipartUploadResult><Bucket>{req.bucket}</Bucket>"
        f"<Key>{_esc(req.key)}</Key><UploadId>{upload_id}</UploadId>"
        "</InitiateMultipartUploadResult>"
    )
    return 200, out, _XML + body.encode()


def _upload_part(
    state: _State,
    req: _Request,
    size: int,
    trailers: dict[str, str],
    md5: hashlib._Hash | None,
) -> _Reply:
    number = int(req.query.get("partNumber", "0"))
    digest = md5.digest() if md5 else bytes.fromhex(_EMPTY_MD5)
    with state.lock:
        upload = state.uploads.get(req.query["uploadId"])
        if upload is None:
            return _error(404, "NoSuchUpload")
        upload.parts[number] = int(
            req.headers.get("x-amz-decoded-content-length", size)
        )
        upload.md5s[number] = digest
    out = {"ETag": f'"{digest.hex()}"'}
    out.update(_checksum_headers(req.headers))
    out.update(_checksum_headers(trailers))
    return 200, out, b""


def _complete(state: _State, req: _Request, body: bytes) -> _Reply:
    with state.lock:
        upload = state.uploads.pop(req.query["uploadId"], None)
    if upload is None:
        return _error(404, "NoSuchUpload")
    numbers = [int(n) for n in re.findall(rb"<PartNumber>(\d+)</PartNumber>", body)]
    missing = [n for n in numbers if n not in upload.parts]
    if missing:
        return _error(400, "InvalidPart", f"part {missing[0]} was not uploaded")
    sizes = [upload.parts[n] for n in numbers]
    if state.same_size_parts and (len(set(sizes[:-1])) > 1 or sizes[-1] > sizes[0]):
        why = "All non-trailing parts must have the same length."  # R2's words
        return _error(400, "InvalidPart", why)
    size = sum(upload.parts[n] for n in numbers)
    etag = hashlib.md5(b"".join(upload.md5s[n] for n in numbers)).hexdigest()
    etag = f"{etag}-{len(numbers)}"
    checksums, ctype = _final_checksum(upload, req.headers, body, len(numbers))
    obj = _Object(size, etag, upload.content_type, checksums, ctype, len(numbers))
    with state.lock:
        state.objects[(upload.bucket, upload.key)] = obj
    out = {"Content-Type": "application/xml"}
    out.update(checksums)
    if ctype:
        out["x-amz-checksum-type"] = ctype
    tags = "".join(
        f"<Checksum{k[15:].upper()}>{v}</Checksum{k[15:].upper()}>"
        for k, v in checksums.items()
    )
    xml = (
        f"<CompleteMultipartUploadResult><Location>/{upload.bucket}/{_esc(upload.key)}"
        f"</Location><Bucket>{upload.bucket}</Bucket><Key>{_esc(upload.key)}</Key>"
        f"<ETag>&quot;{etag}&quot;</ETag>{tags}"
        + (f"<ChecksumType>{ctype}</ChecksumType>" if ctype else "")
        + "</CompleteMultipartUploadResult>"
    )
    return 200, out, _XML + xml.encode()


def _final_checksum(
    upload: _Upload, headers: dict[str, str], body: bytes, parts: int
) -> tuple[dict[str, str], str | None]:
    """The object's checksum: the full-object one sent at Complete, else composite."""
    sent = _checksum_headers(headers)
    if sent:
        return sent, headers.get(
            "x-amz-checksum-type", upload.checksum_type or "FULL_OBJECT"
        )
    found = _CHECKSUM_TAG.findall(body)
    if not found or len(found) != parts:
        return {}, None
    algorithm = found[0][0].decode().lower()
    raw = b"".join(base64.b64decode(v) for _, v in found)
    value = _hash(algorithm, raw)
    if value is None:
        return {}, None
    return {f"x-amz-checksum-{algorithm}": f"{value}-{parts}"}, "COMPOSITE"


def _hash(algorithm: str, data: bytes) -> str | None:
    """Base64 of `algorithm` over `data`, or None if this Python cannot compute it."""
    if algorithm == "crc32":
        return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    if algorithm in ("sha1", "sha256"):
        return base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    try:
        from awscrt import checksums  # type: ignore[import-not-found]
    except ImportError:
        return None
    if algorithm == "crc32c":
        return base64.b64encode(checksums.crc32c(data).to_bytes(4, "big")).decode()
    if algorithm == "crc64nvme":
        return base64.b64encode(checksums.crc64nvme(data).to_bytes(8, "big")).decode()
    return None


def _put(
    state: _State,
    req: _Request,
    size: int,
    trailers: dict[str, str],
    md5: hashlib._Hash | None,
) -> _Reply:
    h = req.headers
    size = int(h.get("x-amz-decoded-content-length", size))
    etag = md5.hexdigest() if md5 else _EMPTY_MD5
    checksums = _checksum_headers(h) | _checksum_headers(trailers)
    ctype = "FULL_OBJECT" if checksums else None
    obj = _Object(
        size, etag, h.get("content-type", "binary/octet-stream"), checksums, ctype
    )
    with state.lock:
        state.objects[(req.bucket, req.key)] = obj
    return 200, {"ETag": f'"{etag}"', **checksums}, b""


def _head(state: _State, req: _Request) -> _Reply:
    with state.lock:
        obj = state.objects.get((req.bucket, req.key))
    if obj is None:
        return 404, {"Content-Length": "0"}, b""
    out = {
        "Content-Length": str(obj.size),
        "Content-Type": obj.content_type,
        "ETag": f'"{obj.etag}"',
        "Last-Modified": "Thu, 26 Nov 2026 00:00:00 GMT",
        "Accept-Ranges": "bytes",
    }
    if req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        out.update(obj.checksums)
        if obj.checksum_type:
            out["x-amz-checksum-type"] = obj.checksum_type
    if obj.parts:
        out["x-amz-mp-parts-count"] = str(obj.parts)
    return 200, out, b""


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class DiscardS3(LoopbackServer):
    """A running discard-only S3 endpoint; bodies are read and dropped."""

    _server: _Server

    def __init__(
        self,
        port: int = 0,
        md5: bool = False,
        rate: float | None = None,
        latency: float = 0.0,
        same_size_parts: bool = False,
    ) -> None:
        server = _Server(("127.0.0.1", port), _Handler)
        server.state = _State(
            md5=md5, rate=rate, latency=latency, same_size_parts=same_size_parts
        )
        super().__init__(server)

    @property
    def bytes_in(self) -> int:
        """Object bytes received so far (PutObject/UploadPart bodies, decoded)."""
        return self._server.state.bytes_in


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT (or stdin closes); print the port first."""
    parser = argparse.ArgumentParser(prog="python -m testing.s3_discard")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--md5", action="store_true", help="compute real MD5 ETags")
    parser.add_argument("--until-stdin-closes", action="store_true")
    parser.add_argument("--rate", type=float, help="body bytes/s per request")
    parser.add_argument("--latency", type=float, default=0.0, help="s per answer")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with DiscardS3(args.port, md5=args.md5, rate=args.rate, latency=args.latency) as (
        server
    ):
        print(server.port, flush=True)
        try:
            if args.until_stdin_closes:
                while sys.stdin.buffer.read(1 << 16):
                    pass
            else:
                threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
