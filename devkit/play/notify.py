"""Real-time developer notifications: a Pub/Sub push, verified and decoded.

Google Play publishes subscription, one-time-product and voided-purchase
notifications to a Cloud Pub/Sub topic; a push subscription POSTs each one to
your endpoint with an OIDC token in the Authorization header. `decode_push`
checks that token with google-auth's ID-token verification (signature against
Google's certificates, expiry, audience) plus the issuer and, if given, the
push service account, then decodes the base64 `DeveloperNotification` into a
typed `PlayEvent`. A notification only says that something changed: check
the purchase (play-verify's `check_purchase`) before acting on it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.auth import exceptions as google_exceptions

from devkit.play.api import CheckedTransport, describe_body
from devkit.play.errors import NotificationRejected, ServiceUnavailable

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
SUBSCRIPTION_TYPES = {
    1: "SUBSCRIPTION_RECOVERED",
    2: "SUBSCRIPTION_RENEWED",
    3: "SUBSCRIPTION_CANCELED",
    4: "SUBSCRIPTION_PURCHASED",
    5: "SUBSCRIPTION_ON_HOLD",
    6: "SUBSCRIPTION_IN_GRACE_PERIOD",
    7: "SUBSCRIPTION_RESTARTED",
    8: "SUBSCRIPTION_PRICE_CHANGE_CONFIRMED",
    9: "SUBSCRIPTION_DEFERRED",
    10: "SUBSCRIPTION_PAUSED",
    11: "SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED",
    12: "SUBSCRIPTION_REVOKED",
    13: "SUBSCRIPTION_EXPIRED",
    19: "SUBSCRIPTION_PRICE_CHANGE_UPDATED",
    20: "SUBSCRIPTION_PENDING_PURCHASE_CANCELED",
    22: "SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED",
}
ONE_TIME_PRODUCT_TYPES = {
    1: "ONE_TIME_PRODUCT_PURCHASED",
    2: "ONE_TIME_PRODUCT_CANCELED",
}
VOIDED_PRODUCT_TYPES = {1: "PRODUCT_TYPE_SUBSCRIPTION", 2: "PRODUCT_TYPE_ONE_TIME"}
REFUND_TYPES = {
    1: "REFUND_TYPE_FULL_REFUND",
    2: "REFUND_TYPE_QUANTITY_BASED_PARTIAL_REFUND",
}


@dataclass(frozen=True)
class PushCheck:
    """How to verify the push's OIDC token (the push subscription's settings)."""

    audience: str  # the audience configured on the push subscription
    service_account_email: str | None = None  # the push subscription's account
    certs_url: str = GOOGLE_CERTS_URL  # overridable for tests
    timeout: float = 30.0


@dataclass(frozen=True)
class PlayEvent:
    """One DeveloperNotification, typed."""

    package: str
    kind: str  # subscription, one_time_product, voided_purchase, test
    notification_type: str | None  # by name, e.g. SUBSCRIPTION_PURCHASED
    purchase_token: str | None
    subscription_id: str | None
    product_id: str | None  # a one-time product's sku
    order_id: str | None  # voided purchases
    event_time: datetime | None
    message_id: str | None
    verified_by: str | None  # the push token's email, when it was verified
    notification: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `--json` object of play-notify decode."""
        when = self.event_time
        return {
            "package": self.package,
            "kind": self.kind,
            "notification_type": self.notification_type,
            "purchase_token": self.purchase_token,
            "subscription_id": self.subscription_id,
            "product_id": self.product_id,
            "order_id": self.order_id,
            "event_time": when.isoformat().replace("+00:00", "Z") if when else None,
            "message_id": self.message_id,
            "verified_by": self.verified_by,
            "notification": self.notification,
        }


def decode_push(
    body: bytes | str | dict[str, Any],
    *,
    authorization: str | None = None,
    check: PushCheck | None = None,
) -> PlayEvent:
    """Verify (when `check` is given) and decode a Pub/Sub push request body.

    `authorization` is the request's Authorization header ("Bearer <jwt>").
    Raises NotificationRejected (exit 8) for anything that is not a verified
    Play notification, ServiceUnavailable (exit 6) when the certificates
    cannot be fetched.
    """
    verified_by = None
    if check is not None:
        claims = verify_push_token(authorization, check)
        verified_by = str(claims.get("email") or "") or None
    envelope = _envelope(body)
    message = envelope.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("data"), str):
        raise NotificationRejected(
            "the push body has no message.data",
            code="no_message_data",
            hint="pass the Pub/Sub push request body as it arrived",
        )
    notification = _decode_data(message["data"])
    event = to_event(notification)
    return PlayEvent(
        **{
            **event.__dict__,
            "message_id": _opt(message.get("messageId") or message.get("message_id")),
            "verified_by": verified_by,
        }
    )


def verify_push_token(authorization: str | None, check: PushCheck) -> dict[str, Any]:
    """The verified claims of the push's OIDC token; NotificationRejected if not."""
    from google.oauth2 import id_token

    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotificationRejected(
            "the push carries no bearer token",
            code="no_token",
            hint="enable authentication on the Pub/Sub push subscription and pass "
            "its Authorization header",
        )
    try:
        claims = dict(
            id_token.verify_token(
                token.strip(),
                CheckedTransport(check.timeout, _check_certs_answer),
                audience=check.audience,
                certs_url=check.certs_url,
            )
        )
    except google_exceptions.TransportError:
        raise ServiceUnavailable(
            f"cannot fetch the token certificates from {check.certs_url}",
            code="unreachable",
            hint="check the network; retry later",
        ) from None
    except (ValueError, google_exceptions.GoogleAuthError) as exc:
        raise NotificationRejected(
            f"the push token did not verify ({_first_line(exc)})",
            code="invalid_token",
            hint="check --audience against the push subscription's audience; a "
            "forged or replayed push is refused",
        ) from None
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise NotificationRejected(
            f"the push token was issued by {claims.get('iss')!r}, not Google",
            code="wrong_issuer",
        )
    expected = check.service_account_email
    if expected and (
        claims.get("email") != expected or not claims.get("email_verified")
    ):
        raise NotificationRejected(
            f"the push token belongs to {claims.get('email')!r}, not {expected}",
            code="wrong_email",
            hint="pass the push subscription's account as --service-account-email",
        )
    return claims


def to_event(notification: dict[str, Any]) -> PlayEvent:
    """Type a decoded DeveloperNotification."""
    package = notification.get("packageName")
    if not isinstance(package, str) or not package:
        raise NotificationRejected(
            "the message is not a Play DeveloperNotification (no packageName)",
            code="not_play",
        )
    millis = str(notification.get("eventTimeMillis") or "")
    when = datetime.fromtimestamp(int(millis) / 1000, UTC) if millis.isdigit() else None
    common: dict[str, Any] = {
        "package": package,
        "event_time": when,
        "message_id": None,
        "verified_by": None,
        "notification": notification,
        "subscription_id": None,
        "product_id": None,
        "order_id": None,
    }
    sub = notification.get("subscriptionNotification")
    if isinstance(sub, dict):
        return PlayEvent(
            **common
            | {
                "kind": "subscription",
                "notification_type": _named(
                    SUBSCRIPTION_TYPES, sub.get("notificationType")
                ),
                "purchase_token": _opt(sub.get("purchaseToken")),
                "subscription_id": _opt(sub.get("subscriptionId")),
            }
        )
    one = notification.get("oneTimeProductNotification")
    if isinstance(one, dict):
        return PlayEvent(
            **common
            | {
                "kind": "one_time_product",
                "notification_type": _named(
                    ONE_TIME_PRODUCT_TYPES, one.get("notificationType")
                ),
                "purchase_token": _opt(one.get("purchaseToken")),
                "product_id": _opt(one.get("sku")),
            }
        )
    voided = notification.get("voidedPurchaseNotification")
    if isinstance(voided, dict):
        return PlayEvent(
            **common
            | {
                "kind": "voided_purchase",
                "notification_type": _named(
                    VOIDED_PRODUCT_TYPES, voided.get("productType")
                ),
                "purchase_token": _opt(voided.get("purchaseToken")),
                "order_id": _opt(voided.get("orderId")),
            }
        )
    if isinstance(notification.get("testNotification"), dict):
        return PlayEvent(
            **common
            | {"kind": "test", "notification_type": "TEST", "purchase_token": None}
        )
    raise NotificationRejected(
        "the DeveloperNotification carries no notification devkit knows",
        code="unknown_notification",
        hint="update devkit; the raw message is in the push body",
    )


def _check_certs_answer(url: str, status: int, data: bytes, content_type: str) -> None:
    """A certificate answer that is not a JSON object is an outage, not bad keys."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if status != 200 or not isinstance(doc, dict):
        raise ServiceUnavailable(
            f"the certificate URL {url} answered {status} with "
            f"{describe_body(data, content_type)}",
            code=f"http_{status}",
            hint="check the network and --certs-url; retry later",
        )


def _envelope(body: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(body, dict):
        return body
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        raise NotificationRejected(
            "the push body is not a JSON object",
            code="not_json",
            hint="pass the Pub/Sub push request body as it arrived",
        )
    return doc


def _decode_data(data: str) -> dict[str, Any]:
    try:
        notification = json.loads(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        notification = None
    if not isinstance(notification, dict):
        raise NotificationRejected(
            "message.data is not a base64 JSON DeveloperNotification",
            code="bad_data",
        )
    return notification


def _named(names: dict[int, str], value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return names.get(value, f"UNKNOWN_{value}")
    return None


def _opt(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__
