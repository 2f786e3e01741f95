"""`play-verify`: read a purchase from the Play Developer API and decide entitlement.

Subscriptions use `purchases.subscriptionsv2.get` (v1 `subscriptions.get` is
deprecated and shuts down in 2027); one-time products use
`purchases.products.get`. The answer becomes a `Verdict`: entitled or not,
and always why (`reason`), with what a backend must do about a linked
purchase token (`advice`). `check_many` checks a list with one access token
and a bounded number of requests in flight.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devkit.errors import DevkitError, ExitCode
from devkit.play import DEFAULT_API_ENDPOINT
from devkit.play.api import PlayApi
from devkit.play.errors import error_document

ENTITLING_STATES = frozenset({"ACTIVE", "IN_GRACE_PERIOD"})
_PRODUCT_STATES = {0: "PURCHASED", 1: "CANCELED", 2: "PENDING"}
_REASONS = {
    "ACTIVE": "active",
    "IN_GRACE_PERIOD": "in grace period: a renewal payment failed and Google is "
    "retrying it; keep access",
    "ON_HOLD": "on hold: the renewal payment still failed after the grace period",
    "PAUSED": "paused by the user",
    "PENDING": "pending: the payment has not completed",
    "EXPIRED": "expired",
    "PENDING_PURCHASE_CANCELED": "the pending purchase was canceled before payment",
    "PURCHASED": "purchased",
    "PRODUCT_CANCELED": "canceled (refunded, charged back or voided)",
    "PRODUCT_PENDING": "pending: the payment has not completed",
}
# The order in which a batch's exit code picks the worst result: a result
# that cannot be trusted (Google unreachable, credentials refused) beats one
# that can.
_SEVERITY = [
    ExitCode.OK,
    ExitCode.FAILURE,
    ExitCode.NOT_FOUND,
    ExitCode.CONFLICT,
    ExitCode.USAGE,
    ExitCode.CREDENTIALS_REJECTED,
    ExitCode.UNAVAILABLE,
    ExitCode.INTERNAL,
]


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
class Verdict:
    """What a backend acts on: entitled or not, why, and the facts behind it."""

    kind: str  # "subscription" or "product"
    package: str
    purchase_token: str
    entitled: bool
    reason: str
    state: str  # ACTIVE, IN_GRACE_PERIOD, CANCELED, ... / PURCHASED, CANCELED, PENDING
    product_ids: tuple[str, ...]
    expiry: datetime | None  # subscriptions: the latest line item's expiryTime
    acknowledged: bool
    test_purchase: bool
    linked_purchase_token: str | None = None
    advice: str | None = None  # what to do about the linked purchase token
    auto_renewing: bool | None = None  # None: a prepaid plan or a product
    external_account_ids: dict[str, str] | None = None
    purchased_at: datetime | None = None  # products
    consumed: bool | None = None  # products
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> ExitCode:
        """0 when entitled, 1 when not."""
        return ExitCode.OK if self.entitled else ExitCode.FAILURE

    def to_json(self) -> dict[str, Any]:
        """The `--json` object (documented in the README)."""
        return {
            "kind": self.kind,
            "package": self.package,
            "purchase_token": self.purchase_token,
            "entitled": self.entitled,
            "reason": self.reason,
            "state": self.state,
            "expiry": _iso(self.expiry),
            "product_ids": list(self.product_ids),
            "acknowledged": self.acknowledged,
            "test_purchase": self.test_purchase,
            "linked_purchase_token": self.linked_purchase_token,
            "advice": self.advice,
            "auto_renewing": self.auto_renewing,
            "external_account_ids": self.external_account_ids,
            "purchased_at": _iso(self.purchased_at),
            "consumed": self.consumed,
            "exit_code": int(self.exit_code),
            "raw": self.document,
        }


def is_entitled(state: str, expiry: datetime | None, now: datetime) -> bool:
    """Active, in grace period, or cancelled and not expired yet.

    Google defines CANCELED as "canceled but not expired yet": with no
    expiryTime on any line item its word stands (entitled); with one, the
    expiry decides, since the state may lag behind it.
    """
    if state in ENTITLING_STATES:
        return True
    return state == "CANCELED" and (expiry is None or expiry > now)


def verify_purchase(options: VerifyOptions, *, now: datetime | None = None) -> Verdict:
    """Fetch the purchase with the given credentials and judge it."""
    with PlayApi(options.credentials, options.api_endpoint, options.timeout) as api:
        return check_purchase(
            api, options.package, options.purchase_token, options.product_id, now=now
        )


def check_purchase(
    api: PlayApi,
    package: str,
    token: str,
    product_id: str | None = None,
    *,
    now: datetime | None = None,
) -> Verdict:
    """One purchase through an open PlayApi (shared by batches and notifications)."""
    if product_id is None:
        url = api.url(package, "purchases", "subscriptionsv2", "tokens", token)
        doc = api.call("GET", url, package=package, what=package)
        return summarize_subscription(package, doc, now or datetime.now(UTC), token)
    url = api.url(package, "purchases", "products", product_id, "tokens", token)
    what = f"product {product_id} of {package}"
    doc = api.call("GET", url, package=package, what=what)
    return summarize_product(package, product_id, doc, token)


@dataclass(frozen=True)
class BatchItem:
    """One line of a `--tokens` file."""

    line: int
    package: str
    token: str
    product_id: str | None = None


@dataclass(frozen=True)
class BatchResult:
    """A verdict, or the error that kept one from being reached."""

    item: BatchItem
    verdict: Verdict | None
    error: DevkitError | None

    @property
    def exit_code(self) -> ExitCode:
        """The verdict's code, or the error's."""
        if self.verdict is not None:
            return self.verdict.exit_code
        assert self.error is not None
        return ExitCode(self.error.exit_code)

    def to_json(self) -> dict[str, Any]:
        """A verdict object, or an error object naming the line and token."""
        if self.verdict is not None:
            return self.verdict.to_json()
        assert self.error is not None
        return {
            "line": self.item.line,
            "package": self.item.package,
            "purchase_token": self.item.token,
            **error_document(self.error),
        }


def check_many(
    api: PlayApi,
    items: Iterable[BatchItem],
    *,
    concurrency: int = 8,
    now: datetime | None = None,
) -> Iterator[BatchResult]:
    """Check each item with one access token, at most `concurrency` at a time.

    Results come in input order. A failure of the whole run (the token
    endpoint refused or unreachable) is raised before any request is made.
    """
    api.refresh()
    moment = now or datetime.now(UTC)

    def one(item: BatchItem) -> BatchResult:
        try:
            verdict = check_purchase(
                api, item.package, item.token, item.product_id, now=moment
            )
        except DevkitError as exc:
            return BatchResult(item, None, exc)
        return BatchResult(item, verdict, None)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        yield from pool.map(one, items)


def worst(codes: Iterable[int]) -> ExitCode:
    """The exit code of a batch: the most severe of its results (0 when empty)."""
    ranked = [ExitCode(c) for c in codes]
    if not ranked:
        return ExitCode.OK
    return max(ranked, key=lambda c: _SEVERITY.index(c) if c in _SEVERITY else 99)


def summarize_subscription(
    package: str, doc: dict[str, Any], now: datetime, token: str = ""
) -> Verdict:
    """Judge a SubscriptionPurchaseV2 document."""
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
    entitled = is_entitled(state, expiry, now)
    linked = doc.get("linkedPurchaseToken")
    linked = str(linked) if linked else None
    ids = doc.get("externalAccountIdentifiers")
    return Verdict(
        kind="subscription",
        package=package,
        purchase_token=token,
        entitled=entitled,
        reason=_subscription_reason(state, expiry, now),
        state=state or "UNSPECIFIED",
        product_ids=tuple(str(i.get("productId", "")) for i in items),
        expiry=expiry,
        acknowledged=doc.get("acknowledgementState")
        == "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED",
        test_purchase="testPurchase" in doc,
        linked_purchase_token=linked,
        advice=_linked_advice(linked, state, entitled, package),
        auto_renewing=auto_renew,
        external_account_ids=(
            {str(k): str(v) for k, v in ids.items()} if isinstance(ids, dict) else None
        ),
        document=doc,
    )


def _subscription_reason(state: str, expiry: datetime | None, now: datetime) -> str:
    if state == "CANCELED":
        if expiry is None:
            return (
                "canceled, not expired yet according to Google (no expiryTime on "
                "any line item)"
            )
        if expiry > now:
            return f"canceled; paid up to {_iso(expiry)}"
        return f"canceled and expired at {_iso(expiry)}"
    if state in _REASONS:
        return _REASONS[state]
    if not state:
        return "the answer carries no subscriptionState: not entitled"
    return f"unknown state {state}: not entitled until devkit knows it"


def _linked_advice(
    linked: str | None, state: str, entitled: bool, package: str
) -> str | None:
    if linked is None:
        return None
    if entitled:
        return (
            "this purchase replaces the linked one (upgrade, downgrade or re-signup): "
            "grant access through this token and stop granting it through the "
            "linked token, without revoking the user"
        )
    if state == "PENDING_PURCHASE_CANCELED":
        return (
            "the pending change was canceled; the user's existing subscription is the "
            f"linked token: check it (devkit play-verify {package} LINKED_TOKEN) "
            "before revoking anything"
        )
    return (
        "check the linked token before revoking: the user may still be entitled "
        f"through it (devkit play-verify {package} LINKED_TOKEN)"
    )


def summarize_product(
    package: str, product_id: str, doc: dict[str, Any], token: str = ""
) -> Verdict:
    """Judge a ProductPurchase: entitled when purchased, not cancelled or pending."""
    state = _PRODUCT_STATES.get(doc.get("purchaseState", -1), "UNSPECIFIED")
    millis = str(doc.get("purchaseTimeMillis") or "")
    purchased_at = (
        datetime.fromtimestamp(int(millis) / 1000, UTC) if millis.isdigit() else None
    )
    ids = {
        key: str(doc[key])
        for key in ("obfuscatedExternalAccountId", "obfuscatedExternalProfileId")
        if doc.get(key)
    }
    reason = _REASONS.get(
        "PURCHASED" if state == "PURCHASED" else f"PRODUCT_{state}",
        "the answer carries no known purchaseState: not entitled",
    )
    return Verdict(
        kind="product",
        package=package,
        purchase_token=token,
        entitled=state == "PURCHASED",
        reason=reason,
        state=state,
        product_ids=(product_id,),
        expiry=None,
        acknowledged=doc.get("acknowledgementState") == 1,
        test_purchase=doc.get("purchaseType") == 0,
        external_account_ids=ids or None,
        purchased_at=purchased_at,
        consumed=doc.get("consumptionState") == 1,
        document=doc,
    )


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (Z or offset, up to nine fraction digits) in UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)  # 3.11+: "Z" and any fraction length
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Google always sends an offset
    return moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
