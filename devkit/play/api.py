"""One authorized session to the Play Developer API (androidpublisher v3).

Every play command that calls Google goes through `PlayApi`: it loads the
credentials (a play-auth file or a service-account key), gets one access
token for the run, and maps every answer to a verdict or to an error with an
exit code. The mapping goes by HTTP status and OAuth error code, not by
whether google-auth would retry: a 502 page from Google's front end or a
proxy is "unavailable" (exit 6), never "credentials refused" (exit 4).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from google.auth import exceptions as google_exceptions
from google.auth.transport import requests as google_requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import credentials as user_credentials

from devkit.errors import ConfigError
from devkit.play import ANDROIDPUBLISHER_SCOPE
from devkit.play.errors import (
    CredentialsRejected,
    PlayError,
    PurchaseNotFound,
    PurchaseStateConflict,
    ServiceUnavailable,
)
from devkit.play.store import read_json

AUTH_HINT = (
    "run `devkit play-auth --client-secrets FILE` first, "
    "or pass --service-account KEY.json"
)
# RFC 6749 5.2 codes and Google's own that mean "try again later", not "refused".
_OAUTH_TRANSIENT = frozenset(
    {"temporarily_unavailable", "server_error", "internal_failure"}
)
_TRANSIENT_STATUS = frozenset({408, 429})
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


def publisher_url(endpoint: str, package: str, *parts: str) -> str:
    """`{endpoint}/androidpublisher/v3/applications/{package}/purchases/...`."""
    root = endpoint.rstrip("/")
    path = "/".join(quote(p, safe=":") for p in parts)
    return f"{root}/androidpublisher/v3/applications/{quote(package, safe='')}/{path}"


def load_credentials(path: Path) -> Any:
    """Credentials from a play-auth file (refresh token) or a service-account key."""
    doc = read_json(path, "credentials file", AUTH_HINT)
    if doc.get("type") == "service_account":
        # Imported here: it pulls in cryptography, a quarter second per run.
        from google.oauth2 import service_account

        try:
            return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                doc, scopes=[ANDROIDPUBLISHER_SCOPE]
            )
        except (ValueError, KeyError):
            raise ConfigError(
                f"{path} is not a usable service-account key: create a new JSON key "
                "in Google Cloud Console > IAM > Service accounts"
            ) from None
    missing = [
        k
        for k in ("refresh_token", "client_id", "client_secret", "token_uri")
        if not doc.get(k)
    ]
    if missing:
        raise ConfigError(f"{path} lacks {', '.join(missing)}: {AUTH_HINT}")
    # Built by hand: from_authorized_user_info would swap in Google's token URI.
    return user_credentials.Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=doc["refresh_token"],
        token_uri=doc["token_uri"],
        client_id=doc["client_id"],
        client_secret=doc["client_secret"],
        scopes=doc.get("scopes") or [ANDROIDPUBLISHER_SCOPE],
    )


def describe_body(data: bytes | str, content_type: str = "") -> str:
    """What a non-JSON body was, in a few words, never the body itself."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if not text.strip():
        return "an empty body"
    if "html" in content_type.lower() or text.lstrip().startswith("<"):
        found = _TITLE.search(text)
        title = " ".join(html.unescape(found[1]).split())[:80] if found else ""
        return f"an HTML page ({title!r})" if title else "an HTML page"
    return "a body that is not JSON"


class CheckedTransport(google_requests.Request):
    """google-auth's transport with a fixed timeout and a check of every answer.

    `check(url, status, data, content_type)` raises before google-auth reads
    the answer: google-auth takes a 502 HTML page or a 200 without
    access_token from the token endpoint for a refusal (or fails on a captive
    portal's HTML with a TypeError), and a certificate URL's HTML for keys.
    """

    def __init__(
        self, timeout: float, check: Callable[[str, int, bytes, str], None]
    ) -> None:
        super().__init__()
        self.request_timeout = timeout
        self.check = check

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        response = super().__call__(  # type: ignore[no-untyped-call]
            url, method, body, headers, timeout=self.request_timeout, **kwargs
        )
        content_type = response.headers.get("content-type", "")
        self.check(url, response.status, response.data, content_type)
        return response


def check_token_answer(url: str, status: int, data: bytes, content_type: str) -> None:
    """Raise ServiceUnavailable unless the answer is an OAuth token or OAuth error."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        raise ServiceUnavailable(
            f"the token endpoint {url} answered {status} with "
            f"{describe_body(data, content_type)}",
            code=f"http_{status}",
            hint="not an OAuth answer (an outage, a proxy or a captive portal): "
            "check the network and retry later",
        )
    error = str(doc.get("error") or "")
    if status >= 500 or status in _TRANSIENT_STATUS or error in _OAUTH_TRANSIENT:
        raise ServiceUnavailable(
            f"the token endpoint {url} failed ({_oauth_detail(status, doc)})",
            code=error or f"http_{status}",
            hint="retry later",
        )
    if status == 200 and not (
        isinstance(doc.get("access_token"), str) and doc["access_token"]
    ):
        raise ServiceUnavailable(
            f"the token endpoint {url} answered 200 without an access_token",
            code="no_access_token",
            hint="check the token_uri in the credentials file and the network; "
            "retry later",
        )


def _oauth_detail(status: int, doc: dict[str, Any]) -> str:
    error = str(doc.get("error") or "")
    description = str(doc.get("error_description") or "")
    detail = (
        f"{error}: {description}" if error and description else error or description
    )
    return f"{status} {detail}" if detail else str(status)


class PlayApi:
    """Calls to androidpublisher v3 with one set of credentials and access token."""

    def __init__(self, credentials: Path, endpoint: str, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._creds = load_credentials(credentials)
        self._token_request = CheckedTransport(timeout, check_token_answer)
        # No refresh-and-retry on 401: the token is fresh, so a 401 is a
        # permission answer.
        self._session = AuthorizedSession(  # type: ignore[no-untyped-call]
            self._creds, refresh_status_codes=(), auth_request=self._token_request
        )

    def url(self, package: str, *parts: str) -> str:
        """The URL of a method under applications/{package}/."""
        return publisher_url(self.endpoint, package, *parts)

    def refresh(self) -> None:
        """Get the access token now (a batch shares it across its threads)."""
        try:
            self._creds.refresh(self._token_request)
        except google_exceptions.RefreshError as exc:
            raise refresh_error(exc, self._creds) from None
        except google_exceptions.TransportError:
            raise self._unreachable_token_endpoint() from None

    def call(
        self,
        method: str,
        url: str,
        *,
        package: str,
        what: str,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One API call; its JSON object, or an error mapped to an exit code."""
        try:
            response = self._session.request(  # type: ignore[no-untyped-call]
                method, url, params=params, json=body, timeout=self.timeout
            )
        except google_exceptions.RefreshError as exc:
            raise refresh_error(exc, self._creds) from None
        except google_exceptions.TransportError:
            raise self._unreachable_token_endpoint() from None
        except requests.RequestException:
            raise ServiceUnavailable(
                f"cannot reach the Play Developer API at {self.endpoint}",
                code="unreachable",
                hint="check the network, or --api-endpoint / DEVKIT_PLAY_API_ENDPOINT",
            ) from None
        if response.status_code != 200:
            raise api_error(
                response.status_code,
                response.content,
                response.headers.get("content-type", ""),
                package=package,
                what=what,
            )
        if method != "GET" and not response.content.strip():
            return {}  # acknowledge and consume answer 200 with no body
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            kind = describe_body(
                response.content, response.headers.get("content-type", "")
            )
            raise ServiceUnavailable(
                f"the API at {self.endpoint} answered 200 with {kind} instead of a "
                "JSON object",
                code="not_json",
                hint="check --api-endpoint and the network (a proxy or captive "
                "portal?); retry later",
            )
        return document

    def close(self) -> None:
        """Close the HTTP connections."""
        self._session.close()  # type: ignore[no-untyped-call]

    def __enter__(self) -> PlayApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unreachable_token_endpoint(self) -> ServiceUnavailable:
        token_uri = str(
            getattr(self._creds, "_token_uri", None)
            or getattr(self._creds, "token_uri", "")
        )
        return ServiceUnavailable(
            f"cannot reach the token endpoint {token_uri}",
            code="unreachable",
            hint="check the network or proxy",
        )


def refresh_error(exc: google_exceptions.RefreshError, creds: Any) -> PlayError:
    """An OAuth error answer (4xx JSON) from the token endpoint, by its error code."""
    data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    error = str(data.get("error") or "")
    description = str(data.get("error_description") or "")
    detail = f"{error}: {description}" if description else error or "no error code"
    is_service_account = getattr(creds, "service_account_email", None) is not None
    if error == "invalid_grant" and is_service_account:
        return CredentialsRejected(
            f"the service-account key was refused ({detail})",
            code=error,
            hint="the key may be deleted or disabled, or this machine's clock is wrong",
        )
    if error == "invalid_grant":
        return CredentialsRejected(
            f"the stored refresh token was refused ({detail})",
            code=error,
            hint="it was revoked or expired (after 7 days while the consent screen is "
            "in Testing status); run devkit play-auth again",
        )
    if error in ("invalid_client", "unauthorized_client"):
        return CredentialsRejected(
            f"the OAuth client was refused ({detail})",
            code=error,
            hint="it was deleted or its secret reset; run devkit play-auth with a "
            "fresh client file",
        )
    if error == "invalid_scope":
        return CredentialsRejected(
            f"the token endpoint refused the scope ({detail})",
            code=error,
            hint="run devkit play-auth again with the androidpublisher scope",
        )
    return CredentialsRejected(
        f"the token endpoint refused the credentials ({detail})",
        code=error or "refused",
        hint="run devkit play-auth again, or check the service-account key",
    )


def api_error(
    status: int, body: bytes, content_type: str, *, package: str, what: str
) -> PlayError:
    """Map an androidpublisher error answer to an error the user can act on."""
    error = _google_error(body)
    if error is None:
        # Not Google's error format: a proxy, a load balancer, a captive portal.
        return ServiceUnavailable(
            f"the Play Developer API answered {status} with "
            f"{describe_body(body, content_type)}",
            code=f"http_{status}",
            hint="not Google's error format (an outage, a proxy or a captive "
            "portal): check the network and --api-endpoint; retry later",
        )
    message, reasons, details = error
    text = f" ({message})" if message else ""
    detail = f"{status} {message}" if message else str(status)
    if "SERVICE_DISABLED" in reasons or "accessNotConfigured" in reasons:
        url = next((d["activationUrl"] for d in details if "activationUrl" in d), "")
        code = (
            "SERVICE_DISABLED"
            if "SERVICE_DISABLED" in reasons
            else "accessNotConfigured"
        )
        return CredentialsRejected(
            f"{status} {code}: the Google Play Android Developer API is not enabled "
            "in the Cloud project of these credentials",
            code=code,
            hint=f"enable it at {url}"
            if url
            else "enable it in Cloud Console > APIs "
            "& Services > Library, then wait a few minutes",
        )
    reason = reasons[0] if reasons else ""
    if status == 401 and reason == "authError":
        return CredentialsRejected(
            f"401 authError{text}",
            code=reason,
            hint="the API refused the access token; the credentials lack the "
            "androidpublisher scope or come from another token server (check "
            "--api-endpoint); run devkit play-auth again",
        )
    if status in (401, 403):
        return CredentialsRejected(
            f"{status} {reason or 'permission denied'} for {package}{text}",
            code=reason or f"http_{status}",
            hint="the account must own the app or be invited in Play Console > Users "
            "and permissions with access to financial data and orders; new "
            "permissions can take up to about 24 hours to apply",
        )
    if status == 400 and reason in ("invalid", "invalidValue", "badRequest", ""):
        return PurchaseNotFound(
            f"invalid purchase token for {what} ({detail})",
            code=reason or "http_400",
            hint="pass the token from the app's Purchase.getPurchaseToken() unchanged",
        )
    if status == 404:
        return PurchaseNotFound(
            f"no purchase with this token in {what} ({detail})",
            code=reason or "http_404",
            hint="check the package name, the product id and that the token comes "
            "from this app",
        )
    if status == 410:
        return PurchaseNotFound(
            f"the purchase is no longer available ({detail})",
            code=reason or "http_410",
            hint="Google keeps expired subscriptions for 60 days; treat it as expired",
        )
    if 400 <= status < 500 and status not in _TRANSIENT_STATUS:
        return PurchaseStateConflict(
            f"the Play Developer API refused the request for {what} ({status} "
            f"{reason or 'error'}{text})",
            code=reason or f"http_{status}",
            hint="check the purchase's state with devkit play-verify",
        )
    return ServiceUnavailable(
        f"the Play Developer API answered {detail}",
        code=reason or f"http_{status}",
        hint="retry later",
    )


def _google_error(body: bytes) -> tuple[str, list[str], list[dict[str, str]]] | None:
    """Message, reasons (errors[].reason, details[].reason, status), metadata."""
    try:
        error = json.loads(body)["error"]
        if not isinstance(error, dict):
            return None
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None
    message = str(error.get("message") or "").rstrip(".")
    reasons: list[str] = []
    metadata: list[dict[str, str]] = []
    for item in [*(error.get("errors") or []), *(error.get("details") or [])]:
        if isinstance(item, dict):
            if item.get("reason"):
                reasons.append(str(item["reason"]))
            if isinstance(item.get("metadata"), dict):
                metadata.append({str(k): str(v) for k, v in item["metadata"].items()})
    if error.get("status"):
        reasons.append(str(error["status"]))
    return message, reasons, metadata
