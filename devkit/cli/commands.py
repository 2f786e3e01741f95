"""Import every command module so each registers itself on the group."""

from __future__ import annotations

# One import per command module; each module decorates its commands with
# `@cli.command(...)`. Keep the list sorted.
from devkit.cli import hook  # noqa: F401
from devkit.cli import lambda_package  # noqa: F401
from devkit.cli import play  # noqa: F401
from devkit.cli import s3_stream  # noqa: F401
