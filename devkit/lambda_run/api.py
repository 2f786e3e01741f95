"""The Lambda Runtime API on 127.0.0.1, serving one invocation.

Paths, headers and status codes are the ones awslambdaric uses (its
lambda_runtime_client.py and the aws-lambda-cpp client it wraps): GET
/next answers with the event and the Lambda-Runtime-* headers; the runtime
POSTs /response, /error or /init/error and gets 202. A second /next
(the runtime waiting for the next event) is held until the run ends, as
Lambda freezes the sandbox there.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
MAX_RESPONSE = 6 * 1024 * 1024  # Lambda's synchronous payload limit


@dataclass(frozen=True)
class Invocation:
    """What /next hands out."""

    event: bytes
    request_id: str
    function_arn: str
    trace_id: str
    timeout_s: float


@dataclass
class Exchange:
    """What happened on the API, in order, with the times that matter."""

    requests: list[str] = field(default_factory=list)
    next_at: float | None = None  # the event handed out (perf_counter)
    done_at: float | None = None
    status: str | None = None  # response | error | init_error
    body: bytes = b""
    content_type: str = ""
    error_type_header: str | None = None


class RuntimeApi:
    """A threaded server; `changed` is set whenever the exchange moves on."""

    def __init__(self, invocation: Invocation) -> None:
        self.invocation = invocation
        self.exchange = Exchange()
        self.changed = threading.Event()
        self.stopping = threading.Event()
        self.parked = threading.Event()  # the runtime is back in /next
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.api = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        """host:port, the value of AWS_LAMBDA_RUNTIME_API."""
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def __enter__(self) -> RuntimeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class _Handler(BaseHTTPRequestHandler):
    server_version = "devkit-lambda-run"
    sys_version = ""

    @property
    def api(self) -> RuntimeApi:
        return self.server.api  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the runtime's own logs are what the user reads

    def do_GET(self) -> None:
        self._record()
        if self.path != f"{PREFIX}/invocation/next":
            return self._send(HTTPStatus.NOT_FOUND, _error("NotFound", self.path))
        with self.api.lock:
            first = self.api.exchange.next_at is None
            if first:
                self.api.exchange.next_at = time.perf_counter()
        if not first:
            # The runtime asks for the next event: there is none; hold it.
            self.api.parked.set()
            self.api.stopping.wait()
            return None
        inv = self.api.invocation
        deadline_ms = int(time.time() * 1000 + inv.timeout_s * 1000)
        self.send_response(HTTPStatus.OK)
        for name, value in (
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(inv.event))),
            ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", inv.function_arn),
            ("Lambda-Runtime-Trace-Id", inv.trace_id),
        ):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(inv.event)
        self.api.changed.set()
        return None

    def do_POST(self) -> None:
        self._record()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        rid = self.api.invocation.request_id
        status = {
            f"{PREFIX}/init/error": "init_error",
            f"{PREFIX}/invocation/{rid}/response": "response",
            f"{PREFIX}/invocation/{rid}/error": "error",
        }.get(self.path)
        if status is None:
            if "/invocation/" in self.path:
                return self._send(
                    HTTPStatus.BAD_REQUEST, _error("InvalidRequestID", self.path)
                )
            return self._send(HTTPStatus.NOT_FOUND, _error("NotFound", self.path))
        with self.api.lock:
            ex = self.api.exchange
            if ex.status is not None or (status != "init_error" and not ex.next_at):
                return self._send(
                    HTTPStatus.FORBIDDEN,
                    _error("InvalidStateTransition", f"{status} after {ex.status}"),
                )
            if status == "response" and len(body) > MAX_RESPONSE:
                status, body = (
                    "error",
                    _error(
                        "Function.ResponseSizeTooLarge",
                        f"Response payload size ({len(body)} bytes) exceeded maximum "
                        f"allowed payload size ({MAX_RESPONSE} bytes).",
                    ),
                )
            ex.done_at = time.perf_counter()
            ex.status = status
            ex.body = body
            ex.content_type = self.headers.get("Content-Type", "")
            ex.error_type_header = self.headers.get(ERROR_TYPE_HEADER)
        self._send(HTTPStatus.ACCEPTED, b'{"status":"OK"}')
        self.api.changed.set()
        return None

    def _record(self) -> None:
        with self.api.lock:
            self.api.exchange.requests.append(f"{self.command} {self.path}")

    def _send(self, code: HTTPStatus, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def new_invocation(
    event: bytes, function_name: str, region: str, timeout_s: float
) -> Invocation:
    """A request id, ARN and X-Ray trace header shaped like Lambda's."""
    trace = (
        f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
        f"Parent={uuid.uuid4().hex[:16]};Sampled=0"
    )
    return Invocation(
        event=event,
        request_id=str(uuid.uuid4()),
        function_arn=f"arn:aws:lambda:{region}:000000000000:function:{function_name}",
        trace_id=trace,
        timeout_s=timeout_s,
    )
