"""moto's Step Functions interpreter as an oracle for `devkit sfn simulate`.

moto (5.x) runs definitions with LocalStack's interpreter when
`execute_state_machine` is on. Three patches make it usable here, as the
research note found: its Lambda "simple" backend always succeeds, so invoke
calls our Python task functions and sets the function-error header when they
raise; retries really sleep, and Wait states block, so both only record the
seconds they would have waited.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3

REGION = "us-east-1"

# task name -> function(payload) returning a value or raising; the exception's
# class name becomes errorType, as a Python Lambda reports it.
Handler = Callable[[Any], Any]


@dataclass
class OracleRun:
    status: str
    output: Any
    error: str | None
    cause: str | None
    event_types: list[str]
    waits: list[float] = field(default_factory=list)


def create_role(iam: Any, name: str) -> dict[str, Any]:
    """An IAM role Lambda and Step Functions may assume (moto checks the trust)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Service": ["lambda.amazonaws.com", "states.amazonaws.com"]
                },
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role: dict[str, Any] = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(trust)
    )
    return role


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


@contextmanager
def _patched(handlers: dict[str, Handler], waits: list[float]) -> Iterator[None]:
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (
        wait_function,
    )

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        name = function_name.rsplit(":", 1)[-1]
        try:
            result = handlers[name](json.loads(body or "null"))
        except Exception as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            return json.dumps(error).encode()
        return json.dumps(result).encode()

    def wait_interval(self, env, wait_seconds):
        waits.append(float(wait_seconds))

    fake_time = mock.Mock(wraps=time)
    fake_time.sleep = lambda s: waits.append(float(s))
    with (
        mock.patch.object(LambdaSimpleBackend, "invoke", invoke),
        mock.patch.object(retrier_decl, "time", fake_time),
        mock.patch.object(wait_function.WaitFunction, "_wait_interval", wait_interval),
    ):
        yield


def run_in_moto(
    definition: dict[str, Any],
    handlers: dict[str, Handler],
    execution_input: Any,
    deadline_seconds: float = 60.0,
) -> OracleRun:
    """Run one execution in moto and return what AWS's API would show.

    Past `deadline_seconds` the run is returned as it stands (RUNNING).
    """
    from moto import mock_aws

    config = {
        "stepfunctions": {"execute_state_machine": True},
        "lambda": {"use_docker": False},
    }
    waits: list[float] = []
    with mock_aws(config=config), _patched(handlers, waits):  # type: ignore[arg-type]
        role = create_role(boto3.client("iam", region_name=REGION), "sfn-oracle")
        lam = boto3.client("lambda", region_name=REGION)
        arns = {}
        for name in handlers:
            fn = lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role["Role"]["Arn"],
                Handler="handler.handler",
                Code={"ZipFile": _zip()},
            )
            arns[name] = fn["FunctionArn"]
        text = json.dumps(definition)
        for name, arn in arns.items():
            text = text.replace("${" + name + "}", arn)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="oracle", definition=text, roleArn=role["Role"]["Arn"]
        )
        started = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"],
            input=json.dumps(execution_input),
        )
        arn = started["executionArn"]
        deadline = time.monotonic() + deadline_seconds
        while True:
            desc = sfn.describe_execution(executionArn=arn)
            if desc["status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    output = json.loads(desc["output"]) if desc.get("output") else None
    return OracleRun(
        desc["status"],
        output,
        desc.get("error"),
        desc.get("cause"),
        [e["type"] for e in events],
        waits,
    )
