"""A stand-in for Google's OAuth endpoints and the Play Developer API on 127.0.0.1.

Used by tests/play/ and bench/play.py; Google itself is never contacted. It
behaves like the real services in the ways devkit depends on:

- ``GET /o/oauth2/auth``: checks the client and the redirect URI (web clients:
  exact match with a registered URI; installed clients: any loopback port),
  else a 400 page with no redirect, as Google shows for
  ``redirect_uri_mismatch``. Otherwise a consent page with Allow and Deny
  buttons whose form redirects to the redirect URI with ``code`` and ``state``,
  or ``error=access_denied``.
- ``POST /token``: ``authorization_code`` (single-use codes, client id and
  secret by HTTP Basic or form body, the exact redirect URI, the PKCE S256
  verifier), ``refresh_token`` and the service-account JWT bearer grant. A
  refresh token is issued only for ``access_type=offline`` on first consent or
  with ``prompt=consent``.
- ``GET /androidpublisher/v3/applications/{pkg}/purchases/subscriptionsv2/tokens/{t}``
  and ``.../purchases/products/{id}/tokens/{t}``: the documents registered with
  `add_subscription`/`add_product`, 401 ``permissionDenied`` for a principal that
  does not own the package, 403 for a forbidden package, 400 for a malformed
  token, 404 for an unknown one and 410 for one expired too long ago.

`ScriptedBrowser` is a ``webbrowser``-style opener that fetches the consent
page with requests, clicks a button and follows the redirect to the loopback.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

PUBLISHER = "publisher@example.com"
SERVICE_ACCOUNT = "play-verifier@example-project.iam.gserviceaccount.com"
PACKAGE = "com.example.app"
OTHER_PACKAGE = "com.example.other"  # owned by someone else: 401
FORBIDDEN_PACKAGE = "com.example.forbidden"  # API access refused: 403
SCOPE = "https://www.googleapis.com/auth/androidpublisher"
PUSH_SERVICE_ACCOUNT = "play-rtdn-push@example-project.iam.gserviceaccount.com"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_API = re.compile(
    r"^/androidpublisher/v3/applications/(?P<pkg>[^/]+)/purchases/"
    r"(?:subscriptionsv2/tokens/(?P<sub>[^/]+)|products/(?P<prod>[^/]+)/tokens/(?P<ptok>[^/]+))$"
)
_APPS = re.compile(
    r"^/androidpublisher/v3/applications/(?P<pkg>[^/]+)/purchases/(?P<rest>.+)$"
)
_ACTION = re.compile(
    r"^(?P<kind>subscriptions|products)/(?P<id>[^/]+)/tokens/(?P<token>[^/:]+)"
    r":(?P<verb>acknowledge|consume)$"
)
_NOT_ACKNOWLEDGEABLE = (
    "The purchase is not in a valid state to perform the desired operation."
)


@dataclass
class Raw:
    """An answer sent as is: an HTML error page, a captive portal, a bare list."""

    status: int
    body: str
    content_type: str = "text/html; charset=UTF-8"


def html_error_page(status: int) -> Raw:
    """The HTML page Google's front end (or a proxy) sends for a 5xx."""
    title = {502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Error")
    body = (
        f"<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error {status} "
        f"({title})!!1</title><p><b>{status}.</b> <ins>That's an error.</ins>"
        "<p>The server encountered a temporary error. Please try again in 30 "
        "seconds. <ins>That's all we know.</ins></html>"
    )
    return Raw(status, body)


CAPTIVE_PORTAL = Raw(
    200,
    "<html><head><title>Hotel Wi-Fi - Sign in</title></head>"
    "<body><form action=/login>Room number <input name=room></form></body></html>",
)


def service_disabled_error(project: str = "123456789") -> Raw:
    """403 SERVICE_DISABLED in Google's current error format (details[].reason)."""
    url = (
        "https://console.developers.google.com/apis/api/"
        f"androidpublisher.googleapis.com/overview?project={project}"
    )
    message = (
        f"Google Play Android Developer API has not been used in project {project} "
        "before or it is disabled. Enable it by visiting "
        f"{url} then retry."
    )
    error = {
        "code": 403,
        "message": message,
        "status": "PERMISSION_DENIED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {
                    "service": "androidpublisher.googleapis.com",
                    "consumer": f"projects/{project}",
                    "activationUrl": url,
                },
            }
        ],
    }
    return Raw(403, json.dumps({"error": error}), "application/json; charset=UTF-8")


@dataclass
class OAuthClient:
    """A registered OAuth client: "installed" (Desktop app) or "web"."""

    client_id: str
    client_secret: str
    kind: str = "installed"
    redirect_uris: list[str] = field(default_factory=lambda: ["http://localhost"])


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str | None
    method: str | None
    scope: str
    refresh: bool
    issued: float
    used: bool = False


@dataclass
class _Refresh:
    client_id: str
    principal: str
    scope: str
    issued: float
    revoked: bool = False


def iso(ts: float) -> str:
    """RFC 3339 with milliseconds and a Z, as the Play Developer API writes it."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def subscription_document(
    state: str,
    *,
    now: float,
    expires_in: timedelta | None = timedelta(days=30),
    product_id: str = "premium_monthly",
    auto_renew: bool = True,
    acknowledged: bool = True,
    test: bool = False,
    linked: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """A `SubscriptionPurchaseV2` document in the shape Google returns."""
    order = "GPA.3312-5516-2291-70412"
    item: dict[str, Any] = {
        "productId": product_id,
        "autoRenewingPlan": {"autoRenewEnabled": auto_renew},
        "offerDetails": {"basePlanId": "monthly"},
        "latestSuccessfulOrderId": order,
    }
    if expires_in is not None:
        item["expiryTime"] = iso(now + expires_in.total_seconds())
    ack = "ACKNOWLEDGED" if acknowledged else "PENDING"
    doc: dict[str, Any] = {
        "kind": "androidpublisher#subscriptionPurchaseV2",
        "regionCode": "US",
        "startTime": iso(now - 40 * 86400),
        "subscriptionState": f"SUBSCRIPTION_STATE_{state}",
        "latestOrderId": order,
        "acknowledgementState": f"ACKNOWLEDGEMENT_STATE_{ack}",
        "lineItems": [item],
    }
    if test:
        doc["testPurchase"] = {}
    if linked:
        doc["linkedPurchaseToken"] = linked
    if account_id:
        doc["externalAccountIdentifiers"] = {"obfuscatedExternalAccountId": account_id}
    if state == "CANCELED":
        cancel = {"cancelTime": iso(now - 86400)}
        doc["canceledStateContext"] = {"userInitiatedCancellation": cancel}
    return doc


def product_document(
    purchase_state: int, *, now: float, test: bool = False
) -> dict[str, Any]:
    """A `ProductPurchase` document (0 purchased, 1 canceled, 2 pending)."""
    doc: dict[str, Any] = {
        "kind": "androidpublisher#productPurchase",
        "purchaseTimeMillis": str(int((now - 3600) * 1000)),
        "purchaseState": purchase_state,
        "consumptionState": 0,
        "orderId": "GPA.3312-5516-2291-80001",
        "acknowledgementState": 1,
        "regionCode": "US",
    }
    if test:
        doc["purchaseType"] = 0
    return doc


def developer_notification(
    kind: str,
    notification_type: int = 4,
    *,
    token: str = "active-token",
    product_id: str = "premium_monthly",
    package: str = PACKAGE,
    event_ms: int = 1_764_000_000_000,
) -> dict[str, Any]:
    """A DeveloperNotification as Google Play publishes it to Pub/Sub."""
    doc: dict[str, Any] = {
        "version": "1.0",
        "packageName": package,
        "eventTimeMillis": str(event_ms),
    }
    if kind == "subscription":
        doc["subscriptionNotification"] = {
            "version": "1.0",
            "notificationType": notification_type,
            "purchaseToken": token,
            "subscriptionId": product_id,
        }
    elif kind == "one_time_product":
        doc["oneTimeProductNotification"] = {
            "version": "1.0",
            "notificationType": notification_type,
            "purchaseToken": token,
            "sku": product_id,
        }
    elif kind == "voided_purchase":
        doc["voidedPurchaseNotification"] = {
            "purchaseToken": token,
            "orderId": "GPA.3312-5516-2291-70412",
            "productType": notification_type,
            "refundType": 1,
        }
    else:
        doc["testNotification"] = {"version": "1.0"}
    return doc


def push_body(notification: dict[str, Any], message_id: str = "136969346945") -> bytes:
    """The body of a Pub/Sub push request carrying `notification`."""
    data = base64.b64encode(json.dumps(notification).encode()).decode()
    envelope = {
        "message": {
            "attributes": {},
            "data": data,
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": "2026-12-02T03:00:00.000Z",
            "publish_time": "2026-12-02T03:00:00.000Z",
        },
        "subscription": "projects/example-project/subscriptions/play-rtdn-push",
    }
    return json.dumps(envelope).encode()


class FakeGoogle:
    """Google's OAuth server and the androidpublisher API, on 127.0.0.1:<random>."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.user = PUBLISHER  # the account "signed in" on the consent page
        self.clients: dict[str, OAuthClient] = {}
        self.service_accounts: dict[str, Any] = {}  # email -> public key
        self.owners: dict[str, set[str]] = {
            PACKAGE: {PUBLISHER, SERVICE_ACCOUNT},
            OTHER_PACKAGE: {"someone-else@example.com"},
        }
        self.forbidden: set[str] = {FORBIDDEN_PACKAGE}
        self.subscriptions: dict[tuple[str, str], dict[str, Any] | int | Raw] = {}
        self.products: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.issue_refresh_tokens = True  # False: a provider that omits it
        self.extra_granted_scope: str | None = None  # include_granted_scopes
        self.refresh_token_ttl: float | None = None  # 7 days in Testing status
        self.token_answer: Raw | None = None  # the token endpoint's outage or portal
        self.api_answer: Raw | None = None  # every API call answered with this
        self.api_delay = 0.0  # seconds each API answer takes (to see overlap)
        self.in_flight = 0
        self.max_in_flight = 0  # the most API calls served at the same time
        self.auth_requests: list[dict[str, str]] = []
        self.token_grants: list[str] = []
        self.api_calls: list[str] = []
        self.api_requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.developer_payloads: list[str] = []
        # Voided purchases: (record, ms Google's systems saw it voided, is a sub).
        self.voided: list[tuple[dict[str, Any], int, bool]] = []
        self.voided_page_size = 2  # maxResults caps it further
        self.certs_answer: Raw | None = None  # the certificate URL's outage
        self._push_keys: dict[str, Any] = {}  # kid -> (private key, PEM certificate)
        self._voided_pages: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self.issued_refresh_tokens: list[str] = []
        self._codes: dict[str, _Code] = {}
        self._pending: dict[str, dict[str, str]] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._access: dict[str, tuple[str, str, float]] = {}
        self._consented: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.port = 0  # 0: any free port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeGoogle:
        """Serve on a random loopback port in a daemon thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:41234."""
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def auth_uri(self) -> str:
        return f"{self.url}/o/oauth2/auth"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    @property
    def certs_url(self) -> str:
        """The OIDC token certificates, like googleapis.com/oauth2/v1/certs."""
        return f"{self.url}/oauth2/v1/certs"

    # -- Pub/Sub push ------------------------------------------------------

    def push_authorization(
        self,
        audience: str,
        *,
        email: str = PUSH_SERVICE_ACCOUNT,
        issuer: str = "https://accounts.google.com",
        lifetime: float = 3600,
        trusted: bool = True,
    ) -> str:
        """The Authorization header Pub/Sub sends: a Google-signed OIDC token.

        `trusted=False` signs with a key whose certificate is not served.
        """
        from google.auth import crypt, jwt

        kid, key_pem = self._push_key(trusted)
        signer = crypt.RSASigner.from_string(key_pem, key_id=kid)  # type: ignore[no-untyped-call]
        now = int(self.clock())
        claims = {
            "iss": issuer,
            "aud": audience,
            "azp": "1234567890",
            "sub": "1234567890",
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + int(lifetime),
        }
        token = jwt.encode(signer, claims).decode()  # type: ignore[no-untyped-call]
        return f"Bearer {token}"

    def _push_key(self, trusted: bool) -> tuple[str, str]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        name = "trusted" if trusted else "stranger"
        if name not in self._push_keys:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            subject = x509.Name(
                [x509.NameAttribute(NameOID.COMMON_NAME, "fake-google-push")]
            )
            start = datetime.now(UTC) - timedelta(days=1)
            cert = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(start)
                .not_valid_after(start + timedelta(days=30))
                .sign(key, hashes.SHA256())
            )
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
            self._push_keys[name] = (secrets.token_hex(20), pem, cert_pem)
        kid, pem, _ = self._push_keys[name]
        return kid, pem

    def _certs(self) -> tuple[int, dict[str, Any] | Raw]:
        if self.certs_answer is not None:
            return self.certs_answer.status, self.certs_answer
        if "trusted" not in self._push_keys:
            self._push_key(True)
        kid, _, cert_pem = self._push_keys["trusted"]
        return 200, {kid: cert_pem}

    # -- set-up helpers ----------------------------------------------------

    def add_client(
        self, kind: str = "installed", redirect_uris: list[str] | None = None
    ) -> OAuthClient:
        """Register a client with random credentials."""
        client = OAuthClient(
            client_id=f"{secrets.token_hex(6)}-test.apps.googleusercontent.com",
            client_secret=f"GOCSPX-{secrets.token_urlsafe(21)}",
            kind=kind,
            redirect_uris=redirect_uris or ["http://localhost"],
        )
        self.clients[client.client_id] = client
        return client

    def client_file(self, path: Path, client: OAuthClient) -> Path:
        """Write the client JSON as Google Cloud Console offers it for download."""
        body = {
            "client_id": client.client_id,
            "project_id": "example-project",
            "auth_uri": self.auth_uri,
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": f"{self.url}/oauth2/v1/certs",
            "client_secret": client.client_secret,
            "redirect_uris": client.redirect_uris,
        }
        path.write_text(json.dumps({client.kind: body}))
        return path

    def service_account_key(self, path: Path, email: str = SERVICE_ACCOUNT) -> Path:
        """Create an RSA key for `email`, trust it, and write the JSON key file."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.service_accounts[email] = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        body = {
            "type": "service_account",
            "project_id": "example-project",
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": email,
            "client_id": "1234567890",
            "auth_uri": self.auth_uri,
            "token_uri": self.token_uri,
        }
        path.write_text(json.dumps(body))
        return path

    def add_subscription(
        self, token: str, doc: dict[str, Any] | int | Raw, package: str = PACKAGE
    ) -> None:
        """Register a subscription document, or an HTTP status or Raw answer."""
        self.subscriptions[(package, token)] = doc

    def add_product(
        self, product_id: str, token: str, doc: dict[str, Any], package: str = PACKAGE
    ) -> None:
        """Register a one-time product purchase document."""
        self.products[(package, product_id, token)] = doc

    def add_voided(
        self,
        token: str,
        *,
        voided_at: float,
        seen_at: float | None = None,
        subscription: bool = False,
        reason: int = 1,
        source: int = 0,
    ) -> dict[str, Any]:
        """Record a voided purchase; `seen_at` (default voided_at) is what startTime
        and endTime filter on, as Google's systems do."""
        record = {
            "kind": "androidpublisher#voidedPurchase",
            "purchaseToken": token,
            "purchaseTimeMillis": str(int((voided_at - 86400) * 1000)),
            "voidedTimeMillis": str(int(voided_at * 1000)),
            "orderId": f"GPA.3312-5516-2291-{len(self.voided):05d}",
            "voidedSource": source,
            "voidedReason": reason,
        }
        seen = voided_at if seen_at is None else seen_at
        self.voided.append((record, int(seen * 1000), subscription))
        return record

    def seed_purchases(self) -> None:
        """The catalogue the tests and the benchmark use (see the names below)."""
        now = self.clock()
        day = timedelta(days=1)
        sub = subscription_document
        self.add_subscription("active-token", sub("ACTIVE", now=now))
        self.add_subscription(
            "grace-token", sub("IN_GRACE_PERIOD", now=now, expires_in=3 * day)
        )
        self.add_subscription(
            "canceled-token",
            sub("CANCELED", now=now, expires_in=10 * day, auto_renew=False),
        )
        self.add_subscription(
            "expired-token",
            sub("EXPIRED", now=now, expires_in=-5 * day, auto_renew=False),
        )
        self.add_subscription(
            "pending-token",
            sub("PENDING", now=now, expires_in=None, acknowledged=False),
        )
        self.add_subscription(
            "on-hold-token", sub("ON_HOLD", now=now, expires_in=-2 * day)
        )
        self.add_subscription(
            "paused-token", sub("PAUSED", now=now, expires_in=-1 * day)
        )
        self.add_subscription(
            "test-token", sub("ACTIVE", now=now, test=True, acknowledged=False)
        )
        self.add_subscription("gone-token", 410)
        self.add_product("coins_100", "product-token", product_document(0, now=now))
        self.add_product("coins_100", "product-canceled", product_document(1, now=now))
        self.add_product(
            "coins_100", "product-pending", product_document(2, now=now, test=True)
        )

    def all_secrets(self) -> list[str]:
        """Every client secret and token issued, for scanning output."""
        with self._lock:
            tokens = [*self._refresh, *self._access, *self._codes]
        return [c.client_secret for c in self.clients.values()] + tokens

    def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token, as the user can in their Google Account."""
        with self._lock:
            self._refresh[refresh_token].revoked = True

    # -- request handling (called from the handler threads) -----------------

    def _authorize_page(self, query: dict[str, str]) -> tuple[int, str]:
        self.auth_requests.append(dict(query))
        client = self.clients.get(query.get("client_id", ""))
        if client is None:
            return 401, _page(
                "Error 401: invalid_client", "The OAuth client was not found."
            )
        redirect = query.get("redirect_uri", "")
        if not _redirect_allowed(client, redirect):
            return 400, _page(
                "Error 400: redirect_uri_mismatch",
                f"You can't sign in to this app because it doesn't comply with "
                f"Google's OAuth 2.0 policy. redirect_uri={redirect}",
            )
        if query.get("response_type") != "code":
            return 400, _page(
                "Error 400: invalid_request", "response_type must be code"
            )
        request_id = secrets.token_urlsafe(12)
        with self._lock:
            self._pending[request_id] = dict(query)
        scope = html.escape(query.get("scope", ""))
        body = (
            f"<p>Signed in as {html.escape(self.user)}</p>"
            f"<p>devkit test app wants to: {scope}</p>"
            '<form method="post" action="/o/oauth2/approve">'
            f'<input type="hidden" name="request_id" value="{request_id}">'
            '<button type="submit" name="decision" value="allow" id="allow">'
            "Allow</button> "
            '<button type="submit" name="decision" value="deny" id="deny">'
            "Deny</button>"
            "</form>"
        )
        return 200, _page("Sign in - Google Accounts (stand-in)", body, raw=True)

    def _decide(self, form: dict[str, str]) -> str | None:
        with self._lock:
            query = self._pending.pop(form.get("request_id", ""), None)
        if query is None:
            return None
        redirect = query["redirect_uri"]
        params: dict[str, str] = {}
        if form.get("decision") == "allow":
            params["code"] = self._issue_code(query)
            params["scope"] = query.get("scope", "")
        else:
            params["error"] = "access_denied"
        if "state" in query:
            params["state"] = query["state"]
        return redirect + ("&" if "?" in redirect else "?") + urlencode(params)

    def _issue_code(self, query: dict[str, str]) -> str:
        key = (query["client_id"], self.user)
        offline = query.get("access_type") == "offline"
        first = key not in self._consented
        refresh = offline and (first or query.get("prompt") == "consent")
        code = "4/0A" + secrets.token_urlsafe(40)
        with self._lock:
            self._consented.add(key)
            self._codes[code] = _Code(
                client_id=query["client_id"],
                redirect_uri=query["redirect_uri"],
                challenge=query.get("code_challenge"),
                method=query.get("code_challenge_method"),
                scope=query.get("scope", ""),
                refresh=refresh and self.issue_refresh_tokens,
                issued=self.clock(),
            )
        return code

    def _token(
        self, form: dict[str, str], basic: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any] | Raw]:
        grant = form.get("grant_type", "")
        self.token_grants.append(grant)
        if self.token_answer is not None:
            return self.token_answer.status, self.token_answer
        if grant == JWT_BEARER:
            return self._jwt_grant(form.get("assertion", ""))
        client_id, secret = basic or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.client_secret, secret):
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        if grant == "authorization_code":
            return self._code_grant(client, form)
        if grant == "refresh_token":
            return self._refresh_grant(client, form)
        return 400, {"error": "unsupported_grant_type", "error_description": grant}

    def _code_grant(
        self, client: OAuthClient, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            code = self._codes.get(form.get("code", ""))
            if code is None or code.used or code.client_id != client.client_id:
                return 400, _invalid_grant("Malformed auth code.")
            code.used = True  # single use, even when the rest fails
        if self.clock() - code.issued > 600:
            return 400, _invalid_grant("Auth code expired.")
        if form.get("redirect_uri") != code.redirect_uri:
            return 400, {
                "error": "redirect_uri_mismatch",
                "error_description": "Bad Request",
            }
        if code.challenge is not None and not _pkce_ok(code, form.get("code_verifier")):
            return 400, _invalid_grant("Invalid code verifier.")
        scope = code.scope
        if self.extra_granted_scope:
            scope = f"{scope} {self.extra_granted_scope}"
        body = self._access_token(self.user, scope)
        if code.refresh:
            refresh = "1//0g" + secrets.token_urlsafe(48)
            with self._lock:
                self._refresh[refresh] = _Refresh(
                    client.client_id, self.user, scope, self.clock()
                )
            self.issued_refresh_tokens.append(refresh)
            body["refresh_token"] = refresh
        return 200, body

    def _refresh_grant(
        self, client: OAuthClient, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        record = self._refresh.get(form.get("refresh_token", ""))
        if record is None or record.revoked or record.client_id != client.client_id:
            return 400, _invalid_grant("Token has been expired or revoked.")
        ttl = self.refresh_token_ttl
        if ttl is not None and self.clock() - record.issued > ttl:
            return 400, _invalid_grant("Token has been expired or revoked.")
        wanted = set(form.get("scope", record.scope).split())
        if not wanted <= set(record.scope.split()):
            return 400, {"error": "invalid_scope", "error_description": "Bad Request"}
        return 200, self._access_token(record.principal, " ".join(sorted(wanted)))

    def _jwt_grant(self, assertion: str) -> tuple[int, dict[str, Any]]:
        claims = _verified_claims(assertion, self.service_accounts)
        if claims is None:
            return 400, _invalid_grant("Invalid JWT Signature.")
        # google-auth always names Google's endpoint as the audience.
        audiences = (self.token_uri, "https://oauth2.googleapis.com/token")
        if claims.get("aud") not in audiences or claims.get("exp", 0) < self.clock():
            return 400, _invalid_grant(
                "Invalid JWT: Token must be a short-lived token."
            )
        return 200, self._access_token(claims["iss"], claims.get("scope", ""))

    def _access_token(self, principal: str, scope: str) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(40)
        with self._lock:
            self._access[token] = (principal, scope, self.clock() + 3599)
        return {
            "access_token": token,
            "expires_in": 3599,
            "scope": scope,
            "token_type": "Bearer",
        }

    def _api(
        self,
        path: str,
        authorization: str,
        method: str = "GET",
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any] | Raw]:
        self.api_calls.append(path)
        self.api_requests.append((method, path, dict(query or {}), body))
        if self.api_answer is not None:
            return self.api_answer.status, self.api_answer
        apps = _APPS.match(path)
        if apps is None:
            return 404, _api_error(404, "Not Found", "notFound")
        refused = self._refuse(apps["pkg"], authorization)
        if refused is not None:
            return refused
        package = apps["pkg"]
        action = _ACTION.match(apps["rest"])
        if method == "POST" and action is not None:
            return self._act(package, action, body or {})
        if method == "GET" and apps["rest"] == "voidedpurchases":
            return self._voided_page(package, query or {})
        match = _API.match(path)
        if method != "GET" or match is None:
            return 404, _api_error(404, "Not Found", "notFound")
        if match["sub"] is not None:
            found: dict[str, Any] | int | Raw | None = self.subscriptions.get(
                (package, match["sub"])
            )
            token = match["sub"]
        else:
            found = self.products.get((package, match["prod"], match["ptok"]))
            token = match["ptok"]
        if isinstance(found, Raw):
            return found.status, found
        if isinstance(found, dict):
            return 200, found
        if found == 410:
            return 410, _api_error(
                410,
                "The subscription purchase is no longer available for query because "
                "it has been expired for too long.",
                "subscriptionPurchaseNoLongerAvailable",
            )
        if isinstance(found, int):
            return found, _api_error(found, "Backend Error", "backendError")
        if len(token) < 10:
            return 400, _api_error(400, "Invalid Value", "invalid")
        return 404, _api_error(
            404, "The purchase token was not found.", "purchaseTokenNotFound"
        )

    def _voided_page(
        self, package: str, query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """purchases.voidedpurchases.list: time window on "seen", token pagination."""
        page_token = query.get("token")
        if page_token is not None:
            if page_token not in self._voided_pages:
                return 400, _api_error(400, "Invalid pagination token.", "invalid")
            records, offset = self._voided_pages.pop(page_token)
        else:
            now_ms = int(self.clock() * 1000)
            try:
                start = int(query.get("startTime", now_ms - 30 * 86400 * 1000))
                end = int(query.get("endTime", now_ms))
            except ValueError:
                return 400, _api_error(400, "Invalid value for startTime", "invalid")
            if start < now_ms - 30 * 86400 * 1000 - 60_000:
                return 400, _api_error(
                    400, "Start time must not be older than 30 days.", "invalid"
                )
            if end > now_ms or start > end:
                return 400, _api_error(400, "Invalid time range.", "invalid")
            both = query.get("type") == "1"
            records = [
                dict(r)
                for r, seen, is_sub in self.voided
                if start <= seen <= end and (both or not is_sub)
            ]
            offset = 0
        size = min(self.voided_page_size, int(query.get("maxResults", 1000)))
        page = records[offset : offset + size]
        doc: dict[str, Any] = {}
        if page:
            doc["voidedPurchases"] = page
            doc["pageInfo"] = {
                "totalResults": len(records),
                "resultPerPage": size,
                "startIndex": offset,
            }
        if offset + size < len(records):
            next_token = secrets.token_urlsafe(12)
            self._voided_pages[next_token] = (records, offset + size)
            doc["tokenPagination"] = {"nextPageToken": next_token}
        return 200, doc

    def _refuse(
        self, package: str, authorization: str
    ) -> tuple[int, dict[str, Any]] | None:
        principal = self._principal(authorization)
        if principal is None:
            return 401, _api_error(
                401, "Request had invalid authentication credentials.", "authError"
            )
        if package in self.forbidden:
            return 403, _api_error(
                403, "The caller does not have permission", "forbidden"
            )
        if principal not in self.owners.get(package, set()):
            return 401, _api_error(
                401,
                "The current user has insufficient permissions to perform the "
                "requested operation.",
                "permissionDenied",
            )
        return None

    def _act(
        self, package: str, action: re.Match[str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any] | Raw]:
        """acknowledge (subscriptions, products) and consume (products)."""
        token, verb = action["token"], action["verb"]
        if action["kind"] == "subscriptions":
            found = self.subscriptions.get((package, token))
            if verb == "consume":
                return 404, _api_error(404, "Not Found", "notFound")
        else:
            found = self.products.get((package, action["id"], token))
        if isinstance(found, Raw):
            return found.status, found
        if isinstance(found, int):
            return found, _api_error(found, "Backend Error", "backendError")
        if found is None:
            return 404, _api_error(
                404, "The purchase token was not found.", "purchaseTokenNotFound"
            )
        if action["kind"] == "subscriptions":
            return self._ack_subscription(found, action["id"], body)
        return self._act_on_product(found, verb, body)

    def _ack_subscription(
        self, doc: dict[str, Any], subscription_id: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        ids = [item.get("productId") for item in doc.get("lineItems", [])]
        if subscription_id not in ids:
            return 400, _api_error(
                400,
                "The subscription purchase token does not match the subscription ID.",
                "purchaseTokenDoesNotMatchSubscriptionId",
            )
        state = doc.get("subscriptionState", "")
        # Hostile on purpose: an already acknowledged purchase is refused like
        # a pending one, so devkit cannot rely on a 200 to be idempotent.
        if doc.get("acknowledgementState") == "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED" or (
            state.endswith(("PENDING", "EXPIRED", "PENDING_PURCHASE_CANCELED"))
        ):
            return 400, _api_error(400, _NOT_ACKNOWLEDGEABLE, "invalidPurchaseState")
        doc["acknowledgementState"] = "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED"
        self.developer_payloads.append(str(body.get("developerPayload", "")))
        return 200, {}

    def _act_on_product(
        self, doc: dict[str, Any], verb: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if doc.get("purchaseState") != 0:  # canceled or pending
            return 400, _api_error(400, _NOT_ACKNOWLEDGEABLE, "invalidPurchaseState")
        done = "consumptionState" if verb == "consume" else "acknowledgementState"
        if doc.get(done) == 1:  # hostile: a repeat is an error, as above
            return 400, _api_error(400, _NOT_ACKNOWLEDGEABLE, "invalidPurchaseState")
        doc[done] = 1
        if verb == "acknowledge":
            self.developer_payloads.append(str(body.get("developerPayload", "")))
        return 200, {}

    @contextmanager
    def _counting(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.api_delay:
                time.sleep(self.api_delay)
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def _principal(self, authorization: str) -> str | None:
        if not authorization.startswith("Bearer "):
            return None
        with self._lock:
            found = self._access.get(authorization[len("Bearer ") :])
        if found is None or found[2] < self.clock() or SCOPE not in found[1].split():
            return None
        return found[0]


def _redirect_allowed(client: OAuthClient, redirect: str) -> bool:
    if client.kind == "web":
        return redirect in client.redirect_uris
    # Desktop clients: any port on a loopback address (RFC 8252 section 7.3).
    parts = urlsplit(redirect)
    return parts.scheme == "http" and parts.hostname in (
        "127.0.0.1",
        "localhost",
        "::1",
    )


def _pkce_ok(code: _Code, verifier: str | None) -> bool:
    if not verifier or code.method != "S256":
        return False
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return secrets.compare_digest(expected, code.challenge or "")


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _verified_claims(assertion: str, keys: dict[str, Any]) -> dict[str, Any] | None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        header_b64, payload_b64, sig_b64 = assertion.split(".")
        claims: dict[str, Any] = json.loads(_b64decode(payload_b64))
        key = keys[claims["iss"]]
        signed = f"{header_b64}.{payload_b64}".encode()
        key.verify(_b64decode(sig_b64), signed, padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, KeyError, InvalidSignature):
        return None
    return claims


def _invalid_grant(description: str) -> dict[str, Any]:
    return {"error": "invalid_grant", "error_description": description}


def _api_error(code: int, message: str, reason: str) -> dict[str, Any]:
    errors = [{"message": message, "domain": "androidpublisher", "reason": reason}]
    return {"error": {"code": code, "message": message, "errors": errors}}


def _page(title: str, body: str, raw: bool = False) -> str:
    content = body if raw else f"<p>{html.escape(body)}</p>"
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{content}</body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGoogle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep test output clean

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/o/oauth2/auth":
            status, page = self.fake._authorize_page(query)
            self._send(status, page.encode(), "text/html; charset=utf-8")
        elif parts.path == "/oauth2/v1/certs":
            self._send_doc(*self.fake._certs())
        else:
            auth = self.headers.get("Authorization", "")
            with self.fake._counting():
                status, doc = self.fake._api(parts.path, auth, "GET", query)
            self._send_doc(status, doc)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        path = urlsplit(self.path).path
        if path.startswith("/androidpublisher/"):
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._send_doc(
                    400, _api_error(400, "Invalid JSON payload", "parseError")
                )
                return
            auth = self.headers.get("Authorization", "")
            with self.fake._counting():
                status, doc = self.fake._api(path, auth, "POST", None, body)
            self._send_doc(status, doc)
            return
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        if path == "/o/oauth2/approve":
            location = self.fake._decide(form)
            if location is None:
                self._send(
                    400, _page("Error 400", "Unknown request").encode(), "text/html"
                )
                return
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/token":
            status, doc = self.fake._token(form, self._basic())
            self._send_doc(status, doc)
        else:
            self._send(404, b"{}", "application/json")

    def _basic(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        from urllib.parse import unquote_plus

        return unquote_plus(user), unquote_plus(password)

    def _send_doc(self, status: int, doc: dict[str, Any] | Raw) -> None:
        if isinstance(doc, Raw):
            self._send(status, doc.body.encode(), doc.content_type)
        else:
            body = json.dumps(doc).encode()
            self._send(status, body, "application/json; charset=UTF-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class ScriptedBrowser:
    """A ``webbrowser``-style opener that clicks Allow or Deny with requests.

    Called with the authorization URL, it returns True at once (like
    ``webbrowser.open``) and works in a thread, because the redirect it
    follows is answered by the flow that called it.
    """

    decision: str = "allow"
    rewrite_redirect: Callable[[str], str] | None = None  # tamper with the callback
    opened: list[str] = field(default_factory=list)
    consent_status: int | None = None
    redirect_url: str | None = None
    landing_status: int | None = None
    landing_text: str = ""
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    timeout: float = 10  # per request, the redirect's answer included

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        self._thread = threading.Thread(target=self.visit, args=(url,), daemon=True)
        self._thread.start()
        return True

    def wait(self, timeout: float = 10) -> None:
        """Wait for the scripted clicks to finish; re-raise what went wrong."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error

    def visit(self, url: str) -> None:
        """Consent and follow the redirect, here and now (what a browser does)."""
        try:
            with _session() as http:
                page = http.get(url, timeout=self.timeout)
                self.consent_status = page.status_code
                found = re.search(r'name="request_id" value="([^"]+)"', page.text)
                if page.status_code != 200 or found is None:
                    return  # an error page, as a real browser would show
                action = (
                    urlsplit(url)._replace(path="/o/oauth2/approve", query="").geturl()
                )
                form = {"request_id": found[1], "decision": self.decision}
                answer = http.post(
                    action, data=form, allow_redirects=False, timeout=self.timeout
                )
                location = answer.headers["Location"]
                if self.rewrite_redirect is not None:
                    location = self.rewrite_redirect(location)
                self.redirect_url = location
                landing = http.get(location, timeout=self.timeout)
                self.landing_status = landing.status_code
                self.landing_text = landing.text
        except BaseException as exc:  # noqa: BLE001 - reported by wait()
            self.error = exc


def consent_redirect(url: str, decision: str = "allow") -> str:
    """Click a button on the consent page; return the redirect address unfollowed."""
    with _session() as http:
        page = http.get(url, timeout=10)
        found = re.search(r'name="request_id" value="([^"]+)"', page.text)
        assert found is not None, f"no consent form ({page.status_code})"
        action = urlsplit(url)._replace(path="/o/oauth2/approve", query="").geturl()
        form = {"request_id": found[1], "decision": decision}
        answer = http.post(action, data=form, allow_redirects=False, timeout=10)
        return str(answer.headers["Location"])


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _session() -> Iterator[requests.Session]:
    http = requests.Session()
    http.trust_env = False  # never a proxy between the test and loopback
    try:
        yield http
    finally:
        http.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m testing.fake_google [--port N] [--client-file F]`: serve."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--client-file", type=Path, help="write a Desktop client here")
    args = parser.parse_args(argv)
    google = FakeGoogle()
    google.port = args.port
    google.start()
    google.seed_purchases()
    print(f"stand-in for Google on {google.url}", flush=True)
    if args.client_file:
        google.client_file(args.client_file, google.add_client())
        print(f"client file: {args.client_file}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        google.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
