"""devkit: tools for Python developers who ship to AWS and Google Play."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Lazy: importlib.metadata costs ~45 ms, and every command imports devkit
    # (a pre-commit hook pays that on every commit).
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("devkit")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(name)
