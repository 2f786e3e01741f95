"""Per-file work: parse once, run pyflakes and the debugger check, collect imports.

Runs in worker processes for large runs, so everything here is picklable.
The checks (pyflakes, ast, packaging) are imported only when a file is
analysed: a run whose files all come from the cache never loads them.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devkit.hook.findings import SYNTAX_CODE, Finding

if TYPE_CHECKING:
    from devkit.hook.checks.requirements_check import ImportUse

_NOQA = re.compile(
    rb"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE
)


@dataclass(frozen=True)
class FileSettings:
    """What the per-file checks need from the config."""

    builtins: tuple[str, ...]
    pyflakes: bool = True
    debugger: bool = True
    imports: bool = True
    allowed_debuggers: dict[str, frozenset[str]] = field(default_factory=dict)
    asl: tuple[str, ...] = ()  # globs of Step Functions definitions to check


@dataclass
class FileResult:
    """Findings of the per-file checks, the file's imports and its `# noqa` lines."""

    path: str
    findings: list[Finding]
    imports: list[ImportUse]
    noqa: dict[int, Collection[str] | None]


def analyse(path: str, source: bytes, settings: FileSettings) -> FileResult:
    """Run every per-file check on one file's content."""
    from devkit.hook.checks import (
        asl_check,
        debugger_check,
        pyflakes_check,
        requirements_check,
    )

    if asl_check.is_asl(path, settings.asl):
        return FileResult(path, asl_check.check(path, source), [], {})
    noqa = noqa_lines(source)
    tree = pyflakes_check.parse(source, path)
    if isinstance(tree, Finding):
        # Unparseable: a finding of its own; nothing else can be judged.
        return FileResult(path, [tree], [], noqa)
    findings: list[Finding] = []
    if settings.pyflakes:
        findings += pyflakes_check.check_tree(tree, path, settings.builtins)
    imports = requirements_check.collect_imports(tree)
    hinted = debugger_check.may_have_debugger(source, (u.dotted for u in imports))
    if settings.debugger and hinted:
        allowed = settings.allowed_debuggers.get(path, frozenset())
        findings += debugger_check.check_tree(tree, path, allowed)
    if not settings.imports:
        return FileResult(path, findings, [], noqa)
    # Only what the requirements check may judge, fresh or cached alike: the
    # interpreter's modules and optional imports never need a requirement.
    needed = [
        use
        for use in imports
        if not use.optional
        and use.dotted.partition(".")[0] not in requirements_check.INTERPRETER
    ]
    return FileResult(path, findings, needed, noqa)


def analyse_batch(
    batch: list[tuple[str, bytes]], settings: FileSettings
) -> list[FileResult]:
    """`analyse` over a batch of files, collecting garbage once per file."""
    results = []
    with _collect_per_file():
        for path, source in batch:
            results.append(analyse(path, source, settings))
            # The file's garbage is all young: no need to traverse older objects.
            gc.collect(1)
    return results


@contextmanager
def _collect_per_file() -> Iterator[None]:
    # pyflakes allocates heavily and leaves cycles (scopes <-> bindings).
    # With what already exists frozen and automatic collection off, one young
    # collection per file sees only that file's garbage: on pip's sources
    # 10-20% less CPU than the collector's own thresholds.
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def noqa_lines(source: bytes) -> dict[int, Collection[str] | None]:
    """Line number -> codes its `# noqa` names (None: every finding)."""
    if b"noqa" not in source and b"NOQA" not in source:
        return {}
    lines: dict[int, Collection[str] | None] = {}
    for number, line in enumerate(source.splitlines(), start=1):
        match = _NOQA.search(line)
        if match:
            codes = match.group("codes")
            lines[number] = (
                frozenset(c.upper() for c in re.split(r"[,\s]+", codes.decode()) if c)
                if codes
                else None
            )
    return lines


def suppressed(finding: Finding, noqa: dict[int, Collection[str] | None]) -> bool:
    """Whether a `# noqa` on the finding's line covers it (never a syntax error)."""
    # A file that does not parse was not checked at all: as pyflakes, ruff
    # and debug-statements, no comment lets it through.
    if finding.line not in noqa or finding.code == SYNTAX_CODE:
        return False
    codes = noqa[finding.line]
    return codes is None or finding.code in codes
