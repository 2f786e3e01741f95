"""What every check returns: findings in pyflakes' `path:line:col: message` shape."""

from __future__ import annotations

from dataclasses import dataclass

# A file that does not parse (pyflakes' and flake8's code): never suppressed.
SYNTAX_CODE = "E999"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at one place; `code` is what `# noqa: CODE` matches."""

    path: str
    line: int
    col: int
    message: str
    check: str = ""
    code: str = ""
    warning: bool = False  # printed, but does not fail the run by itself

    def format(self) -> str:
        """The pyflakes-style line: `path:line:col: message`."""
        return f"{self.path}:{self.line}:{self.col}: {self.message}"
