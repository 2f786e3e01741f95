"""`devkit.s3stream.lambda_handler`: manifest items into S3 from a Lambda function.

The handler a Step Functions Distributed Map calls for each item (or each
ItemBatcher batch), and the same records `s3-stream --manifest` writes: the
items run through `batch.run_batch` with the memory budget of the function
(`default_budget` reads AWS_LAMBDA_FUNCTION_MEMORY_SIZE) and a deadline taken
from the context, so a slow source aborts its upload before Lambda kills the
function and leaves the upload behind.

A failed item raises `ItemsFailed` (Lambda reports it as the error type, the
records as its message: the failed ones whole, then one record of the done
ones' count and bytes), so Step Functions counts it against
ToleratedFailurePercentage and a retrier can tell it from Lambda's own
transient errors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Protocol

from devkit.aws import AwsOptions
from devkit.errors import DevkitError
from devkit.s3stream.batch import DONE, FAILED, run_batch, share_budget, warm_up
from devkit.s3stream.manifest import BadLine, Item, parse_item

# Step Functions keeps 32,768 characters of a Lambda error's Cause, which
# wraps the message in errorType, errorMessage (escaped: quotes double) and a
# stack trace: whole failure records take at most this much of it.
CAUSE_ROOM = 12_000
_FAILURE_KEYS = ("line", "status", "error_type", "exit_code")
# Stop this long before Lambda's own timeout (at most a tenth of the time
# left): enough to abort the upload and return the records.
DEADLINE_MARGIN = 20.0


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class ItemsFailed(DevkitError):
    """One or more items of the event failed; the message is their records."""


def lambda_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Stream one manifest item, or an ItemBatcher batch {"Items": [...]}, into S3.

    Returns the item's record (as a line of `--results`), or for a batch
    {"Items": [records]}. `BatchInput.prefix` (or `prefix`) is the
    s3://BUCKET/PREFIX/ for items that give a `key`.
    """
    batched = isinstance(event.get("Items"), list)
    raw = event["Items"] if batched else [event]
    prefix = _prefix(event)
    items = [_parse(n, data, prefix) for n, data in enumerate(raw, 1)]
    left = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + left - min(DEADLINE_MARGIN, left / 10)
    # The client and its first request first: they count in what jobs share.
    client = _client(len(items), deadline)
    warm_up(client, items[0].dest)
    share = share_budget(None, len(items), None)
    records: list[dict[str, Any]] = []
    run_batch(
        items,
        records.append,
        client=client,
        share=share,
        stream_options={"deadline": deadline},
    )
    records.sort(key=lambda r: int(r["line"]))
    if any(r["status"] == FAILED for r in records):
        raise ItemsFailed(json.dumps(_failed_batch(records), separators=(",", ":")))
    return {"Items": records} if batched else records[0]


def _failed_batch(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ItemsFailed's records: each failed one whole, then one for all the done
    ones, their count and bytes (what `devkit sfn results` counts). Step
    Functions keeps at most 32,768 characters of a Cause, so its length must
    not grow with the items that succeeded.
    """
    failed: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    room = CAUSE_ROOM
    for r in records:
        if r["status"] != FAILED:
            done.append(r)
            continue
        # Past the room, a failure keeps what counts it (line, cause), not
        # its URL and message.
        kept, text = r, json.dumps(r)
        if len(text) > room:
            kept = {k: r[k] for k in _FAILURE_KEYS}
            text = json.dumps(kept)
        room -= len(text) + 1
        failed.append(kept)
    if not done:
        return failed
    total = sum(int(r["bytes"]) for r in done)
    return [*failed, {"status": DONE, "items": len(done), "bytes": total}]


def _prefix(event: Mapping[str, Any]) -> str | None:
    batch_input = event.get("BatchInput")
    value = (batch_input or {}).get("prefix") if isinstance(batch_input, dict) else None
    value = value or event.get("prefix")
    if not isinstance(value, str) or not value:
        return None
    return value if value.endswith("/") else value + "/"


def _parse(number: int, data: Any, prefix: str | None) -> Item | BadLine:
    if not isinstance(data, dict):
        from devkit.errors import ConfigError

        return BadLine(number, None, None, ConfigError(f"item {number}: not an object"))
    return parse_item(number, data, prefix)


def _client(jobs: int, deadline: float) -> Any:
    from devkit.s3stream.api import make_s3_client

    # AWS_ENDPOINT_URL and the function's role come from the environment.
    return make_s3_client(AwsOptions(), min(jobs, 16) * 2, deadline)
