"""The lifecycle every test server here shares: bind 127.0.0.1, serve in a thread."""

from __future__ import annotations

import socketserver
import threading
from typing import Self


class LoopbackServer:
    """Run `server` (bound to 127.0.0.1) in a daemon thread as a context manager."""

    def __init__(self, server: socketserver.BaseServer) -> None:
        self._server = server
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])  # type: ignore[index]

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
