"""`devkit play-auth` and `devkit play-verify`."""

from __future__ import annotations

import io
import os
import select
import sys
import time
import webbrowser
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import click

from devkit.cli.options import output_options
from devkit.console import Output
from devkit.errors import ConfigError, ExitCode
from devkit.play import (
    ANDROIDPUBLISHER_SCOPE,
    CREDENTIALS_FILENAME,
    DEFAULT_API_ENDPOINT,
)

if TYPE_CHECKING:
    from devkit.play.verify import ProductSummary, Purchase, SubscriptionSummary

# play-verify's exit codes (devkit.errors.ExitCode); --help shows this table.
NOT_ENTITLED = ExitCode.FAILURE

VERIFY_EPILOG = """\b
Exit codes:
  0    the purchase entitles the user now (active, in grace period,
       or cancelled but not yet expired; a purchased one-time product)
  1    it does not (expired, pending, on hold, paused, refunded...)
  2    bad arguments, or a missing or unusable credentials file
  4    credentials refused: invalid_grant, or 401/403 permissions
  5    the purchase token is invalid, unknown, or too old (400/404/410)
  6    Google could not be reached or failed (network, 5xx)
  3    internal error; 130 interrupted
"""

TESTING_WARNING = (
    "if the app's OAuth consent screen is in Testing status, Google expires this "
    "refresh token after 7 days: publish the app (In production) to keep it"
)


def default_credentials_path() -> Path:
    """<devkit config folder>/play-credentials.json, e.g. ~/.config/devkit/."""
    return Path(click.get_app_dir("devkit")) / CREDENTIALS_FILENAME


@click.command("play-auth")
@click.option(
    "--client-secrets",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="OAuth client JSON from Google Cloud Console (Desktop app recommended).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DEVKIT_PLAY_CREDENTIALS",
    help="Where to store the credentials (DEVKIT_PLAY_CREDENTIALS). "
    "Default: play-credentials.json in devkit's config folder.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Loopback port for the redirect. Default: any free port (Desktop app "
    "clients); web clients use the port of their registered redirect URI.",
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="Print the URL instead of opening a browser, then read the address the "
    "browser landed on (or the code) from stdin. For SSH and containers.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    default=[ANDROIDPUBLISHER_SCOPE],
    show_default=True,
    help="OAuth scope to request; repeat for several.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=300.0,
    show_default=True,
    help="Seconds to wait for the browser or the paste.",
)
@output_options
def play_auth_cmd(
    client_secrets: Path,
    output: Path | None,
    port: int | None,
    no_browser: bool,
    scopes: tuple[str, ...],
    timeout: float,
    out: Output,
) -> int:
    """Get a Google Play refresh token through the browser and store it."""
    from devkit.play.auth import AuthOptions, authorize

    options = AuthOptions(
        client_secrets=client_secrets,
        output=output or default_credentials_path(),
        own_dir=output is None,
        port=port,
        scopes=tuple(scopes),
        paste=no_browser,
        interactive=_stdin_is_tty(),
        timeout=timeout,
    )

    def on_url(url: str, opened: bool) -> None:
        if no_browser:
            out.info("Open this URL in a browser on any machine and click Allow:")
            out.err.print(url, markup=False, highlight=False, soft_wrap=True)
            out.info(
                "The browser then fails to load a http://127.0.0.1 page; that is "
                "expected. Copy that page's address and paste it here."
            )
        elif opened:
            out.info("Opened your browser for Google sign-in; waiting for consent...")
            out.info(f"If nothing opened, visit: {url}")
        else:
            port = _redirect_port(url)
            out.info(
                "Could not open a browser. Open this URL in a browser on this machine, "
                f"or on yours after `ssh -L {port}:127.0.0.1:{port} THIS-HOST`, "
                "or rerun with --no-browser:"
            )
            out.err.print(url, markup=False, highlight=False, soft_wrap=True)

    result = authorize(
        options,
        opener=_open_browser,
        read_paste=_read_pasted_line,
        on_url=on_url,
    )
    if out.json:
        out.result_json(
            {
                "credentials": str(result.path),
                "client_id": result.client_id,
                "client_type": result.client_type,
                "scopes": list(result.scopes),
            }
        )
    else:
        out.result(str(result.path))
    out.info(f"Stored the refresh token in {result.path} (mode 0600).")
    out.warn(TESTING_WARNING)
    return ExitCode.OK


def _redirect_port(url: str) -> str:
    redirect = parse_qs(urlsplit(url).query).get("redirect_uri", [""])[0]
    return str(urlsplit(redirect).port or "PORT")


def _open_browser(url: str) -> bool:
    return webbrowser.open(url, new=1, autoraise=True)


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _read_pasted_line(timeout: float) -> str | None:
    """One line from stdin within `timeout` s; None at end of input."""
    if _stdin_is_tty():
        sys.stderr.write("Paste the address (or the code) and press Enter: ")
        sys.stderr.flush()
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        line = sys.stdin.readline()  # a replaced stdin (tests): no timeout possible
        return line or None
    return _read_line_fd(fd, timeout)


class _FdLines:
    """Lines from a file descriptor, read unbuffered with select.

    Python's buffered stdin would hold data that select cannot see, so
    --timeout could not hold; and one read may bring several lines (a
    paste, a pipe), so what follows the first newline is kept for the next.
    """

    def __init__(self) -> None:
        self.pending = b""
        self.ended = False

    def read(self, fd: int, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending and not self.ended:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(remaining, 0))
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, 4096)
            self.ended = not chunk
            self.pending += chunk
        line, newline, self.pending = self.pending.partition(b"\n")
        if not line and not newline:
            return None  # end of input
        return line.decode(errors="replace")


_STDIN_LINES = _FdLines()


def _read_line_fd(fd: int, timeout: float) -> str | None:
    return _STDIN_LINES.read(fd, timeout)


@click.command("play-verify", epilog=VERIFY_EPILOG)
@click.argument("package")
@click.argument("purchase_token", metavar="PURCHASE_TOKEN")
@click.option(
    "--product",
    "product_id",
    metavar="PRODUCT_ID",
    help="Check a one-time product (purchases.products) instead of a subscription.",
)
@click.option(
    "--credentials",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DEVKIT_PLAY_CREDENTIALS",
    help="File written by play-auth (DEVKIT_PLAY_CREDENTIALS). "
    "Default: play-credentials.json in devkit's config folder.",
)
@click.option(
    "--service-account",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DEVKIT_PLAY_SERVICE_ACCOUNT",
    metavar="KEY.json",
    help="Use a service-account key instead (DEVKIT_PLAY_SERVICE_ACCOUNT).",
)
@click.option(
    "--api-endpoint",
    envvar="DEVKIT_PLAY_API_ENDPOINT",
    default=DEFAULT_API_ENDPOINT,
    show_default=True,
    metavar="URL",
    help="API root, e.g. a test server (DEVKIT_PLAY_API_ENDPOINT).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds per HTTP request.",
)
@output_options
def play_verify_cmd(
    package: str,
    purchase_token: str,
    product_id: str | None,
    credentials: Path | None,
    service_account: Path | None,
    api_endpoint: str,
    timeout: float,
    out: Output,
) -> int:
    """Check a Google Play subscription (or product) purchase; exit 0 if it entitles.

    Pass - as PURCHASE_TOKEN to read it from stdin (keeps it out of `ps`).
    """
    from devkit.play.verify import VerifyOptions, verify_purchase

    if purchase_token == "-":
        purchase_token = sys.stdin.readline().strip()
    if not purchase_token:
        raise ConfigError(
            "empty purchase token: pass it as PURCHASE_TOKEN or on stdin with -"
        )
    options = VerifyOptions(
        package=package,
        purchase_token=purchase_token,
        credentials=_credentials_source(credentials, service_account),
        product_id=product_id,
        api_endpoint=api_endpoint,
        timeout=timeout,
    )
    purchase = verify_purchase(options)  # errors carry their own exit codes
    _render(purchase, out)
    return ExitCode.OK if purchase.entitled else NOT_ENTITLED


def _credentials_source(credentials: Path | None, service_account: Path | None) -> Path:
    ctx = click.get_current_context()
    from_command_line = click.core.ParameterSource.COMMANDLINE
    if credentials and service_account:
        cred_flag = ctx.get_parameter_source("credentials") == from_command_line
        key_flag = ctx.get_parameter_source("service_account") == from_command_line
        if cred_flag == key_flag:
            raise ConfigError(
                "pass either --credentials or --service-account, not both"
            )
        return credentials if cred_flag else service_account
    return service_account or credentials or default_credentials_path()


def _render(purchase: Purchase, out: Output) -> None:
    from devkit.play.verify import SubscriptionSummary

    if out.json:
        out.result_json(purchase.document)
    elif isinstance(purchase, SubscriptionSummary):
        _render_subscription(purchase, out)
    else:
        _render_product(purchase, out)
    if not purchase.acknowledged:
        out.warn(
            "not acknowledged yet: Google refunds purchases that are not "
            "acknowledged within 3 days"
        )


def _render_subscription(sub: SubscriptionSummary, out: Output) -> None:
    renew = {True: "on", False: "off", None: "n/a (prepaid)"}[sub.auto_renew]
    lines = [
        f"entitled: {_yes(sub.entitled)}",
        f"state: {sub.state}",
        f"product: {', '.join(sub.product_ids) or '-'}",
        f"expires: {_when(sub.expiry)}",
        f"auto-renew: {renew}",
        f"acknowledged: {_yes(sub.acknowledged)}",
        f"test purchase: {_yes(sub.test_purchase)}",
    ]
    for line in lines:
        out.result(line)


def _render_product(prod: ProductSummary, out: Output) -> None:
    lines = [
        f"entitled: {_yes(prod.entitled)}",
        f"state: {prod.state}",
        f"product: {prod.product_id}",
        f"purchased: {_when(prod.purchased_at)}",
        f"consumed: {_yes(prod.consumed)}",
        f"acknowledged: {_yes(prod.acknowledged)}",
        f"test purchase: {_yes(prod.test_purchase)}",
    ]
    for line in lines:
        out.result(line)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
