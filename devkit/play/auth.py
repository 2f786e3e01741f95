"""`play-auth`: the authorization-code flow (PKCE; loopback or paste) to a token.

The flow is google-auth-oauthlib's `Flow` (it builds the URL with PKCE S256
and a random state, and exchanges the code through requests-oauthlib). The
loopback listener is our own instead of `InstalledAppFlow.run_local_server`,
which prints the URL on stdout, opens only `webbrowser` browsers, takes the
first request (a favicon) as the answer and cannot bind 127.0.0.1 while
sending a registered "localhost" URI.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import (  # type: ignore[import-untyped]
    OAuth2Error,
)

from devkit.errors import AuthError
from devkit.play import ANDROIDPUBLISHER_SCOPE
from devkit.play.api import check_token_answer
from devkit.play.client import ClientConfig, Redirect, load_client_config, plan_redirect
from devkit.play.loopback import LoopbackReceiver, RedirectTimeout
from devkit.play.store import write_private_json

Opener = Callable[[str], bool]
# Reads one pasted line within the given seconds; None at end of input;
# raises TimeoutError when nothing came in time.
PasteReader = Callable[[float], "str | None"]


@dataclass(frozen=True)
class AuthOptions:
    """What `devkit play-auth` was asked to do."""

    client_secrets: Path
    output: Path
    own_dir: bool = False  # output is in devkit's config folder: keep it 0700
    port: int | None = None
    scopes: tuple[str, ...] = (ANDROIDPUBLISHER_SCOPE,)
    paste: bool = False  # --no-browser: print the URL, read the answer on stdin
    interactive: bool = True  # stdin is a terminal
    timeout: float = 300.0


@dataclass(frozen=True)
class AuthResult:
    """Where the credentials went and what they allow (never the token itself)."""

    path: Path
    client_id: str
    client_type: str
    scopes: tuple[str, ...]
    redirect_uri: str


def _no_prompt(url: str, opened: bool) -> None:
    pass


def authorize(
    options: AuthOptions,
    *,
    opener: Opener = webbrowser.open,
    read_paste: PasteReader | None = None,
    on_url: Callable[[str, bool], None] = _no_prompt,
    clock: Callable[[], float] = time.monotonic,
) -> AuthResult:
    """Run the consent flow; store client id, secret and refresh token at output."""
    client = load_client_config(options.client_secrets)
    redirect = plan_redirect(client, options.port)
    deadline = clock() + options.timeout
    if options.paste:
        if read_paste is None:
            raise AuthError("--no-browser needs a way to read the pasted address")
        flow, code = _paste_flow(
            client, redirect, options, read_paste, on_url, deadline, clock
        )
    else:
        flow, code = _loopback_flow(
            client, redirect, options, opener, on_url, deadline, clock
        )
    token = _exchange(flow, code, client, options.scopes)
    refresh_token = token.get("refresh_token")
    if not refresh_token:
        raise AuthError(
            "Google returned no refresh token although prompt=consent and "
            "access_type=offline were sent: remove the app's access at "
            "https://myaccount.google.com/permissions and run devkit play-auth again"
        )
    scopes = tuple(options.scopes)
    document = {
        "type": "authorized_user",  # the layout google-auth and gcloud also read
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "refresh_token": refresh_token,
        "token_uri": client.token_uri,
        "scopes": list(scopes),
        "client_type": client.kind,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    write_private_json(options.output, document, own_dir=options.own_dir)
    return AuthResult(
        path=options.output,
        client_id=client.client_id,
        client_type=client.kind,
        scopes=scopes,
        redirect_uri=str(flow.redirect_uri),
    )


def _new_flow(
    client: ClientConfig, scopes: tuple[str, ...], redirect_uri: str
) -> tuple[Any, str, str]:
    flow = Flow.from_client_config(
        client.flow_config(), scopes=list(scopes), redirect_uri=redirect_uri
    )
    # PKCE S256 and a random state come from Flow; prompt=consent makes Google
    # issue a refresh token even when this account consented before.
    url, state = flow.authorization_url(access_type="offline", prompt="consent")
    return flow, str(url), str(state)


def _loopback_flow(
    client: ClientConfig,
    redirect: Redirect,
    options: AuthOptions,
    opener: Opener,
    on_url: Callable[[str, bool], None],
    deadline: float,
    clock: Callable[[], float],
) -> tuple[Any, str]:
    reserve_ipv6 = redirect.host == "localhost"
    with LoopbackReceiver(redirect.port, redirect.path, reserve_ipv6) as receiver:
        flow, url, state = _new_flow(
            client, options.scopes, redirect.uri(receiver.port)
        )
        receiver.expect_state(state)
        # The opener runs beside the listener: a console browser makes
        # webbrowser.open block until it exits, after the redirect is answered.
        threading.Thread(
            target=lambda: receiver.post(("opened", _open(opener, url))),
            name="devkit-browser",
            daemon=True,
        ).start()
        try:
            params = _await_redirect(receiver, url, options, on_url, deadline, clock)
        except RedirectTimeout:
            raise AuthError(
                _timeout_message(options.timeout, client, receiver.ignored)
            ) from None
    return flow, _code_from(params, state)


def _await_redirect(
    receiver: LoopbackReceiver,
    url: str,
    options: AuthOptions,
    on_url: Callable[[str, bool], None],
    deadline: float,
    clock: Callable[[], float],
) -> dict[str, str]:
    while True:
        kind, value = receiver.next_event(deadline, clock)
        if kind == "redirect":
            return dict(value)
        opened = bool(value)
        if not opened and not options.interactive:
            raise AuthError(
                "no browser could be opened and stdin is not a terminal: run "
                "`devkit play-auth --no-browser` in a terminal, or forward the port "
                "(ssh -L PORT:127.0.0.1:PORT) and pass --port PORT"
            )
        on_url(url, opened)


def _open(opener: Opener, url: str) -> bool:
    try:
        return bool(opener(url))
    except webbrowser.Error:
        return False


def _paste_flow(
    client: ClientConfig,
    redirect: Redirect,
    options: AuthOptions,
    read_paste: PasteReader,
    on_url: Callable[[str, bool], None],
    deadline: float,
    clock: Callable[[], float],
) -> tuple[Any, str]:
    # Nothing listens: the browser lands on an error page whose address holds
    # the code. Any port works for Desktop clients; web clients need theirs.
    port = redirect.port or _free_port()
    flow, url, state = _new_flow(client, options.scopes, redirect.uri(port))
    on_url(url, False)
    while True:
        remaining = deadline - clock()
        try:
            if remaining <= 0:
                raise TimeoutError
            line = read_paste(remaining)
        except TimeoutError:
            raise AuthError(
                f"nothing was pasted within {options.timeout:g} s: run devkit "
                "play-auth --no-browser again (or raise --timeout)"
            ) from None
        if line is None:
            raise AuthError(
                "stdin ended before an address was pasted: with --no-browser, paste "
                "the address the browser landed on (or its code) into a terminal"
            )
        if line.strip():
            return flow, parse_pasted(line, state)


def parse_pasted(text: str, state: str) -> str:
    """The code from a pasted redirect address (state checked) or a bare code."""
    text = text.strip()
    if "://" in text or text.startswith("?") or "code=" in text or "error=" in text:
        query = urlsplit(text).query if "://" in text else text.lstrip("?")
        params = {k: v[0] for k, v in parse_qs(query).items()}
        if "code" not in params and "error" not in params:
            raise AuthError(
                "the pasted address has no code: paste the whole address of the page "
                "the browser landed on after you clicked Allow"
            )
        return _code_from(params, state)
    # A bare code, maybe copied still percent-encoded from the address bar;
    # the state cannot be checked, but the code is useless without our PKCE
    # verifier and client secret.
    return unquote(text)


def _code_from(params: dict[str, str], state: str) -> str:
    error = params.get("error")
    if error == "access_denied":
        raise AuthError(
            "access was denied in the browser: run devkit play-auth again and click "
            "Allow, signed in as an account with access to the Play Console"
        )
    if error:
        raise AuthError(f"Google answered error={error}: run devkit play-auth again")
    if not secrets.compare_digest(params.get("state", ""), state):
        raise AuthError(
            "state mismatch: the answer did not come from this sign-in (an old "
            "browser tab or a forged link); run devkit play-auth again"
        )
    code = params.get("code")
    if not code:
        raise AuthError("the redirect carried no code: run devkit play-auth again")
    return code


def _exchange(
    flow: Any, code: str, client: ClientConfig, scopes: tuple[str, ...]
) -> dict[str, Any]:
    # Judge the answer by status before oauthlib parses it: a 502 page or a
    # captive portal is an outage (exit 6), not "the code was refused".
    flow.oauth2session.register_compliance_hook(
        "access_token_response", _judge_token_answer
    )
    try:
        token: dict[str, Any] = flow.fetch_token(code=code)
    except Warning as warning:
        token = _widened_scope_token(warning, scopes)
    except OAuth2Error as exc:
        raise AuthError(_token_error_message(exc, client, flow.redirect_uri)) from None
    except requests.RequestException:
        raise AuthError(
            f"cannot reach the token endpoint {client.token_uri}: check the network "
            "or proxy, and the token_uri in the client file"
        ) from None
    except ValueError:
        raise AuthError(
            f"the token endpoint {client.token_uri} did not answer with a token: "
            "check the token_uri in the client file"
        ) from None
    return token


def _judge_token_answer(response: requests.Response) -> requests.Response:
    check_token_answer(
        response.url,
        response.status_code,
        response.content,
        response.headers.get("content-type", ""),
    )
    return response


def _widened_scope_token(warning: Warning, scopes: tuple[str, ...]) -> dict[str, Any]:
    # oauthlib raises "Scope has changed" when Google grants more than asked
    # (earlier grants of the same client). More is fine; less is not.
    token = getattr(warning, "token", None)
    granted = set(getattr(warning, "new_scope", None) or [])
    if not isinstance(token, dict) or not set(scopes) <= granted:
        raise AuthError(
            f"Google granted {' '.join(sorted(granted)) or 'no scope'} instead of "
            f"{' '.join(scopes)}: tick every requested permission on the consent page"
        ) from None
    return token


def _token_error_message(
    exc: OAuth2Error, client: ClientConfig, redirect_uri: str
) -> str:
    error = getattr(exc, "error", "") or "error"
    description = getattr(exc, "description", "") or ""
    if error == "insecure_transport":
        return f"the token_uri must use https: {client.token_uri}"
    if error in ("invalid_client", "unauthorized_client"):
        return (
            f"the token endpoint refused the client ({error}): the client was deleted "
            "or its secret reset; download the client file again"
        )
    if error == "redirect_uri_mismatch":
        return (
            f"redirect_uri_mismatch: register {redirect_uri} exactly for client "
            f"{client.client_id} in Google Cloud Console"
        )
    if error == "invalid_grant":
        return (
            f"the authorization code was refused (invalid_grant: {description}): "
            "run devkit play-auth again and finish within a few minutes"
        )
    return f"the token endpoint refused the code ({error}: {description})"


def _timeout_message(timeout: float, client: ClientConfig, ignored: int) -> str:
    hint = (
        "if the browser showed Error 400: redirect_uri_mismatch, register the exact "
        "redirect URI for this web client (or use a Desktop app client)"
        if client.kind == "web"
        else "if the browser showed an error, fix it and run devkit play-auth again"
    )
    if ignored:
        hint += (
            f"; {ignored} answer(s) without this run's state were ignored (an old "
            "browser tab, or another program): use the URL this run printed"
        )
    return (
        f"no answer from the browser within {timeout:g} s: {hint} (or raise --timeout)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
