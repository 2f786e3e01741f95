"""`devkit sfn new fanout`: many URLs into S3 on a Step Functions Distributed Map.

The machine reads the manifest (the JSONL that `s3-stream --manifest` takes)
from S3 with ItemReader, hands ItemBatcher batches to STANDARD child
executions (a stream may outlast Express's 5 minutes) that call
`devkit.s3stream.lambda_handler`, tolerates a share of failed items, and
writes every child's result to S3 with ResultWriter. `devkit sfn check`
finds nothing in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.sfn.asl import dumps
from devkit.sfn.scaffold import (
    TRANSIENT_RETRIER,
    GatekeeperOptions,
    Scaffold,
    check_folder,
    check_option,
    gatekeeper_definition,
    gatekeeper_files,
    machine_timeout,
    write_files,
)

FUNCTION_ARN = "${StreamFunctionArn}"
# A child's Lambda runs at most 15 minutes; the Task gives it that and no more.
TASK_TIMEOUT = 900
# S3 answers SlowDown (503) to a burst of reads: the Map's manifest read is
# retried with backoff (before any child started, so nothing runs twice). In
# the children, the handler's boto3 client retries throttled requests itself.
S3_RETRIER = {
    "ErrorEquals": ["States.ItemReaderFailed"],
    "IntervalSeconds": 5,
    "BackoffRate": 2.0,
    "MaxAttempts": 4,
    "JitterStrategy": "FULL",
}


@dataclass(frozen=True)
class FanoutOptions:
    """What `devkit sfn new fanout` was asked for."""

    max_concurrency: int = 100
    tolerated_failure_percentage: float = 5.0
    batch_items: int = 10  # MaxItemsPerBatch: several small objects per child
    timeout_hours: int = 24
    # --wait-for CHECK: the gatekeeper loop in front (sfn new gatekeeper's
    # --check kinds); the Map starts once the upstream export is ready.
    wait_for: str | None = None


def new_fanout(directory: Path, opts: FanoutOptions, overwrite: bool) -> Scaffold:
    """Write the project; refuse a non-empty folder unless `overwrite`."""
    if opts.wait_for is not None:
        check_option(opts.wait_for)
    check_folder(directory, overwrite)
    definition = fanout_definition(opts)
    example: dict[str, Any] = dict(EXAMPLE_INPUT)
    files = {
        "statemachine.asl.json": dumps(definition),
        "stream/handler.py": HANDLER,
        "stream/requirements.txt": STREAM_REQUIREMENTS,
    }
    if opts.wait_for is not None:
        files.update(gatekeeper_files(GatekeeperOptions(check=opts.wait_for)))
        example = {"wait_for": EXAMPLE_WAIT_FOR[opts.wait_for], **example}
    files["input.example.json"] = dumps(example)
    written = write_files(directory, files)
    return Scaffold(directory, written, int(definition["TimeoutSeconds"]))


def fanout_definition(opts: FanoutOptions) -> dict[str, Any]:
    """The Distributed Map machine (JSONPath)."""
    stream = {
        "Type": "Task",
        "Resource": FUNCTION_ARN,
        "TimeoutSeconds": TASK_TIMEOUT,
        "Retry": [dict(TRANSIENT_RETRIER)],
        "End": True,
    }
    fanout = {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket.$": "$.manifest.bucket", "Key.$": "$.manifest.key"},
        },
        "ItemBatcher": {
            "MaxItemsPerBatch": opts.batch_items,
            "BatchInput": {"prefix.$": "$.prefix"},
        },
        "MaxConcurrency": opts.max_concurrency,
        "ToleratedFailurePercentage": opts.tolerated_failure_percentage,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Stream",
            "States": {"Stream": stream},
        },
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {
                "Bucket.$": "$.results.bucket",
                "Prefix.$": "$.results.prefix",
            },
            "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"},
        },
        "Retry": [dict(S3_RETRIER)],
        "ResultPath": "$.map_run",
        "End": True,
    }
    machine = {
        "Comment": "Many URLs into S3 on a Distributed Map (devkit sfn new fanout)",
        "StartAt": "Fanout",
        "TimeoutSeconds": opts.timeout_hours * 3600,
        "States": {"Fanout": fanout},
    }
    if opts.wait_for is not None:
        return gatekeeper_in_front(machine, GatekeeperOptions(check=opts.wait_for))
    return machine


def gatekeeper_in_front(
    machine: dict[str, Any], gk: GatekeeperOptions
) -> dict[str, Any]:
    """`sfn new gatekeeper`'s loop, then the machine's first state.

    The gatekeeper reads `$.wait_for` (its own fields, apart from the Map's
    `prefix`), its force flag is `$.wait_for.force`, and its result lands in
    `$.gatekeeper`: the manifest, prefix and results reach the Map untouched.
    """
    loop = gatekeeper_definition(gk)
    states = loop["States"]
    del states["Done"]
    task = states["Gatekeeper"]
    states["Gatekeeper"] = {
        "Type": task.pop("Type"),
        "Resource": task.pop("Resource"),
        "InputPath": "$.wait_for",
        **task,
        "Next": machine["StartAt"],
    }
    states["Force"]["ResultPath"] = "$.wait_for.force"
    return {
        **machine,
        "Comment": machine["Comment"] + ", once the gatekeeper says ready",
        "StartAt": loop["StartAt"],
        "TimeoutSeconds": machine["TimeoutSeconds"] + machine_timeout(gk),
        "States": {**states, **machine["States"]},
    }


HANDLER = '''"""Each child of the Distributed Map: a batch of manifest items into S3.

devkit's handler streams the items within the function's memory, stops before
the function's timeout (aborting the upload), and raises ItemsFailed when an
item fails so the Map counts it against ToleratedFailurePercentage.
"""

from devkit.s3stream import lambda_handler as handler  # noqa: F401
'''

STREAM_REQUIREMENTS = """\
# What stream/handler.py needs beyond devkit. Do not list devkit here: the
# `devkit` on PyPI is another project. `devkit sfn deploy` puts the devkit
# that runs it (and its dependencies) into the function's lib/.
"""

EXAMPLE_WAIT_FOR: dict[str, dict[str, Any]] = {
    "s3-prefix": {"bucket": "exports", "prefix": "daily/", "expected": 10},
    "marker": {"bucket": "exports", "key": "daily/_SUCCESS"},
    "sqs-empty": {
        "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/export-jobs"
    },
    "custom": {},
}

EXAMPLE_INPUT = {
    "manifest": {"bucket": "my-bucket", "key": "manifests/items.jsonl"},
    "prefix": "s3://my-bucket/mirror/",
    "results": {"bucket": "my-bucket", "prefix": "fanout-results"},
}
