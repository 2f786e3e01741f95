"""Every third-party import must be provided by a declared requirement.

The imports come from the code (its syntax tree), never from what is
installed; installed metadata only sharpens the module-to-distribution map.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from devkit.hook import distributions
from devkit.hook.declared import Declared
from devkit.hook.findings import Finding
from devkit.hook.firstparty import LocalModules
from devkit.requirements import canonicalize_name

CODE = "DEP001"
# The interpreter's own modules: the standard library, modules compiled into
# it, and `__main__` (the running script), none of which is a requirement.
INTERPRETER = frozenset(
    {*sys.stdlib_module_names, *sys.builtin_module_names, "__main__"}
)

# Exceptions whose handler makes the guarded import optional.
_SOFT_HANDLERS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
# `if` tests on these names pick imports by platform or version: optional too.
_CONDITION_NAMES = {"TYPE_CHECKING", "version_info", "platform", "name", "system"}
# ...and so do flags set where an optional import was tried (`if HAS_CRT:`).
_FEATURE_FLAG = re.compile(
    r"^(has|have|with|use)_|_(available|installed|enabled|supported)$"
    # ...and version flags (`if PY314:` in Django, `PY2`, `PYTHON_3_12`).
    r"|^(py|python)_?[23](_?\d+)?$",
    re.IGNORECASE,
)


_COMPOUND = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor,
    ast.While, ast.With, ast.AsyncWith,
)  # fmt: skip


class ImportUse(NamedTuple):
    """An absolute import: dotted module (plus imported name) and where it is.

    `optional` marks imports guarded by try/except ImportError or made only
    under TYPE_CHECKING, a platform or a Python version: they need no requirement.
    A plain tuple so the result cache stores and returns it as is.
    """

    dotted: str
    line: int
    col: int
    optional: bool = False


def collect_imports(tree: ast.Module) -> list[ImportUse]:
    """Every absolute import of a module, guarded and conditional ones marked."""
    uses: list[ImportUse] = []
    _walk(tree.body, uses, False)
    return uses


def _walk(body: Iterable[ast.stmt], uses: list[ImportUse], optional: bool) -> None:
    # Imports are statements, so only statement lists are walked: far fewer
    # nodes than ast.walk, which matters on large trees.
    for node in body:
        if isinstance(node, ast.Import):
            where = (node.lineno, node.col_offset + 1, optional)
            uses.extend(ImportUse(a.name, *where) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module != "__future__":
                where = (node.lineno, node.col_offset + 1, optional)
                uses.extend(
                    ImportUse(f"{node.module}.{a.name}", *where) for a in node.names
                )
        elif isinstance(node, ast.Try | ast.TryStar):
            soft = any(_is_soft(h) for h in node.handlers)
            _walk(node.body, uses, optional or soft)
            for handler in node.handlers:
                _walk(handler.body, uses, optional)
            _walk(node.orelse, uses, optional)
            _walk(node.finalbody, uses, optional)
        elif isinstance(node, ast.If):
            conditional = optional or _is_conditional(node.test)
            _walk(node.body, uses, conditional)
            _walk(node.orelse, uses, conditional)
        elif isinstance(node, _COMPOUND):
            _walk(node.body, uses, optional)
            _walk(getattr(node, "orelse", ()), uses, optional)
        elif isinstance(node, ast.Match):
            for case in node.cases:
                _walk(case.body, uses, optional)


def _is_soft(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(_last_name(t) in _SOFT_HANDLERS for t in types)


def _is_conditional(test: ast.expr) -> bool:
    # The shapes such tests take (`not X`, `X and Y`, `sys.platform == "x"`,
    # `platform.system() == "x"`), walked by hand: ast.walk is slow here.
    if isinstance(test, ast.Name | ast.Attribute):
        name = _last_name(test)
        return name in _CONDITION_NAMES or _FEATURE_FLAG.search(name) is not None
    if isinstance(test, ast.BoolOp):
        return any(_is_conditional(value) for value in test.values)
    if isinstance(test, ast.UnaryOp):
        return _is_conditional(test.operand)
    if isinstance(test, ast.Compare):
        return any(_is_conditional(e) for e in (test.left, *test.comparators))
    if isinstance(test, ast.Call):
        return _is_conditional(test.func)
    if isinstance(test, ast.Subscript):
        return _is_conditional(test.value)  # sys.version_info[0] >= 3
    return False


def _last_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


@dataclass
class RequirementsCheck:
    """Judges collected imports against the declared requirements."""

    declared: Declared
    local: LocalModules
    module_map: dict[str, tuple[str, ...]]
    ignore_modules: tuple[str, ...] = ()
    # (module, roots of the importing file) -> not third-party: a tree imports
    # the same few modules from the same few packages thousands of times.
    _judged: dict[tuple[str, tuple[str, ...]], bool] = field(
        default_factory=dict, init=False, repr=False
    )

    def check(self, path: str, uses: list[ImportUse]) -> list[Finding]:
        """One finding per missing distribution per file, at its first import."""
        findings: list[Finding] = []
        seen: set[str] = set()  # module names already judged
        reported: set[str] = set()  # distributions already named
        roots = self.local.roots_of(path)
        judged = self._judged
        # Unpacked by position: cached imports come back as plain tuples.
        for dotted, line, col, optional in uses:
            if optional:
                continue
            skip = judged.get((dotted, roots))
            if skip is None:
                skip = judged[(dotted, roots)] = self._not_third_party(dotted, roots)
            if skip:
                continue
            name = distributions.display_name(dotted, self.module_map)
            if name in seen:
                continue
            seen.add(name)
            missing = self._missing(dotted)
            if missing and canonicalize_name(missing) not in reported:
                reported.add(canonicalize_name(missing))
                message = (
                    f"'{name}' is imported but no requirement provides it "
                    f"(add {missing})"
                )
                findings.append(Finding(path, line, col, message, "requirements", CODE))
        return findings

    def _not_third_party(self, dotted: str, roots: tuple[str, ...]) -> bool:
        return (
            dotted.partition(".")[0] in INTERPRETER
            or self.local.owns(dotted, roots)
            or any(
                dotted == m or dotted.startswith(m + ".") for m in self.ignore_modules
            )
        )

    def _missing(self, dotted: str) -> str | None:
        """None when a declared distribution provides `dotted`, else what to add."""
        cheap = distributions.candidates(dotted, self.module_map)
        if any(self._declares(d) for d in cheap):
            return None
        installed = distributions.installed_candidates(dotted)
        if any(self._declares(d) for d in installed):
            return None
        return (installed or cheap)[0]

    def _declares(self, distribution: str) -> bool:
        # The project itself counts: it may be imported while installed.
        return self.declared.provides(distribution) or (
            canonicalize_name(distribution) == self.declared.project_name
        )
