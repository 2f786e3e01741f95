"""A console browser for `BROWSER=...`: consents, then waits for the redirect's page.

Like w3m or lynx, it runs in the foreground, so `webbrowser.open` blocks until
it exits, and it exits only once the page it was redirected to has answered
(or after --timeout seconds). It clicks the stand-in's Allow (or Deny) with
ScriptedBrowser and appends one JSON line about what it saw to --log:

    BROWSER="python -m testing.console_browser --log out.jsonl %s"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from testing.fake_google import ScriptedBrowser


def main(argv: list[str] | None = None) -> int:
    """Visit the URL; exit 0 when the redirect was answered with 200."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--decision", default="allow", choices=["allow", "deny"])
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args(argv)
    browser = ScriptedBrowser(decision=args.decision, timeout=args.timeout)
    browser.visit(args.url)
    record = {
        "landing_status": browser.landing_status,
        "landing_text": browser.landing_text,
        "error": type(browser.error).__name__ if browser.error else None,
    }
    with args.log.open("a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
    return 0 if browser.landing_status == 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
