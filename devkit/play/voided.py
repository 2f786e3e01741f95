"""Voided purchases: `purchases.voidedpurchases.list`, every page, once each.

Google filters `startTime`/`endTime` on when its systems saw a purchase as
voided (not `voidedTimeMillis`), keeps 30 days, and pages with
`tokenPagination.nextPageToken`. `list_voided` follows the pages to the end;
`voided_since` remembers, in a state file written atomically after the last
page, where the window ended, so the next run starts there and a cron job
sees each refund once (at least once if it dies between output and state).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devkit.errors import ConfigError, WriteError
from devkit.fileio import atomic_write
from devkit.play.api import PlayApi

RETENTION = timedelta(days=30)  # Google refuses an older startTime
# endTime may not be later than Google's clock: stay a minute behind ours.
CLOCK_MARGIN = timedelta(minutes=1)
VOIDED_REASONS = {
    0: "other",
    1: "remorse",
    2: "not_received",
    3: "defective",
    4: "accidental_purchase",
    5: "fraud",
    6: "friendly_fraud",
    7: "chargeback",
    8: "unacknowledged_purchase",
}
VOIDED_SOURCES = {0: "user", 1: "developer", 2: "google"}
STATE_VERSION = 1


@dataclass(frozen=True)
class VoidedRun:
    """What one `voided_since` run listed and where the next one starts."""

    count: int
    start: datetime
    end: datetime
    skipped_repeats: int
    gap: bool  # the saved window ended more than 30 days ago: some may be lost


def list_voided(
    api: PlayApi,
    package: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    include_subscriptions: bool = True,
) -> Iterator[dict[str, Any]]:
    """Every voided purchase in the window, following nextPageToken to the end."""
    url = api.url(package, "purchases", "voidedpurchases")
    params: dict[str, str] = {"type": "1" if include_subscriptions else "0"}
    if start is not None:
        params["startTime"] = str(_millis(start))
    if end is not None:
        params["endTime"] = str(_millis(end))
    seen_tokens: set[str] = set()
    while True:
        page = api.call("GET", url, package=package, what=package, params=params)
        for record in page.get("voidedPurchases") or []:
            if isinstance(record, dict):
                yield described(record)
        next_token = (page.get("tokenPagination") or {}).get("nextPageToken")
        if not next_token or next_token in seen_tokens:
            return  # the last page (or a server repeating itself)
        seen_tokens.add(next_token)
        # With a page token Google ignores the window; send only the token.
        params = {"token": str(next_token)}


def described(record: dict[str, Any]) -> dict[str, Any]:
    """Google's record plus readable names for its reason and source codes."""
    out = dict(record)
    out["voidedReasonName"] = VOIDED_REASONS.get(record.get("voidedReason", -1))
    out["voidedSourceName"] = VOIDED_SOURCES.get(record.get("voidedSource", -1))
    return out


def voided_since(
    api: PlayApi,
    package: str,
    state_file: Path,
    emit: Callable[[dict[str, Any]], None],
    *,
    now: datetime | None = None,
    include_subscriptions: bool = True,
) -> VoidedRun:
    """List what was voided since the last run recorded in `state_file`."""
    moment = now or datetime.now(UTC)
    end = moment - CLOCK_MARGIN
    oldest = moment - RETENTION + CLOCK_MARGIN
    state = _read_state(state_file, package, include_subscriptions)
    gap = False
    if state is None:
        start, previous_keys = oldest, set()
    else:
        start = datetime.fromtimestamp(state["end_time_millis"] / 1000, UTC)
        previous_keys = set(state.get("last_keys") or [])
        if start < oldest:
            start, gap = oldest, True
    keys: list[str] = []
    skipped = 0
    for record in list_voided(
        api, package, start=start, end=end, include_subscriptions=include_subscriptions
    ):
        key = _key(record)
        if key in previous_keys:
            skipped += 1  # on the boundary of the last window: already seen
            continue
        emit(record)
        keys.append(key)
    _write_state(state_file, package, include_subscriptions, end, keys)
    return VoidedRun(len(keys), start, end, skipped, gap)


def _key(record: dict[str, Any]) -> str:
    return "|".join(
        str(record.get(k, ""))
        for k in ("purchaseToken", "orderId", "voidedTimeMillis", "voidedQuantity")
    )


def _read_state(
    path: Path, package: str, include_subscriptions: bool
) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(
            f"cannot read the state file {path}: {exc.strerror}"
        ) from None
    except ValueError:
        raise ConfigError(
            f"the state file {path} is not JSON: remove it to list the last 30 days"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("end_time_millis"), int):
        raise ConfigError(
            f"the state file {path} is not a play-voided state: remove it to list "
            "the last 30 days"
        )
    if doc.get("package") != package or doc.get("include_subscriptions") != (
        include_subscriptions
    ):
        raise ConfigError(
            f"the state file {path} belongs to {doc.get('package')} "
            f"(include_subscriptions={doc.get('include_subscriptions')}): use one "
            "state file per package and type"
        )
    return doc


def _write_state(
    path: Path,
    package: str,
    include_subscriptions: bool,
    end: datetime,
    keys: list[str],
) -> None:
    doc = {
        "version": STATE_VERSION,
        "package": package,
        "include_subscriptions": include_subscriptions,
        "end_time_millis": _millis(end),
        "end_time": end.isoformat().replace("+00:00", "Z"),
        "last_keys": keys,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, (json.dumps(doc, indent=2) + "\n").encode())
    except OSError as exc:
        raise WriteError(
            f"cannot write the state file {path}: {exc.strerror}; the records above "
            "will be listed again next run"
        ) from None


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
