"""`devkit play-auth` and `devkit play-verify`."""

from __future__ import annotations

import functools
import io
import json
import os
import select
import sys
import time
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO, TypeVar
from urllib.parse import parse_qs, urlsplit

import click

from devkit.cli.options import output_options
from devkit.console import Output
from devkit.errors import ConfigError, DevkitError, ExitCode
from devkit.play import (
    ANDROIDPUBLISHER_SCOPE,
    CREDENTIALS_FILENAME,
    DEFAULT_API_ENDPOINT,
)

if TYPE_CHECKING:
    from devkit.play.verify import BatchItem, Verdict

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
  6    Google unavailable: network, 5xx, or a page that is not Google's
  7    Google refused the request for this purchase's state
  3    internal error; 130 interrupted
With --tokens: the worst of the results (6 > 4 > 2 > 7 > 5 > 1 > 0).
"""

TESTING_WARNING = (
    "if the app's OAuth consent screen is in Testing status, Google expires this "
    "refresh token after 7 days: publish the app (In production) to keep it"
)


F = TypeVar("F", bound=Callable[..., Any])


def credentials_options(func: F) -> F:
    """--credentials, --service-account, --api-endpoint -> credentials, api_endpoint."""

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
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        credentials: Path | None,
        service_account: Path | None,
        **kwargs: Any,
    ) -> Any:
        source = _credentials_source(credentials, service_account)
        return func(*args, credentials=source, **kwargs)

    return wrapper  # type: ignore[return-value]


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
@click.argument("package", required=False)
@click.argument("purchase_token", metavar="PURCHASE_TOKEN", required=False)
@click.option(
    "--product",
    "product_id",
    metavar="PRODUCT_ID",
    help="Check a one-time product (purchases.products) instead of a subscription.",
)
@click.option(
    "--tokens",
    "tokens_file",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE",
    help="Check many: one TOKEN or PACKAGE TOKEN a line, or JSONL objects "
    "(package, token, product_id); - for stdin. Prints JSONL in input order.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="With --tokens: requests in flight at once.",
)
@credentials_options
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds per HTTP request.",
)
@output_options
def play_verify_cmd(
    package: str | None,
    purchase_token: str | None,
    product_id: str | None,
    tokens_file: TextIO | None,
    concurrency: int,
    credentials: Path,
    api_endpoint: str,
    timeout: float,
    out: Output,
) -> int:
    """Check a Google Play subscription (or product) purchase; exit 0 if it entitles.

    Pass - as PURCHASE_TOKEN to read it from stdin (keeps it out of `ps`).
    """
    from devkit.play.verify import VerifyOptions, verify_purchase

    if tokens_file is not None:
        if purchase_token is not None:
            raise ConfigError("pass either PURCHASE_TOKEN or --tokens FILE, not both")
        return _verify_batch(
            tokens_file,
            package,
            product_id,
            credentials,
            api_endpoint,
            timeout,
            concurrency,
            out,
        )
    if package is None or purchase_token is None:
        raise ConfigError(
            "missing PACKAGE and PURCHASE_TOKEN: devkit play-verify PACKAGE TOKEN, "
            "or --tokens FILE"
        )
    if purchase_token == "-":
        purchase_token = sys.stdin.readline().strip()
    if not purchase_token:
        raise ConfigError(
            "empty purchase token: pass it as PURCHASE_TOKEN or on stdin with -"
        )
    options = VerifyOptions(
        package=package,
        purchase_token=purchase_token,
        credentials=credentials,
        product_id=product_id,
        api_endpoint=api_endpoint,
        timeout=timeout,
    )
    with json_errors(out):
        verdict = verify_purchase(options)
    render_verdict(verdict, out)
    return verdict.exit_code


def _verify_batch(
    source: TextIO,
    package: str | None,
    product_id: str | None,
    credentials: Path,
    api_endpoint: str,
    timeout: float,
    concurrency: int,
    out: Output,
) -> int:
    from devkit.play.api import PlayApi
    from devkit.play.verify import check_many, worst

    items = parse_token_lines(source, package, product_id)
    codes: list[int] = []
    with json_errors(out), PlayApi(credentials, api_endpoint, timeout) as api:
        for result in check_many(api, items, concurrency=concurrency):
            out.result_json_line(result.to_json())
            codes.append(result.exit_code)
    out.info(
        f"checked {len(codes)} purchase(s): "
        f"{sum(c == ExitCode.OK for c in codes)} entitled, "
        f"{sum(c == ExitCode.FAILURE for c in codes)} not, "
        f"{sum(c not in (ExitCode.OK, ExitCode.FAILURE) for c in codes)} errors"
    )
    return worst(codes)


def parse_token_lines(
    source: TextIO, package: str | None, product_id: str | None
) -> list[BatchItem]:
    """`TOKEN`, `PACKAGE TOKEN` or a JSON object per line; blank and # lines skipped."""
    from devkit.play.verify import BatchItem

    items = []
    for number, raw in enumerate(source, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                raise ConfigError(f"line {number} of --tokens is not JSON") from None
            fields = (
                doc.get("package") or package,
                doc.get("token") or doc.get("purchase_token"),
                doc.get("product_id") or product_id,
            )
        else:
            words = line.split()
            if len(words) > 2:
                raise ConfigError(
                    f"line {number} of --tokens has {len(words)} words: write TOKEN, "
                    "PACKAGE TOKEN, or a JSON object"
                )
            fields = (
                (words[0], words[1], product_id)
                if len(words) == 2
                else (package, words[0], product_id)
            )
        pkg, token, product = fields
        if not isinstance(pkg, str) or not pkg:
            raise ConfigError(
                f"line {number} of --tokens names no package: give PACKAGE as the "
                "argument or on the line"
            )
        if not isinstance(token, str) or not token:
            raise ConfigError(f"line {number} of --tokens has no token")
        items.append(BatchItem(number, pkg, token, product or None))
    return items


@contextmanager
def json_errors(out: Output) -> Iterator[None]:
    """With --json, an error is also one JSON object on stdout (error, code, ...)."""
    from devkit.play.errors import error_document

    try:
        yield
    except DevkitError as exc:
        if out.json:
            out.result_json(error_document(exc))
        raise


def render_verdict(verdict: Verdict, out: Output) -> None:
    """The verdict as `key: value` lines, or one JSON object with --json."""
    if out.json:
        out.result_json(verdict.to_json())
    else:
        for line in _verdict_lines(verdict):
            out.result(line)
    if verdict.entitled and not verdict.acknowledged:
        out.warn(
            "not acknowledged yet: Google refunds purchases that are not "
            "acknowledged within 3 days (devkit play-acknowledge)"
        )


def _verdict_lines(verdict: Verdict) -> list[str]:
    lines = [
        f"entitled: {_yes(verdict.entitled)}",
        f"reason: {verdict.reason}",
        f"state: {verdict.state}",
        f"product: {', '.join(verdict.product_ids) or '-'}",
    ]
    if verdict.kind == "subscription":
        renew = {True: "on", False: "off", None: "n/a (prepaid)"}[verdict.auto_renewing]
        lines += [f"expires: {_when(verdict.expiry)}", f"auto-renew: {renew}"]
    else:
        lines += [
            f"purchased: {_when(verdict.purchased_at)}",
            f"consumed: {_yes(bool(verdict.consumed))}",
        ]
    lines += [
        f"acknowledged: {_yes(verdict.acknowledged)}",
        f"test purchase: {_yes(verdict.test_purchase)}",
    ]
    if verdict.linked_purchase_token:
        lines += [
            f"linked purchase token: {verdict.linked_purchase_token}",
            f"advice: {verdict.advice}",
        ]
    return lines


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_API_OPTIONS_TIMEOUT = click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds per HTTP request.",
)


@click.command("play-acknowledge")
@click.argument("package")
@click.argument("purchase_token", metavar="PURCHASE_TOKEN")
@click.option(
    "--product",
    "product_id",
    metavar="PRODUCT_ID",
    help="A one-time product (purchases.products.acknowledge).",
)
@click.option(
    "--subscription",
    "subscription_id",
    metavar="SUBSCRIPTION_ID",
    help="The subscription's product id; default: read from the purchase.",
)
@click.option(
    "--developer-payload", metavar="TEXT", help="Stored with the acknowledgement."
)
@credentials_options
@_API_OPTIONS_TIMEOUT
@output_options
def play_acknowledge_cmd(
    package: str,
    purchase_token: str,
    product_id: str | None,
    subscription_id: str | None,
    developer_payload: str | None,
    credentials: Path,
    api_endpoint: str,
    timeout: float,
    out: Output,
) -> int:
    """Acknowledge a purchase (Google refunds it after 3 days otherwise); idempotent."""
    from devkit.play.api import PlayApi
    from devkit.play.purchases import acknowledge

    if product_id and subscription_id:
        raise ConfigError("pass either --product or --subscription, not both")
    token = _token_argument(purchase_token)
    with json_errors(out), PlayApi(credentials, api_endpoint, timeout) as api:
        result = acknowledge(
            api,
            package,
            token,
            product_id=product_id,
            subscription_id=subscription_id,
            developer_payload=developer_payload,
        )
    _render_action(result.to_json(), "acknowledged", out)
    return ExitCode.OK


@click.command("play-consume")
@click.argument("package")
@click.argument("purchase_token", metavar="PURCHASE_TOKEN")
@click.option(
    "--product",
    "product_id",
    metavar="PRODUCT_ID",
    required=True,
    help="The one-time product's id.",
)
@credentials_options
@_API_OPTIONS_TIMEOUT
@output_options
def play_consume_cmd(
    package: str,
    purchase_token: str,
    product_id: str,
    credentials: Path,
    api_endpoint: str,
    timeout: float,
    out: Output,
) -> int:
    """Consume a one-time product so the user can buy it again; idempotent."""
    from devkit.play.api import PlayApi
    from devkit.play.purchases import consume

    token = _token_argument(purchase_token)
    with json_errors(out), PlayApi(credentials, api_endpoint, timeout) as api:
        result = consume(api, package, product_id, token)
    _render_action(result.to_json(), "consumed", out)
    return ExitCode.OK


def _token_argument(token: str) -> str:
    if token == "-":
        token = sys.stdin.readline().strip()
    if not token:
        raise ConfigError(
            "empty purchase token: pass it as PURCHASE_TOKEN or on stdin with -"
        )
    return token


def _render_action(doc: dict[str, Any], done: str, out: Output) -> None:
    if out.json:
        out.result_json(doc)
    else:
        out.result(f"already {done}" if doc["already"] else done)


@click.command("play-voided")
@click.argument("package")
@click.option(
    "--since",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="STATE.json",
    help="Start where the last run with this state file ended, and record where "
    "this one ends (written atomically after the last page).",
)
@click.option(
    "--start-time",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Oldest time to list, UTC (at most 30 days ago). Default: 30 days ago.",
)
@click.option(
    "--end-time",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Newest time to list, UTC. Default: now.",
)
@click.option(
    "--products-only",
    is_flag=True,
    help="Only one-time products (type=0); default: subscriptions too (type=1).",
)
@credentials_options
@_API_OPTIONS_TIMEOUT
@output_options
def play_voided_cmd(
    package: str,
    state_file: Path | None,
    start_time: datetime | None,
    end_time: datetime | None,
    products_only: bool,
    credentials: Path,
    api_endpoint: str,
    timeout: float,
    out: Output,
) -> int:
    """List refunded, charged-back and voided purchases as JSONL."""
    from devkit.play.api import PlayApi
    from devkit.play.voided import list_voided, voided_since

    if state_file is not None and (start_time or end_time):
        raise ConfigError(
            "--since picks the window itself: drop --start-time/--end-time"
        )
    with json_errors(out), PlayApi(credentials, api_endpoint, timeout) as api:
        if state_file is not None:
            run = voided_since(
                api,
                package,
                state_file,
                out.result_json_line,
                include_subscriptions=not products_only,
            )
            if run.gap:
                out.warn(
                    "the last run ended more than 30 days ago; Google keeps 30 days, "
                    "so voids older than that were not listed"
                )
            out.info(
                f"{run.count} voided purchase(s) since {_when(run.start)}; next run "
                f"starts at {_when(run.end)} ({state_file})"
            )
            return ExitCode.OK
        count = 0
        for record in list_voided(
            api,
            package,
            start=start_time.replace(tzinfo=UTC) if start_time else None,
            end=end_time.replace(tzinfo=UTC) if end_time else None,
            include_subscriptions=not products_only,
        ):
            out.result_json_line(record)
            count += 1
    out.info(f"{count} voided purchase(s)")
    return ExitCode.OK


@click.group("play-notify")
def play_notify_group() -> None:
    """Google Play real-time developer notifications (Cloud Pub/Sub push)."""


@play_notify_group.command("decode")
@click.argument("body", type=click.File("rb"), default="-", metavar="[BODY_FILE]")
@click.option(
    "--authorization",
    envvar="DEVKIT_PLAY_PUSH_AUTHORIZATION",
    metavar="HEADER",
    help="The push request's Authorization header, 'Bearer <token>' "
    "(DEVKIT_PLAY_PUSH_AUTHORIZATION).",
)
@click.option(
    "--audience",
    envvar="DEVKIT_PLAY_PUSH_AUDIENCE",
    help="The audience set on the push subscription; verifies the OIDC token "
    "(DEVKIT_PLAY_PUSH_AUDIENCE).",
)
@click.option(
    "--service-account-email",
    metavar="EMAIL",
    help="Also require the token to belong to the push subscription's account.",
)
@click.option(
    "--certs-url",
    envvar="DEVKIT_PLAY_CERTS_URL",
    default="https://www.googleapis.com/oauth2/v1/certs",
    show_default=True,
    metavar="URL",
    help="Google's token certificates (DEVKIT_PLAY_CERTS_URL), e.g. a test server.",
)
@click.option(
    "--verify",
    "check_purchase",
    is_flag=True,
    help="Also check the purchase, as play-verify does; exit with its code.",
)
@credentials_options
@_API_OPTIONS_TIMEOUT
@output_options
def play_notify_decode_cmd(
    body: BinaryIO,
    authorization: str | None,
    audience: str | None,
    service_account_email: str | None,
    certs_url: str,
    check_purchase: bool,
    credentials: Path,
    api_endpoint: str,
    timeout: float,
    out: Output,
) -> int:
    """Verify and decode one Pub/Sub push body (a file, or stdin)."""
    from devkit.play.notify import PushCheck, decode_push

    if authorization and not audience:
        raise ConfigError(
            "--authorization needs --audience (the push subscription's audience) "
            "to verify the token"
        )
    check = (
        PushCheck(audience, service_account_email, certs_url, timeout)
        if audience
        else None
    )
    with json_errors(out):
        event = decode_push(body.read(), authorization=authorization, check=check)
        verdict = (
            _verdict_for(event, credentials, api_endpoint, timeout)
            if check_purchase
            else None
        )
    if check is None:
        out.warn("the push was not verified: pass --audience and --authorization")
    doc = event.to_json()
    if out.json:
        if check_purchase:
            doc["verdict"] = verdict.to_json() if verdict else None
        out.result_json(doc)
    else:
        for key in ("package", "kind", "notification_type", "purchase_token"):
            out.result(f"{key.replace('_', ' ')}: {doc[key] or '-'}")
        for key in ("subscription_id", "product_id", "order_id", "verified_by"):
            if doc[key]:
                out.result(f"{key.replace('_', ' ')}: {doc[key]}")
        if verdict is not None:
            for line in _verdict_lines(verdict):
                out.result(line)
    return verdict.exit_code if verdict is not None else ExitCode.OK


def _verdict_for(
    event: Any, credentials: Path, api_endpoint: str, timeout: float
) -> Verdict | None:
    from devkit.play.api import PlayApi
    from devkit.play.verify import check_purchase

    if event.purchase_token is None:
        return None  # a test notification
    product_id = event.product_id if event.kind == "one_time_product" else None
    voided_type = (event.notification or {}).get("voidedPurchaseNotification", {})
    if event.kind == "voided_purchase" and voided_type.get("productType") != 1:
        return None  # a voided one-time product names no product id to look up
    with PlayApi(credentials, api_endpoint, timeout) as api:
        verdict: Verdict = check_purchase(
            api, event.package, event.purchase_token, product_id
        )
    return verdict
