"""An HTTP listener on 127.0.0.1 that receives the OAuth redirect.

It serves from a thread, from before the browser is opened until the answer
carrying this run's `state` arrives: a console browser (w3m, lynx) makes
`webbrowser.open` block until it exits, and it only exits once the redirect
page has been answered. Any other request (a favicon, a forged or stale
`?code=`, an `?error=` without our state) is answered and ignored, so no
local process can end the wait early.
"""

from __future__ import annotations

import errno
import html
import queue
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devkit.errors import AuthError

# What the wait can be woken by: ("redirect", query) or ("opened", bool).
Event = tuple[str, Any]


class RedirectTimeout(Exception):
    """No redirect carrying our state arrived before the deadline."""


class _Server(ThreadingHTTPServer):
    # Linux refuses a second listener even with SO_REUSEADDR, and it lets a fixed
    # --port be reused straight after a run; on Windows it would allow hijacking.
    allow_reuse_address = sys.platform != "win32"
    # A stalled local connection must not hold up the exit: the page of the
    # real redirect is written before the wait is woken, so nothing is cut.
    daemon_threads = True
    block_on_close = False
    expected_path = "/"
    state: str | None = None
    delivered = False
    ignored = 0
    events: queue.Queue[Event]
    lock: threading.Lock


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a stalled connection holds only its own thread

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the access log: the URL holds the authorization code."""

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        server = self.server
        if parts.path != server.expected_path or not (
            "code" in params or "error" in params
        ):
            # A favicon or a stray request: answer it and keep waiting.
            self._send(404, "<p>This is not the authorization redirect.</p>")
            return
        with server.lock:
            ours = _state_matches(params, server.state) and not server.delivered
            if ours:
                server.delivered = True
            else:
                server.ignored += 1
        if not ours:
            # RFC 6749 10.12: an answer without this run's state (a forged
            # link, an old tab, another program) is not ours to act on.
            self._send(400, _NOT_OURS)
            return
        self._send(200, landing_page(params))
        server.events.put(("redirect", params))

    def _send(self, status: int, body: str) -> None:
        page = (
            "<!doctype html><html><head><title>devkit play-auth</title></head>"
            f"<body>{body}</body></html>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(page)
        self.wfile.flush()


def _state_matches(params: dict[str, str], state: str | None) -> bool:
    if not state:
        return False
    return secrets.compare_digest(params.get("state", "").encode(), state.encode())


_CLOSE = "You can close this window and return to the terminal."
_NOT_OURS = (
    "<h1>This answer does not belong to the running devkit play-auth</h1>"
    f"<p>The state did not match; devkit is still waiting. {_CLOSE}</p>"
)


def landing_page(params: dict[str, str]) -> str:
    """The page the browser shows after the redirect that carries our state."""
    if "error" in params:
        reason = html.escape(params["error"])
        return f"<h1>Authorization not granted ({reason})</h1><p>{_CLOSE}</p>"
    return f"<h1>devkit received the authorization</h1><p>{_CLOSE}</p>"


class LoopbackReceiver:
    """Serves 127.0.0.1:`port` (0: any free port) until our OAuth redirect comes."""

    def __init__(self, port: int, path: str, reserve_ipv6: bool = False) -> None:
        try:
            self._server = _Server(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise _bind_error(port, exc) from None
        self._server.expected_path = path
        self._server.events = queue.Queue()
        self._server.lock = threading.Lock()
        self._ipv6: socket.socket | None = None
        if reserve_ipv6:
            self._reserve_ipv6()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="devkit-loopback",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self._server.server_address[1])

    @property
    def ignored(self) -> int:
        """How many code/error answers without this run's state were turned away."""
        return self._server.ignored

    def expect_state(self, state: str) -> None:
        """Accept only the redirect that carries this state (RFC 6749 4.1.2)."""
        self._server.state = state

    def post(self, event: Event) -> None:
        """Wake the wait with an event of the caller's (e.g. the browser opened)."""
        self._server.events.put(event)

    def next_event(
        self, deadline: float, clock: Callable[[], float] = time.monotonic
    ) -> Event:
        """The next redirect or posted event; RedirectTimeout at the deadline."""
        remaining = deadline - clock()
        if remaining <= 0:
            raise RedirectTimeout
        try:
            return self._server.events.get(timeout=remaining)
        except queue.Empty:
            raise RedirectTimeout from None

    def wait(
        self, deadline: float, clock: Callable[[], float] = time.monotonic
    ) -> dict[str, str]:
        """Serve until the redirect with our state arrives; return its query."""
        while True:
            kind, value = self.next_event(deadline, clock)
            if kind == "redirect":
                return dict(value)

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()
        if self._ipv6 is not None:
            self._ipv6.close()

    def __enter__(self) -> LoopbackReceiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _reserve_ipv6(self) -> None:
        # A redirect URI naming "localhost" may reach ::1 first: hold that port
        # (bound, not listening) so no other local program can take the code.
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        except OSError:
            return  # no IPv6 here: nothing to reserve
        try:
            sock.bind(("::1", self.port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                self._server.server_close()
                raise _bind_error(self.port, exc) from None
            return
        self._ipv6 = sock


def _bind_error(port: int, exc: OSError) -> AuthError:
    if exc.errno == errno.EADDRINUSE:
        return AuthError(
            f"port {port} on localhost is in use by another program: stop it or pass "
            "another --port (a web client needs that redirect URI registered too)"
        )
    return AuthError(
        f"cannot listen on 127.0.0.1:{port} for the redirect: {exc.strerror}"
    )
