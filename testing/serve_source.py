"""Run testing.http_source's HttpSource in its own process, for bench/.

`python -m testing.serve_source --size N [--path /obj] [--chunked]` serves a
deterministic body of N bytes (see `testing.http_source.body_sha256`) and
prints its URL, then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from testing.http_source import HttpSource


def main(argv: list[str] | None = None) -> int:
    """Serve one body; print its URL first."""
    parser = argparse.ArgumentParser(prog="python -m testing.serve_source")
    parser.add_argument("--size", type=int, required=True, help="body size in bytes")
    parser.add_argument("--path", default="/obj")
    parser.add_argument("--chunked", action="store_true", help="no Content-Length")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with HttpSource() as source:
        source.add(args.path, args.size, chunked=args.chunked)
        print(source.url(args.path), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
