"""Run testing.http_source's HttpSource in its own process, for bench/.

`python -m testing.serve_source --size N [--path /obj] [--chunked] [--rate B/s]
[--first-byte-delay S] [--no-ranges]` serves a
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
    parser.add_argument(
        "--rate", type=float, default=None, help="bytes/s per connection (a far server)"
    )
    parser.add_argument(
        "--first-byte-delay", type=float, default=0.0, help="seconds per request"
    )
    parser.add_argument("--no-ranges", action="store_true", help="ignore Range")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with HttpSource() as source:
        source.add(
            args.path,
            args.size,
            chunked=args.chunked,
            rate=args.rate,
            first_byte_delay=args.first_byte_delay,
            ranges=not args.no_ranges,
        )
        print(source.url(args.path), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
