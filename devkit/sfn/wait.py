"""`devkit sfn wait`: poll DescribeExecution with backoff until the execution ends.

The waiter the AWS CLI lacks (aws/aws-cli#6370). Each final status has its
own exit code, so a script can tell a failure from a timeout from an abort.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from devkit.errors import ConfigError, DevkitError, ExitCode


class ExecutionFailed(DevkitError):
    """The execution ended FAILED."""

    exit_code = ExitCode.EXECUTION_FAILED


class ExecutionTimedOut(DevkitError):
    """The execution ended TIMED_OUT (its TimeoutSeconds passed)."""

    exit_code = ExitCode.EXECUTION_TIMED_OUT


class ExecutionAborted(DevkitError):
    """The execution ended ABORTED (someone stopped it)."""

    exit_code = ExitCode.EXECUTION_ABORTED


class WaitTimeout(DevkitError):
    """`--timeout` passed while the execution was still running."""

    exit_code = ExitCode.WAIT_TIMEOUT


FINAL: dict[str, type[DevkitError] | None] = {
    "SUCCEEDED": None,
    "FAILED": ExecutionFailed,
    "TIMED_OUT": ExecutionTimedOut,
    "ABORTED": ExecutionAborted,
}


@dataclass(frozen=True)
class Backoff:
    """Seconds between polls: first, growth factor, cap."""

    first: float = 1.0
    factor: float = 1.5
    cap: float = 30.0

    def delays(self) -> Any:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * self.factor, self.cap)


def wait_for_execution(
    sfn: Any,
    execution_arn: str,
    timeout: float | None = None,
    backoff: Backoff = Backoff(),
    on_poll: Callable[[str, float], None] = lambda _status, _elapsed: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """The final DescribeExecution; raise the status's error unless SUCCEEDED."""
    if not execution_arn.startswith("arn:") or ":execution:" not in execution_arn:
        raise ConfigError(
            f"{execution_arn!r} is not an execution ARN "
            "(arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)"
        )
    start = clock()
    delays = backoff.delays()
    while True:
        desc = _describe(sfn, execution_arn)
        status = str(desc["status"])
        elapsed = clock() - start
        on_poll(status, elapsed)
        if status in FINAL:
            error = FINAL[status]
            if error is not None:
                detail = ": ".join(
                    str(desc[k]) for k in ("error", "cause") if desc.get(k)
                )
                raise error(f"execution {status}" + (f": {detail}" if detail else ""))
            return desc
        if timeout is not None and elapsed >= timeout:
            raise WaitTimeout(
                f"execution still {status} after {elapsed:.0f} s "
                f"(--timeout {timeout:g})"
            )
        delay = next(delays)
        if timeout is not None:
            delay = min(delay, max(0.0, timeout - elapsed))
        sleep(delay)


def _describe(sfn: Any, arn: str) -> dict[str, Any]:
    try:
        desc: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        return desc
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code = err.get("Code", "Error")
        if code in ("ExecutionDoesNotExist", "InvalidArn"):
            raise ConfigError(f"{code}: {err.get('Message', arn)}") from exc
        raise DevkitError(
            f"DescribeExecution failed: {code}: {err.get('Message')}"
        ) from exc
    except BotoCoreError as exc:
        raise DevkitError(f"DescribeExecution failed: {exc}") from exc
