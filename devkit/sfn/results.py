"""`devkit sfn results`: read a Distributed Map's ResultWriter export.

The export is AWS's layout: `<Prefix>/<MapRunId>/manifest.json`, which lists
SUCCEEDED_n / FAILED_n / PENDING_n files, each a JSON array (or JSON Lines,
with WriterConfig OutputType JSONL) of child-execution records (`Input`,
`Output`, `Status`, `Error`, `Cause` ...) or, for succeeded children under
Transformation COMPACT/FLATTEN, of the children's outputs alone.

For the fanout machine a child is a batch of manifest items run by
`devkit.s3stream.lambda_handler`: its output is `{"Items": [records]}`, and a
failed child's Cause is the Lambda error whose message lists the failed
items' records (their `line` is the position in the batch). So the items that
failed are known one by one, and the retry manifest holds exactly those (plus
every item of a child that never ran or failed some other way).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devkit.errors import ConfigError, DevkitError, ExitCode

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

KINDS = ("SUCCEEDED", "FAILED", "PENDING")


class ExportNotFound(DevkitError):
    """No ResultWriter export where the user pointed."""

    exit_code = ExitCode.NOT_FOUND


class ExportUnreadable(DevkitError):
    """S3 refused or failed a read of the export."""

    exit_code = ExitCode.UNAVAILABLE


@dataclass
class Failed:
    """One manifest item that did not succeed: the item, and why."""

    item: Any
    cause: str  # e.g. "SourceError (exit 1)", "States.Timeout", "not run (PENDING)"
    error: str = ""


@dataclass
class Summary:
    """What a Map Run did, item by item."""

    manifest_uri: str
    map_run_arn: str
    children: Counter[str] = field(default_factory=Counter)  # by Status
    succeeded: int = 0
    bytes: int = 0
    failed: list[Failed] = field(default_factory=list)

    @property
    def items(self) -> int:
        return self.succeeded + len(self.failed)

    @property
    def ok(self) -> bool:
        return not self.failed

    def by_cause(self) -> Counter[str]:
        return Counter(f.cause for f in self.failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest_uri,
            "map_run_arn": self.map_run_arn,
            "items": self.items,
            "succeeded": self.succeeded,
            "failed": len(self.failed),
            "bytes": self.bytes,
            "children": dict(self.children),
            "failures_by_cause": dict(self.by_cause().most_common()),
            "failures": [
                {"item": f.item, "cause": f.cause, "error": f.error}
                for f in self.failed
            ],
        }


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key or prefix) of s3://BUCKET/KEY."""
    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise ConfigError(
            f"{uri!r} is not an S3 URI: give s3://BUCKET/PREFIX/ (the ResultWriter "
            "prefix) or s3://BUCKET/.../manifest.json"
        )
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def find_manifest(s3: S3Client, uri: str) -> tuple[str, str, bool]:
    """(bucket, key of manifest.json, chosen among several) for a URI."""
    bucket, key = parse_s3_uri(uri)
    if key.endswith("manifest.json"):
        return bucket, key, False
    prefix = key if not key or key.endswith("/") else key + "/"
    from botocore.exceptions import BotoCoreError, ClientError

    found: list[tuple[Any, str]] = []
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        )
        for page in pages:
            for obj in page.get("Contents", []):
                if (
                    obj["Key"].endswith("/manifest.json")
                    or obj["Key"] == "manifest.json"
                ):
                    found.append((obj["LastModified"], obj["Key"]))
    except (ClientError, BotoCoreError) as exc:
        raise _read_error(exc, f"s3://{bucket}/{prefix}") from None
    if not found:
        raise ExportNotFound(
            f"no ResultWriter export under s3://{bucket}/{prefix}: expected "
            "<prefix>/<MapRunId>/manifest.json; check the bucket and prefix"
        )
    found.sort()
    newest = [k for when, k in found if when == found[-1][0]]
    if len(newest) > 1:
        raise ConfigError(
            f"several Map Runs under s3://{bucket}/{prefix} ended at the same time: "
            f"give one manifest, e.g. s3://{bucket}/{newest[0]}"
        )
    return bucket, found[-1][1], len(found) > 1


def summarize(s3: S3Client, bucket: str, key: str) -> Summary:
    """Read manifest.json and every result file it lists."""
    manifest = _load_json(s3, bucket, key)
    if not isinstance(manifest, dict) or not isinstance(
        manifest.get("ResultFiles"), dict
    ):
        raise ConfigError(
            f"s3://{bucket}/{key} is not a ResultWriter manifest (no ResultFiles)"
        )
    summary = Summary(f"s3://{bucket}/{key}", str(manifest.get("MapRunArn", "")))
    files = manifest["ResultFiles"]
    data_bucket = str(manifest.get("DestinationBucket") or bucket)
    for kind in KINDS:
        for entry in files.get(kind) or []:
            file_key = entry.get("Key") if isinstance(entry, dict) else None
            if not isinstance(file_key, str):
                continue
            for value in _load_records(s3, data_bucket, file_key):
                _add(summary, kind, value)
    return summary


def retry_lines(summary: Summary) -> str:
    """JSONL of the items to run again, as they were in the original manifest."""
    return "".join(
        json.dumps(f.item, separators=(",", ":")) + "\n" for f in summary.failed
    )


# --- reading --------------------------------------------------------------------------


def _read_error(exc: Exception, where: str) -> DevkitError:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "error"))
        if code in ("NoSuchKey", "NoSuchBucket", "404"):
            return ExportNotFound(f"{where} does not exist ({code})")
        return ExportUnreadable(f"cannot read {where}: {code}")
    return ExportUnreadable(f"cannot read {where}: {type(exc).__name__}")


def _get(s3: S3Client, bucket: str, key: str) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise _read_error(exc, f"s3://{bucket}/{key}") from None


def _load_json(s3: S3Client, bucket: str, key: str) -> Any:
    body = _get(s3, bucket, key)
    try:
        return json.loads(body)
    except ValueError:
        raise ConfigError(f"s3://{bucket}/{key} is not JSON") from None


def _load_records(s3: S3Client, bucket: str, key: str) -> list[Any]:
    """A result file: a JSON array, or JSON Lines (OutputType JSONL)."""
    text = _get(s3, bucket, key).decode("utf-8", "replace")
    try:
        value = json.loads(text)
        return value if isinstance(value, list) else [value]
    except ValueError:
        pass
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                raise ConfigError(
                    f"s3://{bucket}/{key} line {number} is not JSON"
                ) from None
    return records


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and "Status" in value and "Input" in value


def _add(summary: Summary, kind: str, value: Any) -> None:
    if not _is_record(value):  # COMPACT/FLATTEN: a succeeded child's output alone
        summary.children["SUCCEEDED"] += 1
        _succeeded(summary, value)
        return
    status = str(value.get("Status"))
    summary.children[status] += 1
    items = _items_of(_maybe_json(value.get("Input")))
    if status == "SUCCEEDED":
        _succeeded(summary, _maybe_json(value.get("Output")))
        return
    if kind == "PENDING" or status in ("PENDING", "ABORTED"):
        reason = f"not run ({status})"
        summary.failed.extend(Failed(item, reason) for item in items)
        return
    error = str(value.get("Error") or status)
    records = _failed_records(error, value.get("Cause"))
    if records is None:  # the child failed as a whole: every item in it
        cause = str(value.get("Cause") or "")
        summary.failed.extend(Failed(item, error, _short(cause)) for item in items)
        return
    from devkit.s3stream.batch import FAILED  # the handler's record status

    failed_lines = {}
    for r in records:
        if not isinstance(r, dict):
            continue
        if r.get("status") == FAILED and isinstance(r.get("line"), int):
            failed_lines[r["line"]] = r
        elif r.get("status") != FAILED and isinstance(r.get("bytes"), int):
            # The done items' bytes, in one record (an older handler gave
            # only the failed ones: then the bytes are not known).
            summary.bytes += r["bytes"]
    for n, item in enumerate(items, 1):
        r = failed_lines.get(n)
        if r is None:
            summary.succeeded += 1  # done inside a batch that failed
        else:
            cause = f"{r.get('error_type', 'Error')} (exit {r.get('exit_code', 1)})"
            summary.failed.append(Failed(item, cause, str(r.get("error", ""))))


def _items_of(child_input: Any) -> list[Any]:
    """The manifest items a child carried: a batch's Items, or the one item."""
    if isinstance(child_input, dict) and isinstance(child_input.get("Items"), list):
        return list(child_input["Items"])
    return [child_input]


def _succeeded(summary: Summary, output: Any) -> None:
    records = _items_of(output)
    summary.succeeded += len(records)
    for r in records:
        if isinstance(r, dict) and isinstance(r.get("bytes"), int):
            summary.bytes += r["bytes"]


def _failed_records(error: str, cause: Any) -> list[Any] | None:
    """The handler's failed-item records from a Lambda error's Cause, if it is one."""
    payload = _maybe_json(cause)
    if not isinstance(payload, dict):
        return None
    message = _maybe_json(payload.get("errorMessage"))
    if error != "ItemsFailed" and payload.get("errorType") != "ItemsFailed":
        return None
    return message if isinstance(message, list) else None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
