"""A fault point between a client and an S3 server: a small reverse proxy.

It forwards every request to the real server (moto) unchanged, except where a
rule says otherwise: fail chosen UploadPart requests with 500/503, corrupt a
part's body on its way to the server, hide a server feature from the client
(the full-object checksum type), hold an answer back after the server has
acted on the request (so a signal or a timeout can land between S3's commit
and the client hearing of it), answer for the server as S3 does when it
refuses a commit, fail every HeadObject, or give the ETag another form, as
S3-compatible servers do.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from testing.loopback import LoopbackServer

_HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive", "content-length"}


@dataclass
class Faults:
    """What the proxy does to the traffic; mutate while it runs."""

    # part number -> list of statuses to answer with, one per attempt
    fail_parts: dict[int, list[int]] = field(default_factory=dict)
    corrupt_parts: set[int] = field(default_factory=set)  # flip a byte on the way
    # ... only the first attempt of these parts (0: a single PutObject)
    corrupt_once: set[int] = field(default_factory=set)
    put_attempts: int = 0  # PutObject requests seen
    # Refuse the first attempt of these parts with 400 BadDigest, as S3 does
    # when a part's CRC32 or Content-MD5 does not match what arrived.
    bad_digest_once: set[int] = field(default_factory=set)
    hide_full_object: bool = False  # strip x-amz-checksum-type from Create's answer
    # Answer CompleteMultipartUpload with this error (code, status) instead of
    # forwarding it: what S3 does when the full-object CRC32 does not match.
    refuse_complete: tuple[str, int] | None = None
    fail_head: int | None = None  # answer every HeadObject with this status
    # operation name (see `operation`) -> status to answer every such request with
    fail_ops: dict[str, int] = field(default_factory=dict)
    # Answer a repeated CompleteMultipartUpload with NoSuchUpload, as MinIO
    # and Ceph do (AWS, and moto, answer it as they did the first).
    forget_completed: bool = False
    completed: set[str] = field(default_factory=set)  # upload ids seen completed
    # The ETag HeadObject and Complete give (and no checksum), as a server
    # whose ETags are opaque, or not the MD5s S3 would give, does.
    etag_override: str | None = None
    corrupt_gets: bool = False  # flip a byte of each GetObject body
    part_attempts: dict[int, int] = field(default_factory=dict)  # what was seen
    # operation name (see `operation`) -> seconds to hold the answer back
    # after the server has acted on the request
    delay_after: dict[str, float] = field(default_factory=dict)
    # ... and to hold a request back before the server sees it
    delay_before: dict[str, float] = field(default_factory=dict)
    arrived: list[str] = field(default_factory=list)  # operations received
    acted: list[str] = field(default_factory=list)  # operations the server acted on


def operation(command: str, query: dict[str, list[str]]) -> str:
    """The S3 operation a request is, by method and query (enough for these tests)."""
    if command == "POST" and "uploads" in query:
        return "CreateMultipartUpload"
    if command == "POST":
        return "CompleteMultipartUpload"
    if command == "PUT":
        return "UploadPart" if "partNumber" in query else "PutObject"
    if command == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if command == "GET" and "uploads" in query:
        return "ListMultipartUploads"
    return {"HEAD": "HeadObject"}.get(command, "GetObject")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Proxy

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _proxy(self) -> None:
        faults = self.server.faults
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        part = int(query["partNumber"][0]) if "partNumber" in query else None
        op = operation(self.command, query)
        with self.server.lock:
            faults.arrived.append(op)
        time.sleep(faults.delay_before.get(op, 0))
        upload_id = query.get("uploadId", [""])[0]
        if op == "CompleteMultipartUpload" and faults.forget_completed:
            with self.server.lock:
                repeated = upload_id in faults.completed
                faults.completed.add(upload_id)
            if repeated:
                self._error(404, "NoSuchUpload")
                return
        if op in faults.fail_ops:
            self._error(faults.fail_ops[op])
            return
        if op == "HeadObject" and faults.fail_head:
            self._error(faults.fail_head)
            return
        if op == "CompleteMultipartUpload" and faults.refuse_complete:
            self._error(faults.refuse_complete[1], faults.refuse_complete[0])
            return
        if part is not None and self.command == "PUT":
            with self.server.lock:
                faults.part_attempts[part] = faults.part_attempts.get(part, 0) + 1
                planned = faults.fail_parts.get(part) or []
                status = planned.pop(0) if planned else None
            if status is not None:
                self._error(status)
                return
            if part in faults.bad_digest_once and faults.part_attempts[part] == 1:
                self._error(400, "BadDigest")
                return
            if part in faults.corrupt_parts and body:
                body = bytes([body[0] ^ 0xFF]) + body[1:]
            first = faults.part_attempts[part] == 1
            if part in faults.corrupt_once and first and body:
                body = bytes([body[0] ^ 0xFF]) + body[1:]
        if op == "PutObject":
            with self.server.lock:
                faults.put_attempts += 1
                first = faults.put_attempts == 1
            if 0 in faults.corrupt_once and first and body:
                body = bytes([body[0] ^ 0xFF]) + body[1:]
        status, headers, payload = self._forward(body)
        with self.server.lock:
            faults.acted.append(op)
        time.sleep(faults.delay_after.get(op, 0))
        if faults.hide_full_object and self.command == "POST" and "uploads" in query:
            headers = [(k, v) for k, v in headers if k.lower() != "x-amz-checksum-type"]
        if faults.etag_override is not None and part is None:
            headers, payload = _override_etag(headers, payload, faults.etag_override)
        if faults.corrupt_gets and self.command == "GET" and status == 200 and payload:
            payload = bytes([payload[0] ^ 0xFF]) + payload[1:]
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
            elif name.lower() == "content-length" and self.command == "HEAD":
                self.send_header(name, value)  # HEAD: the object's length
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.server.upstream, timeout=60)
        try:
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in ("expect",)
            }
            override = self.server.faults.etag_override
            if override and headers.get("If-Match", "").strip('"') == override:
                del headers["If-Match"]  # the ETag this "server" gave holds
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def _error(self, status: int, code: str | None = None) -> None:
        code = code or ("SlowDown" if status == 503 else "InternalError")
        payload = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            f"<Message>injected by the test proxy</Message></Error>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _proxy  # noqa: N815


def _override_etag(
    headers: list[tuple[str, str]], payload: bytes, etag: str
) -> tuple[list[tuple[str, str]], bytes]:
    kept = [
        (k, v)
        for k, v in headers
        if not k.lower().startswith("x-amz-checksum") and k.lower() != "etag"
    ]
    if any(k.lower() == "etag" for k, _ in headers):
        kept.append(("ETag", f'"{etag}"'))
    payload = re.sub(
        rb"<ETag>[^<]*</ETag>", f"<ETag>&quot;{etag}&quot;</ETag>".encode(), payload
    )
    payload = re.sub(rb"<Checksum[A-Z0-9]+>[^<]*</Checksum[A-Z0-9]+>", b"", payload)
    return kept, payload


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up mid-request are part of the tests

    faults: Faults
    upstream: str
    lock: threading.Lock


class FaultProxy(LoopbackServer):
    """A running proxy to `upstream_url` (http://host:port)."""

    _server: _Proxy

    def __init__(self, upstream_url: str, faults: Faults | None = None) -> None:
        server = _Proxy(("127.0.0.1", 0), _Handler)
        server.faults = faults or Faults()
        server.upstream = urlsplit(upstream_url).netloc
        server.lock = threading.Lock()
        super().__init__(server)

    @property
    def faults(self) -> Faults:
        return self._server.faults
