"""Output: results on stdout, progress, warnings and errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


@dataclass
class Output:
    """The two consoles and the user's verbosity, shared by every command."""

    quiet: bool = False
    json: bool = False
    verbose: int = 0

    # rich loads on first use: a quiet or --json run may never print through
    # it, and its 2 MiB would count against s3-stream's --max-memory.
    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, soft_wrap=True, highlight=False)

    def result(self, text: str) -> None:
        """Print a result line on stdout, exactly as given.

        Plain, not through rich: a result is data (a URL, a key), which
        rich's emoji codes could rewrite, and importing rich for one line
        cost 0.1-0.5 s of an s3-stream run.
        """
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def result_json(self, document: Any) -> None:
        """Print exactly one JSON document on stdout."""
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
        sys.stdout.flush()

    def result_json_line(self, document: Any) -> None:
        """Print one compact JSON object as a line of JSONL on stdout."""
        sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def info(self, text: str) -> None:
        """Print a progress or status line on stderr unless --quiet."""
        if not self.quiet:
            self.err.print(text, markup=False)

    def warn(self, text: str) -> None:
        """Print a warning on stderr; --quiet does not hide it."""
        self.err.print(f"warning: {text}", markup=False, style="yellow")

    def error(self, text: str) -> None:
        """Print a one-line error on stderr."""
        self.err.print(f"error: {text}", markup=False, style="bold red")

    @contextmanager
    def byte_progress(self, description: str, total: int | None) -> Iterator[ByteBar]:
        """A transfer bar on stderr; call the yielded bar with each byte count."""
        if self.quiet or self.json or not self.err.is_terminal:
            yield ByteBar(None, None, description)  # no bar: rich.progress not loaded
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=self.err, transient=True) as progress:
            task = progress.add_task(description, total=total)
            yield ByteBar(progress, task, description)


@dataclass
class ByteBar:
    """The `on_bytes` callback of a transfer, and its phase after the bytes."""

    progress: Progress | None
    task: TaskID | None
    description: str

    def __call__(self, n: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=n)

    def phase(self, text: str) -> None:
        """Say what happens once every byte is sent (e.g. 'verifying')."""
        if self.progress is not None and self.task is not None:
            text = f"{self.description} ({text})"
            self.progress.update(self.task, description=text)
