"""The execution history: AWS's event type names, ids, virtual timestamps, the cap."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

HISTORY_CAP = 25_000
CAP_CAUSE = "The execution reached the maximum number of history events (25000)."
START = datetime(2026, 1, 1, tzinfo=UTC)  # the virtual clock's zero
FINAL_TYPES = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut")


class HistoryCapReached(Exception):
    """The next event would pass the cap: the execution fails with States.Runtime."""


@dataclass
class Event:
    """One history event, as GetExecutionHistory shows it.

    Input and output are kept as values and turned into JSON text only when
    shown: the interpreter never changes a value once an event holds it.
    """

    id: int
    type: str
    seconds: float  # virtual seconds since the execution started
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def timestamp(self) -> str:
        """ISO 8601 on the virtual clock, milliseconds like AWS."""
        when = START + timedelta(seconds=self.seconds)
        return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def to_json(self) -> dict[str, Any]:
        """The event as one JSON object; input and output as JSON text, like AWS."""
        details = {
            k: json.dumps(v, separators=(",", ":")) if k in ("input", "output") else v
            for k, v in self.details.items()
        }
        return {
            "id": self.id,
            "type": self.type,
            "timestamp": self.timestamp,
            **details,
        }


class History:
    """Events in order; ids are given as events arrive."""

    def __init__(self, cap: int = HISTORY_CAP) -> None:
        self.events: list[Event] = []
        self.cap = cap

    def add(self, kind: str, seconds: float, **details: Any) -> Event:
        """Record an event; the one before the cap can only be a final event."""
        if len(self.events) >= self.cap - 1 and kind not in FINAL_TYPES:
            raise HistoryCapReached
        event = Event(len(self.events) + 1, kind, seconds, details)
        self.events.append(event)
        return event
