"""Changing purchases: acknowledge and consume (androidpublisher v3).

`purchases.subscriptions.acknowledge`, `purchases.products.acknowledge` and
`purchases.products.consume`. All three are idempotent here: when Google
refuses one, devkit reads the purchase back, and a purchase already in the
asked-for state is a success (`already: true`), whatever Google answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devkit.play.api import PlayApi
from devkit.play.errors import PlayError, PurchaseNotFound, PurchaseStateConflict
from devkit.play.verify import Verdict, check_purchase


@dataclass(frozen=True)
class ActionResult:
    """What an acknowledge or consume did."""

    action: str  # "acknowledge" or "consume"
    kind: str  # "subscription" or "product"
    package: str
    purchase_token: str
    product_id: str
    already: bool  # it was acknowledged (consumed) before this call

    def to_json(self) -> dict[str, Any]:
        """The `--json` object."""
        return {
            "action": self.action,
            "kind": self.kind,
            "package": self.package,
            "purchase_token": self.purchase_token,
            "product_id": self.product_id,
            "already": self.already,
        }


def acknowledge(
    api: PlayApi,
    package: str,
    token: str,
    *,
    product_id: str | None = None,
    subscription_id: str | None = None,
    developer_payload: str | None = None,
) -> ActionResult:
    """Acknowledge a subscription (or, with product_id, a one-time product)."""
    body = {"developerPayload": developer_payload} if developer_payload else {}
    if product_id is not None:
        url = api.url(
            package,
            "purchases",
            "products",
            product_id,
            "tokens",
            f"{token}:acknowledge",
        )
        return _act(api, "acknowledge", url, body, package, token, product_id)
    if subscription_id is None:
        # The v1 acknowledge URL needs the subscription id; the purchase has it.
        verdict = check_purchase(api, package, token)
        if verdict.acknowledged:
            return _result("acknowledge", verdict, True)
        if not verdict.product_ids:
            raise PurchaseStateConflict(
                "the subscription has no line item to name its subscription id",
                code="no_line_items",
                hint="pass --subscription SUBSCRIPTION_ID",
            )
        subscription_id = verdict.product_ids[0]
    url = api.url(
        package,
        "purchases",
        "subscriptions",
        subscription_id,
        "tokens",
        f"{token}:acknowledge",
    )
    return _act(api, "acknowledge", url, body, package, token, None, subscription_id)


def consume(api: PlayApi, package: str, product_id: str, token: str) -> ActionResult:
    """Consume a one-time product so it can be bought again."""
    url = api.url(
        package, "purchases", "products", product_id, "tokens", f"{token}:consume"
    )
    return _act(api, "consume", url, {}, package, token, product_id)


def _act(
    api: PlayApi,
    action: str,
    url: str,
    body: dict[str, Any],
    package: str,
    token: str,
    product_id: str | None,
    subscription_id: str | None = None,
) -> ActionResult:
    what = f"product {product_id} of {package}" if product_id else package
    try:
        api.call("POST", url, package=package, what=what, body=body)
    except (PurchaseStateConflict, PurchaseNotFound) as refused:
        # Google may refuse a repeat: read the purchase back and decide.
        verdict = _read_back(api, package, token, product_id, refused)
        if _done(verdict, action):
            return _result(action, verdict, True)
        raise _why_not(action, verdict, refused) from None
    kind = "product" if product_id else "subscription"
    return ActionResult(
        action, kind, package, token, product_id or subscription_id or "", False
    )


def _read_back(
    api: PlayApi,
    package: str,
    token: str,
    product_id: str | None,
    refused: PlayError,
) -> Verdict:
    try:
        return check_purchase(api, package, token, product_id, now=datetime.now(UTC))
    except PurchaseNotFound:
        raise refused from None


def _done(verdict: Verdict, action: str) -> bool:
    return bool(verdict.consumed) if action == "consume" else verdict.acknowledged


def _result(action: str, verdict: Verdict, already: bool) -> ActionResult:
    return ActionResult(
        action=action,
        kind=verdict.kind,
        package=verdict.package,
        purchase_token=verdict.purchase_token,
        product_id=verdict.product_ids[0] if verdict.product_ids else "",
        already=already,
    )


def _why_not(action: str, verdict: Verdict, refused: PlayError) -> PlayError:
    if verdict.state in ("PENDING",):
        hint = (
            f"a pending purchase cannot be {action}d until its payment completes; "
            "try again when play-verify says PURCHASED or ACTIVE"
        )
    elif not verdict.entitled:
        hint = (
            f"it does not entitle ({verdict.reason}), so there is nothing to {action}"
        )
    else:
        hint = refused.hint
    return PurchaseStateConflict(
        f"Google refused to {action} the purchase in state {verdict.state} "
        f"({refused.code or 'refused'})",
        code=refused.code,
        hint=hint,
    )
