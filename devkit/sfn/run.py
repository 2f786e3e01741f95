"""`devkit sfn run`: a manifest into S3, then an execution of a fanout machine.

Every line of the manifest is checked here first (s3-stream's own reader), so
a bad line is one error before anything is uploaded or started: on the
Distributed Map it would cost a child execution and a failed item. A JSONL
manifest is uploaded byte for byte (the machine's ItemReader reads JSONL); a
CSV one is uploaded as the JSONL of its items, each with its full `dest`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from devkit.aws import AwsOptions
from devkit.errors import ConfigError, DevkitError, UploadError
from devkit.s3stream.api import destination_prefix, parse_s3_url
from devkit.s3stream.manifest import BadLine, Item, read_manifest
from devkit.sfn.asl import load_definition
from devkit.sfn.deploy import find_machine

# What `sfn run` writes into the execution input; --input may not set them.
RUN_FIELDS = ("manifest", "prefix", "results")


@dataclass(frozen=True)
class RunOptions:
    """What `devkit sfn run` was asked for."""

    directory: Path
    name: str  # the state machine's name (sfn deploy's NAME)
    manifest: Path
    dest: str | None = None  # s3://BUCKET/PREFIX/ for items that give a `key`
    manifest_uri: str | None = None  # s3://BUCKET/KEY; default: beside the results
    results_uri: str | None = None  # s3://BUCKET/PREFIX; default: derived
    execution_name: str | None = None
    extra_input: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunStarted:
    """The execution started and where its manifest and results are."""

    execution_arn: str
    state_machine_arn: str
    manifest_uri: str
    results_uri: str
    items: int
    input: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The --no-wait --json document."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Manifest:
    """The checked manifest, as the bytes to upload."""

    data: bytes
    items: int
    first_bucket: str


def check_manifest(path: Path, dest: str | None) -> Manifest:
    """Every line an item, or one ConfigError naming the first line that is not."""
    prefix = destination_prefix(dest)
    items: list[Item] = []
    for item in read_manifest(path, prefix):
        if isinstance(item, BadLine):
            raise ConfigError(
                f"{path} line {item.line}: {_reason(item)}: fix the line "
                "(nothing was uploaded)"
            )
        items.append(item)
    raw = path.read_bytes()
    if raw.lstrip().startswith(b"{"):
        data = raw  # JSONL: uploaded as it is
    else:
        data = b"".join(_jsonl(item) for item in items)
    bucket = items[0].dest[len("s3://") :].split("/", 1)[0]
    return Manifest(data, len(items), bucket)


def _reason(bad: BadLine) -> str:
    text = str(bad.error)
    prefix = f"line {bad.line}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _jsonl(item: Item) -> bytes:
    doc: dict[str, Any] = {"url": item.url, "dest": item.dest}
    if item.headers:
        doc["headers"] = item.headers
    if item.content_type:
        doc["content_type"] = item.content_type
    if item.metadata:
        doc["metadata"] = item.metadata
    return json.dumps(doc, separators=(",", ":")).encode() + b"\n"


def check_fanout(directory: Path) -> None:
    """The project's machine reads its items from S3 (a Distributed Map)."""
    machine = directory / "statemachine.asl.json"
    if not machine.is_file():
        raise ConfigError(
            f"{directory} has no statemachine.asl.json: make one with "
            "`devkit sfn new fanout DIR`"
        )
    doc = load_definition(machine)
    states = doc.get("States")
    if not isinstance(states, dict) or not any(
        isinstance(s, dict) and s.get("Type") == "Map" and "ItemReader" in s
        for s in states.values()
    ):
        raise ConfigError(
            f"{machine} has no Map with an ItemReader: `sfn run` starts "
            "`sfn new fanout` machines; start others with "
            "`aws stepfunctions start-execution`"
        )


def start_run(
    opts: RunOptions,
    aws: AwsOptions,
    on_status: Callable[[str], None] = lambda _msg: None,
    clock: Callable[[], float] = time.time,
) -> RunStarted:
    """Check the manifest, upload it, start the execution; nothing uploaded on error."""
    clash = [k for k in RUN_FIELDS if k in opts.extra_input]
    if clash:
        raise ConfigError(
            f"--input sets {clash[0]!r}, which sfn run writes: use --manifest, "
            "--manifest-uri, --results-uri or DEST instead"
        )
    check_fanout(opts.directory)
    manifest = check_manifest(opts.manifest, opts.dest)
    name = opts.execution_name or _execution_name(manifest.data, clock())
    bucket = parse_s3_url(opts.dest, "DEST")[0] if opts.dest else manifest.first_bucket
    base = f"devkit-sfn/{opts.name}/{name}"
    m_bucket, m_key = parse_s3_url(
        opts.manifest_uri or f"s3://{bucket}/{base}/manifest.jsonl", "--manifest-uri"
    )
    r_bucket, r_prefix = parse_s3_url(
        opts.results_uri or f"s3://{bucket}/{base}/results", "--results-uri"
    )
    sfn = aws.client("stepfunctions")
    machine_arn = _call("ListStateMachines", lambda: find_machine(sfn, opts.name))
    if machine_arn is None:
        raise ConfigError(
            f"state machine {opts.name} not found: deploy it with "
            f"`devkit sfn deploy {opts.directory}` (or pass --name)"
        )
    execution_input = {
        **opts.extra_input,
        "manifest": {"bucket": m_bucket, "key": m_key},
        "prefix": destination_prefix(opts.dest),
        "results": {"bucket": r_bucket, "prefix": r_prefix},
    }
    items = f"{manifest.items:,} item{'s' if manifest.items != 1 else ''}"
    on_status(f"uploading {items} to s3://{m_bucket}/{m_key}")
    _upload(aws, m_bucket, m_key, manifest.data)
    arn = _call(
        "StartExecution",
        lambda: sfn.start_execution(
            stateMachineArn=machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"],
    )
    return RunStarted(
        str(arn),
        machine_arn,
        f"s3://{m_bucket}/{m_key}",
        f"s3://{r_bucket}/{r_prefix}",
        manifest.items,
        execution_input,
    )


def _execution_name(data: bytes, now: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"run-{stamp}-{hashlib.sha256(data).hexdigest()[:8]}"


def _upload(aws: AwsOptions, bucket: str, key: str, data: bytes) -> None:
    _call(
        f"uploading the manifest to s3://{bucket}/{key}",
        lambda: aws.s3().put_object(
            Bucket=bucket, Key=key, Body=data, ContentType="application/jsonl"
        ),
        UploadError,
    )


def _call(
    what: str, fn: Callable[[], Any], error: type[DevkitError] = DevkitError
) -> Any:
    """fn(), its botocore errors as one `error` line naming `what`."""
    try:
        return fn()
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code = err.get("Code", "Error")
        if code == "ExecutionAlreadyExists":
            raise ConfigError(
                f"{code}: {err.get('Message')}: pass another --execution-name"
            ) from exc
        raise error(f"{what} failed: {code}: {err.get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise error(f"{what} failed: {exc}") from exc
