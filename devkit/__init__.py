"""devkit: tools for Python developers who ship to AWS and Google Play."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("devkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
