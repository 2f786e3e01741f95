"""Leftover debugger imports and calls, found in the syntax tree (never in comments)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from devkit.hook.findings import Finding

# Importing any of these (or anything inside them) is a finding.
DEBUGGER_MODULES = frozenset(
    {
        "pdb", "ipdb", "pudb", "bpdb", "pdbr", "rpdb", "remote_pdb", "wdb", "web_pdb",
        "q", "rdb", "celery.contrib.rdb", "pydevd", "pydevd_pycharm", "debugpy",
        "IPython.core.debugger", "IPython.terminal.debugger", "IPython.terminal.embed",
    }
)  # fmt: skip

# Functions of ordinary modules that start a debugger or a shell.
DEBUGGER_FUNCTIONS = frozenset(
    {
        "breakpoint", "builtins.breakpoint", "sys.breakpointhook",
        "IPython.embed", "IPython.start_ipython", "pytest.set_trace",
    }
)  # fmt: skip

# Modules whose names must be tracked to resolve calls through them.
_TRACKED = frozenset(name.partition(".")[0] for name in DEBUGGER_FUNCTIONS) | {
    "importlib"
}

# Cheap checks first, so most files skip the tree walk: a debugger module
# or function shows up among the file's imports (collected anyway), or one of
# these calls appears in its bytes.
_CALL_HINTS = (
    b"breakpoint(", b"breakpointhook(", b"set_trace(", b"embed(",
    b"start_ipython(", b"__import__(", b"import_module(",
)  # fmt: skip

CODE = "T100"


def may_have_debugger(source: bytes, imported: Iterable[str] = ()) -> bool:
    """Whether the file imports or calls anything the tree walk could flag."""
    return any(hint in source for hint in _CALL_HINTS) or any(
        _is_debugger_module(name) or name in DEBUGGER_FUNCTIONS for name in imported
    )


def check_tree(
    tree: ast.AST, path: str, allowed: frozenset[str] = frozenset()
) -> list[Finding]:
    """Every debugger import and call in `tree`, except those `allowed`."""
    finder = _Finder()
    finder.visit(tree)
    return [
        Finding(path, node.lineno, node.col_offset + 1, message, "debugger", CODE)
        for node, subject, message in finder.found
        if not _is_allowed(subject, allowed)
    ]


def _is_allowed(subject: str, allowed: frozenset[str]) -> bool:
    return "*" in allowed or any(
        subject == name or subject.startswith(name + ".") for name in allowed
    )


def _is_debugger_module(dotted: str) -> bool:
    parts = dotted.split(".")
    return any(
        ".".join(parts[:i]) in DEBUGGER_MODULES for i in range(1, len(parts) + 1)
    )


class _Finder(ast.NodeVisitor):
    """Collects (node, subject, message); names bound to modules are tracked."""

    def __init__(self) -> None:
        self.found: list[tuple[ast.stmt | ast.expr, str, str]] = []
        self.bound: dict[str, str] = {}  # local name -> dotted name it refers to
        self.user_breakpoint = False
        self.calls: list[ast.Call] = []

    def visit_Module(self, node: ast.Module) -> None:
        self.generic_visit(node)
        # Calls are judged after the whole file, so a later import or a
        # user-defined `breakpoint` anywhere is known.
        for call in self.calls:
            self._judge_call(call)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _is_debugger_module(alias.name):
                self.found.append(
                    (node, alias.name, f"debugger '{alias.name}' imported")
                )
            if alias.asname:
                self.bound[alias.asname] = alias.name
            else:
                top = alias.name.partition(".")[0]
                self.bound[top] = top
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            # `from .q import x` is the project's own module, not the q debugger.
            for alias in node.names:
                self._shadow(alias.asname or alias.name)
            return
        for alias in node.names:
            dotted = f"{node.module}.{alias.name}"
            local = alias.asname or alias.name
            if _is_debugger_module(dotted) or dotted in DEBUGGER_FUNCTIONS:
                self.found.append((node, dotted, f"debugger '{dotted}' imported"))
            if _is_debugger_module(dotted) or node.module in _TRACKED:
                self.bound[local] = dotted
            else:
                self._shadow(local)

    def _shadow(self, name: str) -> None:
        if name == "breakpoint":
            self.user_breakpoint = True

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._shadow(node.name)
        self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._shadow(node.name)
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._shadow(node.name)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._shadow(node.id)

    def visit_arg(self, node: ast.arg) -> None:
        self._shadow(node.arg)

    def visit_Call(self, node: ast.Call) -> None:
        self.calls.append(node)
        self.generic_visit(node)

    def _judge_call(self, node: ast.Call) -> None:
        dotted = self._resolve(node.func)
        if dotted is None:
            return
        if dotted == "breakpoint" and self.user_breakpoint:
            return
        if dotted in DEBUGGER_FUNCTIONS or _is_debugger_module(dotted):
            self.found.append((node, dotted, f"debugger call '{dotted}()'"))
        elif dotted in ("__import__", "importlib.import_module"):
            target = _first_string(node)
            if target and _is_debugger_module(target):
                self.found.append((node, target, f"debugger '{target}' imported"))

    def _resolve(self, func: ast.expr) -> str | None:
        attrs = list(_attribute_chain(func))
        if not attrs:
            return None
        base, rest = attrs[0], attrs[1:]
        if base in self.bound:
            return ".".join([self.bound[base], *rest])
        if base in ("breakpoint", "__import__") and not rest:
            return base
        return None


def _attribute_chain(node: ast.expr) -> Iterator[str]:
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        names.append(node.id)
        yield from reversed(names)


def _first_string(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant):
        value = call.args[0].value
        return value if isinstance(value, str) else None
    return None
