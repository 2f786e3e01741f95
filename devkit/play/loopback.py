"""A one-shot HTTP listener on 127.0.0.1 that receives the OAuth redirect."""

from __future__ import annotations

import errno
import html
import socket
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devkit.errors import AuthError


class RedirectTimeout(Exception):
    """No redirect arrived before the deadline."""


class _Server(HTTPServer):
    # Linux refuses a second listener even with SO_REUSEADDR, and it lets a fixed
    # --port be reused straight after a run; on Windows it would allow hijacking.
    allow_reuse_address = sys.platform != "win32"
    expected_path = "/"
    result: dict[str, str] | None = None
    page_for: Callable[[dict[str, str]], str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a stalled connection must not eat the whole wait

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the access log: the URL holds the authorization code."""

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path != self.server.expected_path or not (
            "code" in params or "error" in params
        ):
            # A favicon or a stray request: answer it and keep waiting.
            self._send(404, "<p>This is not the authorization redirect.</p>")
            return
        self.server.result = params
        self._send(200, self.server.page_for(params))

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


def landing_page(params: dict[str, str], expected_state: str) -> str:
    """The page the browser shows after the redirect."""
    if "error" in params:
        reason = html.escape(params["error"])
        return f"<h1>Authorization not granted ({reason})</h1><p>{_CLOSE}</p>"
    if params.get("state") != expected_state:
        return (
            "<h1>This answer does not belong to the running devkit play-auth</h1>"
            f"<p>The state did not match. {_CLOSE}</p>"
        )
    return f"<h1>devkit received the authorization</h1><p>{_CLOSE}</p>"


_CLOSE = "You can close this window and return to the terminal."


class LoopbackReceiver:
    """Listens on 127.0.0.1:`port` (0: any free port) for one OAuth redirect."""

    def __init__(self, port: int, path: str, reserve_ipv6: bool = False) -> None:
        try:
            self._server = _Server(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise _bind_error(port, exc) from None
        self._server.expected_path = path
        self._server.page_for = lambda params: landing_page(params, "")
        self._ipv6: socket.socket | None = None
        if reserve_ipv6:
            self._reserve_ipv6()

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self._server.server_address[1])

    def expect_state(self, state: str) -> None:
        """Tell the landing page which state belongs to this run."""
        self._server.page_for = lambda params: landing_page(params, state)

    def wait(
        self, deadline: float, clock: Callable[[], float] = time.monotonic
    ) -> dict[str, str]:
        """Serve until a redirect with `code` or `error` arrives; return its query."""
        while self._server.result is None:
            remaining = deadline - clock()
            if remaining <= 0:
                raise RedirectTimeout
            self._server.timeout = remaining
            self._server.handle_request()
        return self._server.result

    def close(self) -> None:
        """Stop listening."""
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
                self.close()
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
