"""`play-verify`: read a purchase from the Play Developer API and decide entitlement.

Subscriptions use `purchases.subscriptionsv2.get` (v1 `subscriptions.get` is
deprecated and shuts down in 2027); one-time products use
`purchases.products.get`. Requests go through google-auth's AuthorizedSession,
which refreshes the access token from the stored refresh token (or signs a
JWT for a service account) before the first call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from google.auth import exceptions as google_exceptions
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import credentials as user_credentials

from devkit.errors import ConfigError
from devkit.play import ANDROIDPUBLISHER_SCOPE, DEFAULT_API_ENDPOINT
from devkit.play.errors import CredentialsRejected, PurchaseNotFound, ServiceUnavailable
from devkit.play.store import read_json

ENTITLING_STATES = frozenset({"ACTIVE", "IN_GRACE_PERIOD"})
_AUTH_HINT = (
    "run `devkit play-auth --client-secrets FILE` first, "
    "or pass --service-account KEY.json"
)
_PRODUCT_STATES = {0: "PURCHASED", 1: "CANCELED", 2: "PENDING"}


@dataclass(frozen=True)
class VerifyOptions:
    """What `devkit play-verify` was asked to check."""

    package: str
    purchase_token: str
    credentials: Path  # stored by play-auth, or a service-account key
    product_id: str | None = None  # a one-time product instead of a subscription
    api_endpoint: str = DEFAULT_API_ENDPOINT
    timeout: float = 30.0


@dataclass(frozen=True)
class SubscriptionSummary:
    """The facts of a SubscriptionPurchaseV2 a server decides on."""

    package: str
    state: str  # ACTIVE, IN_GRACE_PERIOD, CANCELED, EXPIRED, PENDING, ...
    entitled: bool
    product_ids: tuple[str, ...]
    expiry: datetime | None  # the latest line item's expiryTime
    auto_renew: bool | None  # None: a prepaid plan
    acknowledged: bool
    test_purchase: bool
    document: dict[str, Any]


@dataclass(frozen=True)
class ProductSummary:
    """The facts of a one-time ProductPurchase."""

    package: str
    product_id: str
    state: str  # PURCHASED, CANCELED, PENDING
    entitled: bool
    purchased_at: datetime | None
    acknowledged: bool
    consumed: bool
    test_purchase: bool
    document: dict[str, Any]


Purchase = SubscriptionSummary | ProductSummary


def is_entitled(state: str, expiry: datetime | None, now: datetime) -> bool:
    """Active, in grace period, or cancelled but paid up to a future expiry."""
    if state in ENTITLING_STATES:
        return True
    return state == "CANCELED" and expiry is not None and expiry > now


def verify_purchase(options: VerifyOptions, *, now: datetime | None = None) -> Purchase:
    """Fetch the purchase with the given credentials and summarise it."""
    creds = load_credentials(options.credentials)
    document = _fetch(creds, purchase_url(options), options)
    moment = now or datetime.now(UTC)
    if options.product_id is not None:
        return summarize_product(options.package, options.product_id, document)
    return summarize_subscription(options.package, document, moment)


def purchase_url(options: VerifyOptions) -> str:
    """The API URL of the subscription or product purchase."""
    root = options.api_endpoint.rstrip("/")
    package = quote(options.package, safe="")
    base = f"{root}/androidpublisher/v3/applications/{package}/purchases"
    token = quote(options.purchase_token, safe="")
    if options.product_id is None:
        return f"{base}/subscriptionsv2/tokens/{token}"
    return f"{base}/products/{quote(options.product_id, safe='')}/tokens/{token}"


def load_credentials(path: Path) -> Any:
    """Credentials from a play-auth file (refresh token) or a service-account key."""
    doc = read_json(path, "credentials file", _AUTH_HINT)
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
        raise ConfigError(f"{path} lacks {', '.join(missing)}: {_AUTH_HINT}")
    # Built by hand: from_authorized_user_info would swap in Google's token URI.
    return user_credentials.Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=doc["refresh_token"],
        token_uri=doc["token_uri"],
        client_id=doc["client_id"],
        client_secret=doc["client_secret"],
        scopes=doc.get("scopes") or [ANDROIDPUBLISHER_SCOPE],
    )


def _fetch(creds: Any, url: str, options: VerifyOptions) -> dict[str, Any]:
    # No refresh-and-retry on 401: the token is fresh, so a 401 is a permission answer.
    session = AuthorizedSession(creds, refresh_status_codes=())  # type: ignore[no-untyped-call]
    try:
        response = session.get(url, timeout=options.timeout)
    except google_exceptions.RefreshError as exc:
        raise _refresh_error(exc, creds) from None
    except google_exceptions.TransportError:
        raise ServiceUnavailable(
            f"cannot reach the token endpoint {_token_uri(creds)}: "
            "check the network or proxy"
        ) from None
    except requests.RequestException:
        raise ServiceUnavailable(
            f"cannot reach the Play Developer API at {options.api_endpoint}: check the "
            "network, or --api-endpoint / DEVKIT_PLAY_API_ENDPOINT"
        ) from None
    finally:
        session.close()  # type: ignore[no-untyped-call]
    if response.status_code != 200:
        raise api_error(response.status_code, response.text, options)
    try:
        document: dict[str, Any] = response.json()
    except ValueError:
        raise ServiceUnavailable(
            f"the API at {options.api_endpoint} did not answer JSON"
        ) from None
    return document


def _token_uri(creds: Any) -> str:
    return str(getattr(creds, "_token_uri", None) or getattr(creds, "token_uri", ""))


def _refresh_error(exc: google_exceptions.RefreshError, creds: Any) -> Exception:
    data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    error = str(data.get("error") or str(exc.args[0] if exc.args else "").split(":")[0])
    description = str(data.get("error_description") or "")
    is_service_account = getattr(creds, "service_account_email", None) is not None
    if error == "invalid_grant" and is_service_account:
        return CredentialsRejected(
            f"the service-account key was refused (invalid_grant: {description}): the "
            "key may be deleted or disabled, or this machine's clock is wrong"
        )
    if error == "invalid_grant":
        return CredentialsRejected(
            f"the stored refresh token was refused (invalid_grant: {description}): it "
            "was revoked or expired (after 7 days while the consent screen is in "
            "Testing status); run devkit play-auth again"
        )
    if error in ("invalid_client", "unauthorized_client"):
        return CredentialsRejected(
            f"the OAuth client was refused ({error}): it was deleted or its secret "
            "reset; run devkit play-auth with a fresh client file"
        )
    if getattr(exc, "retryable", False):
        return ServiceUnavailable(
            f"the token endpoint failed ({_first_line(exc)}): retry later"
        )
    return CredentialsRejected(f"the token refresh failed ({_first_line(exc)})")


def api_error(status: int, body: str, options: VerifyOptions) -> Exception:
    """Map an androidpublisher error answer to an error the user can act on."""
    message, reason = _google_error(body)
    package = options.package
    if reason in ("accessNotConfigured", "SERVICE_DISABLED"):
        return CredentialsRejected(
            f"{status} {reason}: enable the Google Play Android Developer API in "
            "the Cloud project of these credentials (Cloud Console > APIs & Services)"
        )
    if status == 401 and reason == "authError":
        return CredentialsRejected(
            f"401 authError ({message}): the API refused the access token; the "
            "credentials lack the androidpublisher scope or come from another token "
            "server (check --api-endpoint); run devkit play-auth again"
        )
    if status in (401, 403):
        return CredentialsRejected(
            f"{status} {reason or 'permission denied'} for {package} ({message}): the "
            "account must own the app or be invited in Play Console > Users and "
            "permissions with access to financial data and orders; new permissions "
            "can take up to about 24 hours to apply"
        )
    what = (
        f"product {options.product_id} of {package}" if options.product_id else package
    )
    if status == 400:
        return PurchaseNotFound(
            f"invalid purchase token for {what} (400 {message}): pass the token from "
            "the app's Purchase.getPurchaseToken() unchanged"
        )
    if status == 404:
        return PurchaseNotFound(
            f"no purchase with this token in {what} (404 {message}): check the "
            "package name, the product id and that the token comes from this app"
        )
    if status == 410:
        return PurchaseNotFound(f"the purchase is no longer available (410 {message})")
    return ServiceUnavailable(
        f"the Play Developer API answered {status} {message}: retry later"
    )


def _google_error(body: str) -> tuple[str, str]:
    try:
        error = json.loads(body)["error"]
        message = str(error.get("message", ""))
        details = error.get("errors") or [{}]
        reason = str(details[0].get("reason", "") or error.get("status", ""))
        return message.rstrip("."), reason
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return body.strip().splitlines()[0][:200] if body.strip() else "", ""


def _first_line(exc: Exception) -> str:
    text = str(exc.args[0] if exc.args else exc)
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


def summarize_subscription(
    package: str, doc: dict[str, Any], now: datetime
) -> SubscriptionSummary:
    """Summarise a SubscriptionPurchaseV2 document and apply the entitlement rule."""
    state = str(doc.get("subscriptionState", "")).removeprefix("SUBSCRIPTION_STATE_")
    items = [i for i in doc.get("lineItems") or [] if isinstance(i, dict)]
    expiries = [
        t for t in (parse_time(i.get("expiryTime")) for i in items) if t is not None
    ]
    expiry = max(expiries) if expiries else None
    plans = [
        i["autoRenewingPlan"]
        for i in items
        if isinstance(i.get("autoRenewingPlan"), dict)
    ]
    auto_renew = any(bool(p.get("autoRenewEnabled")) for p in plans) if plans else None
    return SubscriptionSummary(
        package=package,
        state=state or "UNSPECIFIED",
        entitled=is_entitled(state, expiry, now),
        product_ids=tuple(str(i.get("productId", "")) for i in items),
        expiry=expiry,
        auto_renew=auto_renew,
        acknowledged=doc.get("acknowledgementState")
        == "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED",
        test_purchase="testPurchase" in doc,
        document=doc,
    )


def summarize_product(
    package: str, product_id: str, doc: dict[str, Any]
) -> ProductSummary:
    """Summarise a ProductPurchase: entitled when purchased, not cancelled/pending."""
    state = _PRODUCT_STATES.get(doc.get("purchaseState", -1), "UNSPECIFIED")
    millis = str(doc.get("purchaseTimeMillis") or "")
    purchased_at = (
        datetime.fromtimestamp(int(millis) / 1000, UTC) if millis.isdigit() else None
    )
    return ProductSummary(
        package=package,
        product_id=product_id,
        state=state,
        entitled=state == "PURCHASED",
        purchased_at=purchased_at,
        acknowledged=doc.get("acknowledgementState") == 1,
        consumed=doc.get("consumptionState") == 1,
        test_purchase=doc.get("purchaseType") == 0,
        document=doc,
    )


_FRACTION = re.compile(r"\.(\d+)")


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (Z or offset, any fraction digits) as aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = _FRACTION.sub(
        lambda m: "." + m[1][:6].ljust(6, "0"), value.replace("Z", "+00:00")
    )
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None
