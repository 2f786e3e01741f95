"""What a simulated Distributed Map run costs on AWS, as run and scaled to N items.

Prices are us-east-1 list prices (https://aws.amazon.com/step-functions/pricing/,
https://aws.amazon.com/lambda/pricing/), before free tiers:

- Standard children: $0.025 per 1,000 state transitions, retries included.
  One transition is counted per child started, on top of the child's own: the
  pricing page does not break a Map Run down, and this is the higher reading.
- Express children: $1.00 per million requests (one per child) plus
  $0.00001667 per GB-second (the first tier), the duration rounded up to
  100 ms and the memory billed in 64 MB chunks (a child whose payloads are
  small, like a manifest batch, uses the first chunk).
- Lambda: $0.20 per million requests plus $0.0000166667 per GB-second (x86),
  the duration rounded up to 1 ms.

Transitions and requests come from the simulation and are exact. Durations
are the wall time of each in-process Lambda call against whatever servers the
simulation used: a local source and S3 answer faster than the internet does,
so the Lambda and Express duration figures are a floor, not a forecast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from devkit.sfn.budget import USD_PER_TRANSITION
from devkit.sfn.simulate.interpreter import Execution

EXPRESS_USD_PER_REQUEST = 1.00 / 1_000_000
EXPRESS_USD_PER_GB_SECOND = 0.00001667
EXPRESS_CHUNK_GB = 64 / 1024
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_USD_PER_GB_SECOND = 0.0000166667
DEFAULT_LAMBDA_MEMORY_MB = 1024


@dataclass(frozen=True)
class RunCost:
    """The bill of one execution with Distributed Map children."""

    items: int
    children: int
    parent_transitions: int
    child_transitions: int  # inside the children, plus one per child started
    express_seconds: float  # billed duration of all children run as Express
    lambda_calls: int
    lambda_seconds: float  # billed duration of all Lambda calls
    lambda_memory_mb: int

    @property
    def standard_usd(self) -> float:
        return (self.parent_transitions + self.child_transitions) * USD_PER_TRANSITION

    @property
    def express_gb_seconds(self) -> float:
        return self.express_seconds * EXPRESS_CHUNK_GB

    @property
    def express_usd(self) -> float:
        return (
            self.parent_transitions * USD_PER_TRANSITION
            + self.children * EXPRESS_USD_PER_REQUEST
            + self.express_gb_seconds * EXPRESS_USD_PER_GB_SECOND
        )

    @property
    def lambda_gb_seconds(self) -> float:
        return self.lambda_seconds * self.lambda_memory_mb / 1024

    @property
    def lambda_usd(self) -> float:
        return (
            self.lambda_calls * LAMBDA_USD_PER_REQUEST
            + self.lambda_gb_seconds * LAMBDA_USD_PER_GB_SECOND
        )

    def scaled(self, items: int) -> RunCost:
        """The same run with `items` items: children and calls grow in proportion."""
        k = items / self.items if self.items else 0.0
        return replace(
            self,
            items=items,
            children=math.ceil(self.children * k),
            child_transitions=math.ceil(self.child_transitions * k),
            express_seconds=self.express_seconds * k,
            lambda_calls=math.ceil(self.lambda_calls * k),
            lambda_seconds=self.lambda_seconds * k,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "standard_usd": self.standard_usd,
            "express_gb_seconds": self.express_gb_seconds,
            "express_usd": self.express_usd,
            "lambda_gb_seconds": self.lambda_gb_seconds,
            "lambda_usd": self.lambda_usd,
        }


def run_cost(execution: Execution, lambda_memory_mb: int) -> RunCost | None:
    """The cost of an execution's Distributed Maps; None when it ran none."""
    if not execution.map_runs:
        return None
    items = children = child_transitions = 0
    express = 0.0
    for run in execution.map_runs:
        items += run.items
        for child in run.children:
            if child.execution is None:
                continue
            children += 1
            child_transitions += child.execution.transitions + 1
            busy = (child.stop - child.start) + sum(child.execution.lambda_seconds)
            express += math.ceil(round(busy * 10, 6)) / 10 or 0.1
    calls = execution.lambda_seconds
    return RunCost(
        items=items,
        children=children,
        parent_transitions=execution.transitions,  # children have their own
        child_transitions=child_transitions,
        express_seconds=express,
        lambda_calls=len(calls),
        lambda_seconds=sum(math.ceil(s * 1000) / 1000 for s in calls),
        lambda_memory_mb=lambda_memory_mb,
    )
