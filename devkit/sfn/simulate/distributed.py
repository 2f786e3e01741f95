"""A Distributed Map in the simulator: items from S3, child executions, the export.

What AWS does, in the order it does it:

1. ItemReader reads the items from S3 (`s3:getObject` of a JSONL, CSV or JSON
   file, or `s3:listObjectsV2`); a file that cannot be read or parsed fails the
   state with States.ItemReaderFailed.
2. ItemSelector shapes each item; ItemBatcher groups them (MaxItemsPerBatch,
   MaxInputBytesPerBatch) into `{"Items": [...], "BatchInput": ...}`.
3. Each item or batch runs as its own child execution of the ItemProcessor,
   with its own history; here, through the simulator with the tasks called
   in-process. At most MaxConcurrency children run at once on the virtual
   clock: a child starts when a slot frees.
4. When more items have failed than ToleratedFailureCount or
   ToleratedFailurePercentage allow, no further child starts, the running ones
   are aborted and the state fails with States.ExceedToleratedFailureThreshold.
   (Tasks take no virtual time, so children that share a start time have all
   run, and written what they write, before the first of them is counted.)
5. ResultWriter writes `<Prefix>/<MapRunId>/manifest.json` and the
   SUCCEEDED_n/FAILED_n/PENDING_n files of child-execution records, and the
   state's result is `{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import math
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devkit.sfn.simulate.interpreter import (
    EXECUTION_ARN,
    Execution,
    Failure,
    Interpreter,
    SimulationError,
    _iso,
    _State,
    map_items,
    select_item,
)
from devkit.sfn.simulate.jsonpath import clone

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCOUNT = "us-east-1:123456789012"
# Distributed Map runs up to 10,000 children at once when MaxConcurrency is 0.
MAX_CHILDREN = 10_000
EXPRESS_MAX_SECONDS = 300
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"
# Statuses of child executions as DescribeExecution and the export give them.
SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING = (
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
    "PENDING",
)
FILE_OF = {
    SUCCEEDED: SUCCEEDED,
    FAILED: FAILED,
    TIMED_OUT: FAILED,
    ABORTED: FAILED,
    PENDING: PENDING,
}


@dataclass
class World:
    """What the simulated machine reaches outside itself: S3, through one client."""

    s3_factory: Callable[[], S3Client]
    _s3: S3Client | None = None

    @property
    def s3(self) -> S3Client:
        if self._s3 is None:
            self._s3 = self.s3_factory()
        return self._s3


@dataclass
class Child:
    """One child execution (an item or a batch) of a Map Run."""

    index: int
    name: str
    arn: str
    input: Any
    items: int
    status: str = PENDING
    start: float = 0.0
    stop: float = 0.0
    execution: Execution | None = None

    @property
    def failed(self) -> bool:
        return self.status in (FAILED, TIMED_OUT, ABORTED)

    def record(self, machine_arn: str) -> dict[str, Any]:
        """The child as AWS writes it in a ResultWriter file (Transformation NONE)."""
        text = json.dumps(self.input, separators=(",", ":"))
        if self.status == PENDING:
            return {
                "Input": text,
                "InputDetails": {"Included": True},
                "Status": PENDING,
            }
        record: dict[str, Any] = {
            "ExecutionArn": self.arn,
            "Input": text,
            "InputDetails": {"Included": True},
            "Name": self.name,
        }
        ex = self.execution
        if self.status == SUCCEEDED and ex is not None:
            record["Output"] = json.dumps(ex.output, separators=(",", ":"))
            record["OutputDetails"] = {"Included": True}
        redrivable = self.status != SUCCEEDED
        record |= {
            "RedriveCount": 0,
            "RedriveStatus": "REDRIVABLE" if redrivable else "NOT_REDRIVABLE",
            "StartDate": _iso(self.start),
            "StateMachineArn": machine_arn,
            "Status": self.status,
            "StopDate": _iso(self.stop),
        }
        if not redrivable:
            record["RedriveStatusReason"] = (
                "Execution is SUCCEEDED and cannot be redriven"
            )
        if self.status == ABORTED:
            record |= {"Error": "States.Aborted", "Cause": "The Map Run failed"}
        elif self.failed and ex is not None:
            record |= {"Error": ex.error or "", "Cause": ex.cause or ""}
        return record


@dataclass
class MapRun:
    """What one Distributed Map did: its children, counts and export."""

    arn: str
    state: str
    execution_type: str  # STANDARD or EXPRESS
    items: int
    children: list[Child] = field(default_factory=list)
    status: str = "RUNNING"
    error: str | None = None
    result_key: str | None = None  # s3://BUCKET/KEY of manifest.json

    @property
    def id(self) -> str:
        return self.arn.rsplit(":", 1)[-1]

    def item_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("succeeded", "failed", "aborted", "pending"), 0)
        for child in self.children:
            key = {SUCCEEDED: "succeeded", ABORTED: "aborted", PENDING: "pending"}
            counts[key.get(child.status, "failed")] += child.items
        return {"total": self.items, **counts}

    def to_json(self) -> dict[str, Any]:
        ran = [c for c in self.children if c.execution is not None]
        return {
            "map_run_arn": self.arn,
            "state": self.state,
            "status": self.status,
            "error": self.error,
            "execution_type": self.execution_type,
            "children": len(self.children),
            "children_run": len(ran),
            "item_counts": self.item_counts(),
            "result_writer": self.result_key,
        }


# --- the state --------------------------------------------------------------------


def run_distributed(st: _State, data: Any, processor: dict[str, Any]) -> Any:
    """One attempt of a Distributed Map: its result, or a Failure."""
    interp = st.interp
    effective = st.effective_input(data)
    raw = _read_items(st, effective) if "ItemReader" in st.body else None
    items = map_items(st, effective) if raw is None else raw
    selected = [select_item(st, effective, i, item) for i, item in enumerate(items)]
    inputs = _batches(st, effective, selected)
    config = processor.get("ProcessorConfig") or {}
    run = MapRun(
        arn=f"arn:aws:states:{ACCOUNT}:mapRun:{_machine_name(interp)}/{st.name}:"
        f"{uuid.uuid4()}",
        state=st.name,
        execution_type=str(config.get("ExecutionType", "STANDARD")).upper(),
        items=len(selected),
    )
    interp.map_runs.append(run)
    label = f"{_machine_name(interp)}/{st.name}"
    for n, (child_input, count) in enumerate(inputs):
        name = f"{run.id[:8]}-{n:06d}"
        arn = f"arn:aws:states:{ACCOUNT}:execution:{label}:{name}"
        run.children.append(Child(n, name, arn, child_input, count))
    st.event("MapStateStarted", length=len(selected))
    st.event("MapRunStarted", mapRunArn=run.arn)
    child_doc = {
        "StartAt": processor.get("StartAt"),
        "States": processor.get("States"),
        "QueryLanguage": st.lang,
    }
    if run.execution_type == "EXPRESS":
        child_doc["TimeoutSeconds"] = EXPRESS_MAX_SECONDS  # Express's own limit
    limit = _field(st, st.body, "MaxConcurrency", effective)
    slots = int(limit) if isinstance(limit, int) and limit > 0 else MAX_CHILDREN
    tolerated = _tolerance(st, effective, run.items)
    exceeded = _schedule(st, run, child_doc, tolerated, slots)
    # Without an export the outputs are the result; a failed child is given
    # whole, as AWS does ("returns its execution result unchanged").
    machine_arn = _child_machine_arn(st)
    output: Any = [
        c.execution.output if c.status == SUCCEEDED else c.record(machine_arn)
        for c in run.children
        if c.execution is not None
    ]
    writer = st.body.get("ResultWriter")
    if isinstance(writer, dict) and ("Parameters" in writer or "Arguments" in writer):
        output = _write_results(st, effective, run, writer)
    if exceeded:
        run.status, run.error = "FAILED", "States.ExceedToleratedFailureThreshold"
        st.event("MapRunFailed", error=run.error, cause=THRESHOLD_CAUSE)
        raise Failure(run.error, THRESHOLD_CAUSE)
    run.status = "SUCCEEDED"
    st.event("MapRunSucceeded")
    return output


def _child_machine_arn(st: _State) -> str:
    """The child executions' machine: the parent's name and the Map's."""
    return f"arn:aws:states:{ACCOUNT}:stateMachine:{_machine_name(st.interp)}/{st.name}"


def _machine_name(interp: Interpreter) -> str:
    return interp.execution_arn.split(":execution:", 1)[-1].split(":", 1)[0]


def _field(st: _State, holder: dict[str, Any], name: str, effective: Any) -> Any:
    """A number field, or its `...Path` twin read from the input."""
    if f"{name}Path" in holder:
        return st.guard(lambda: st.scope(effective).get(holder[f"{name}Path"]))
    return holder.get(name)


def _tolerance(st: _State, effective: Any, total: int) -> int:
    """How many failed items the run accepts (more fails it)."""
    count = _field(st, st.body, "ToleratedFailureCount", effective)
    percent = _field(st, st.body, "ToleratedFailurePercentage", effective)
    allowed = []
    if isinstance(count, int | float) and not isinstance(count, bool):
        allowed.append(int(count))
    if isinstance(percent, int | float) and not isinstance(percent, bool):
        allowed.append(math.floor(total * float(percent) / 100))
    return min(allowed) if allowed else 0


def _schedule(
    st: _State, run: MapRun, child_doc: dict[str, Any], tolerated: int, slots: int
) -> bool:
    """Run the children, at most MaxConcurrency at once; True if the run failed."""
    interp = st.interp
    start = interp.clock
    running: list[tuple[float, int, Child]] = []
    now, failed_items, exceeded = start, 0, False

    def finish_one() -> None:
        nonlocal now, failed_items, exceeded
        stop, _, child = heapq.heappop(running)
        now = max(now, stop)
        if child.failed:
            failed_items += child.items
            exceeded = failed_items > tolerated

    for child in run.children:
        while len(running) >= slots and not exceeded:
            finish_one()
        if exceeded:
            break
        child.start = now
        _run_child(interp, child, child_doc)
        heapq.heappush(running, (child.stop, child.index, child))
    while running and not exceeded:
        finish_one()
    for _, _, child in running:  # still running when the run failed
        child.status, child.stop = ABORTED, now
    # The run ends when its last child does, or when the threshold stopped it.
    interp.clock = now if exceeded else max([now, *(c.stop for c in run.children)])
    return exceeded


def _run_child(interp: Interpreter, child: Child, child_doc: dict[str, Any]) -> None:
    sub = Interpreter(
        child_doc,
        interp.tasks,
        seed=interp.seed + child.index + 1,
        world=interp.world,
        execution_arn=child.arn,
    )
    execution = sub.run(clone(child.input))
    child.execution = execution
    child.status = execution.status
    child.stop = child.start + execution.elapsed_seconds
    interp.lambda_seconds.extend(execution.lambda_seconds)
    interp.map_runs.extend(execution.map_runs)


# --- ItemReader ----------------------------------------------------------------------


def _read_items(st: _State, effective: Any) -> list[Any]:
    reader = st.body["ItemReader"]
    if not isinstance(reader, dict):
        raise SimulationError(f"state {st.name!r}: ItemReader is not an object")
    resource = str(reader.get("Resource", ""))
    params = _parameters(st, effective, reader)
    config = reader.get("ReaderConfig") or {}
    world = st.interp.world
    if world is None:
        raise SimulationError(
            f"state {st.name!r}: its ItemReader reads S3; give the S3 endpoint "
            "(--endpoint-url or AWS_ENDPOINT_URL) to simulate it"
        )
    bucket, key = params.get("Bucket"), params.get("Key")
    if resource.endswith(":s3:listObjectsV2"):
        items = _list_objects(st, world, params)
    elif resource.endswith(":s3:getObject"):
        where = f"s3://{bucket}/{key}"
        text = _get_text(world, params, where)
        items = _parse_items(st, config, text, where)
    else:
        raise SimulationError(
            f"state {st.name!r}: ItemReader Resource {resource!r} is not one the "
            "simulator reads (arn:aws:states:::s3:getObject or s3:listObjectsV2)"
        )
    limit = _field(st, config, "MaxItems", effective)
    if isinstance(limit, int) and limit > 0:
        items = items[:limit]
    return items


def _parameters(st: _State, effective: Any, holder: dict[str, Any]) -> dict[str, Any]:
    if st.jsonata:
        value = st.jsonata_eval(
            holder.get("Arguments", {}), st.states_binding(effective)
        )
    else:
        value = st.guard(
            lambda: st.scope(effective).resolve(holder.get("Parameters", {}))
        )
    if not isinstance(value, dict):
        raise Failure(
            "States.Runtime", f"Map {st.name!r}: parameters are not an object"
        )
    return value


def _get_text(world: World, params: dict[str, Any], where: str) -> str:
    args = {"Bucket": str(params.get("Bucket")), "Key": str(params.get("Key"))}
    if params.get("VersionId"):
        args["VersionId"] = str(params["VersionId"])
    with _s3_failure("States.ItemReaderFailed", f"cannot read {where}"):
        body = world.s3.get_object(**args)["Body"].read()  # type: ignore[arg-type]
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise Failure("States.ItemReaderFailed", f"{where} is not UTF-8 text") from None


def _parse_items(
    st: _State, config: dict[str, Any], text: str, where: str
) -> list[Any]:
    kind = str(config.get("InputType", "JSON")).upper()
    if kind == "JSONL":
        return list(_jsonl(text, where))
    if kind == "JSON":
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise Failure(
                "States.ItemReaderFailed", f"{where} is not JSON: {exc}"
            ) from None
        if not isinstance(value, list):
            raise Failure(
                "States.ItemReaderFailed", f"{where} does not hold a JSON array"
            )
        return value
    if kind == "CSV":
        return _csv(config, text, where)
    raise SimulationError(
        f"state {st.name!r}: ReaderConfig InputType {kind!r} is not one the "
        "simulator reads (JSONL, CSV, JSON)"
    )


def _jsonl(text: str, where: str) -> Iterator[Any]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError as exc:
            msg = getattr(exc, "msg", "bad JSON")
            raise Failure(
                "States.ItemReaderFailed",
                f"{where} line {number} is not JSON ({msg}): InputType JSONL "
                "needs one JSON value a line",
            ) from None


def _csv(config: dict[str, Any], text: str, where: str) -> list[dict[str, str]]:
    delimiter = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
    sep = delimiter.get(str(config.get("CSVDelimiter", "COMMA")).upper(), ",")
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=sep) if r]
    if str(config.get("CSVHeaderLocation", "FIRST_ROW")).upper() == "GIVEN":
        headers = [str(h) for h in config.get("CSVHeaders") or []]
    else:
        if not rows:
            raise Failure("States.ItemReaderFailed", f"{where} has no header row")
        headers, rows = rows[0], rows[1:]
    items = []
    for number, row in enumerate(rows, 1):
        if len(row) > len(headers):
            raise Failure(
                "States.ItemReaderFailed",
                f"{where} row {number} has more fields than the header",
            )
        items.append(
            {h: (row[i] if i < len(row) else "") for i, h in enumerate(headers)}
        )
    return items


def _list_objects(st: _State, world: World, params: dict[str, Any]) -> list[Any]:
    args = {"Bucket": str(params.get("Bucket"))}
    if params.get("Prefix"):
        args["Prefix"] = str(params["Prefix"])
    items: list[Any] = []
    with _s3_failure("States.ItemReaderFailed", f"cannot list s3://{args['Bucket']}"):
        for page in world.s3.get_paginator("list_objects_v2").paginate(**args):  # type: ignore[arg-type]
            for obj in page.get("Contents", []):
                items.append(
                    {
                        "Etag": obj.get("ETag", ""),
                        "Key": obj["Key"],
                        "LastModified": int(obj["LastModified"].timestamp()),
                        "Size": obj.get("Size", 0),
                        "StorageClass": obj.get("StorageClass", "STANDARD"),
                    }
                )
    return items


# --- ItemBatcher ---------------------------------------------------------------------


def _batches(st: _State, effective: Any, items: list[Any]) -> list[tuple[Any, int]]:
    """(child input, items in it) for each child."""
    batcher = st.body.get("ItemBatcher")
    if not isinstance(batcher, dict):
        return [(item, 1) for item in items]
    scope = st.scope(effective)
    most = _field(st, batcher, "MaxItemsPerBatch", effective)
    size = _field(st, batcher, "MaxInputBytesPerBatch", effective)
    batch_input = None
    if "BatchInput" in batcher:
        if st.jsonata:
            batch_input = st.jsonata_eval(
                batcher["BatchInput"], st.states_binding(effective)
            )
        else:
            batch_input = st.guard(lambda: scope.resolve(batcher["BatchInput"]))
    max_items = int(most) if isinstance(most, int) and most > 0 else len(items) or 1
    max_bytes = int(size) if isinstance(size, int) and size > 0 else 256 * 1024

    def child(group: list[Any]) -> dict[str, Any]:
        doc: dict[str, Any] = {"Items": group}
        if batch_input is not None:
            doc["BatchInput"] = clone(batch_input)
        return doc

    out: list[tuple[Any, int]] = []
    group: list[Any] = []
    for item in items:
        candidate = [*group, item]
        too_big = len(json.dumps(child(candidate), separators=(",", ":"))) > max_bytes
        if group and (len(candidate) > max_items or too_big):
            out.append((child(group), len(group)))
            group = [item]
        else:
            group = candidate
    if group:
        out.append((child(group), len(group)))
    return out


@contextmanager
def _s3_failure(error: str, what: str) -> Iterator[None]:
    """S3's errors inside as the States error the Map fails with: `what: CODE`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise Failure(error, f"{what}: {code}") from None
    except BotoCoreError as exc:
        raise Failure(error, f"{what}: {type(exc).__name__}") from None


# --- ResultWriter --------------------------------------------------------------------


def _write_results(
    st: _State, effective: Any, run: MapRun, writer: dict[str, Any]
) -> dict[str, Any]:
    resource = str(writer.get("Resource", ""))
    if not resource.endswith(":s3:putObject"):
        raise SimulationError(
            f"state {st.name!r}: ResultWriter Resource {resource!r}: the simulator "
            "writes with arn:aws:states:::s3:putObject"
        )
    world = st.interp.world
    if world is None:
        raise SimulationError(
            f"state {st.name!r}: its ResultWriter writes to S3; give the S3 endpoint "
            "(--endpoint-url or AWS_ENDPOINT_URL) to simulate it"
        )
    params = _parameters(st, effective, writer)
    bucket = str(params.get("Bucket") or "")
    prefix = str(params.get("Prefix") or "").strip("/")
    base = f"{prefix}/{run.id}" if prefix else run.id
    config = writer.get("WriterConfig") or {}
    transformation = str(config.get("Transformation", "NONE")).upper()
    jsonl = str(config.get("OutputType", "JSON")).upper() == "JSONL"
    machine_arn = _child_machine_arn(st)
    files: dict[str, list[dict[str, Any]]] = {SUCCEEDED: [], FAILED: [], PENDING: []}
    groups: dict[str, list[Any]] = {SUCCEEDED: [], FAILED: [], PENDING: []}
    for child in run.children:
        kind = FILE_OF[child.status]
        ex = child.execution
        if kind == SUCCEEDED and transformation != "NONE" and ex is not None:
            # COMPACT/FLATTEN keep only the outputs; failed children stay whole.
            if transformation == "FLATTEN" and isinstance(ex.output, list):
                groups[kind].extend(ex.output)
            else:
                groups[kind].append(ex.output)
        else:
            groups[kind].append(child.record(machine_arn))
    with _s3_failure(
        "States.ResultWriterFailed", f"cannot write to s3://{bucket}/{base}/"
    ):
        for kind, values in groups.items():
            if not values:
                continue
            key = f"{base}/{kind}_0.json"
            body = _encode(values, jsonl)
            world.s3.put_object(Bucket=bucket, Key=key, Body=body)
            files[kind].append({"Key": key, "Size": len(body)})
        manifest = {
            "DestinationBucket": bucket,
            "MapRunArn": run.arn,
            "ResultFiles": {k: files[k] for k in (FAILED, PENDING, SUCCEEDED)},
        }
        manifest_key = f"{base}/manifest.json"
        world.s3.put_object(
            Bucket=bucket,
            Key=manifest_key,
            Body=json.dumps(manifest, indent=2).encode(),
        )
    run.result_key = f"s3://{bucket}/{manifest_key}"
    return {
        "MapRunArn": run.arn,
        "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key},
    }


def _encode(values: list[Any], jsonl: bool) -> bytes:
    if jsonl:
        return "".join(
            json.dumps(v, separators=(",", ":")) + "\n" for v in values
        ).encode()
    return json.dumps(values, separators=(",", ":")).encode()


__all__ = ["EXECUTION_ARN", "Child", "MapRun", "World", "run_distributed"]
