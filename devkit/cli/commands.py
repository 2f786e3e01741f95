"""Import every command module so each registers itself on the group."""

from __future__ import annotations

# Each module decorates its commands with `@cli.command(...)` on import.
from devkit.cli import (  # noqa: F401
    hook,
    lambda_package,
    play,
    s3_stream,
)
