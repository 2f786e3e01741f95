"""The requirements a project declares: requirements files and pyproject.toml."""

from __future__ import annotations

import posixpath
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

# Reads a repository-relative path (from the index or the disk); None if absent.
Reader = Callable[[str], bytes | None]

DEFAULT_REQUIREMENT_FILES = ("requirements.txt",)

# pip's requirement-file options that take a value and declare nothing.
_VALUE_OPTIONS = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links",
    "--trusted-host", "--no-binary", "--only-binary", "--use-feature",
    "--config-settings", "--global-option", "--hash",
}  # fmt: skip
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_WHEEL = re.compile(r"/([A-Za-z0-9][A-Za-z0-9._]*?)-\d[^/]*\.(?:whl|tar\.gz|zip)$")


@dataclass
class Declared:
    """Canonical names of declared distributions, and where they were found."""

    names: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)
    project_name: str | None = None

    def provides(self, distribution: str) -> bool:
        """Whether `distribution` (any spelling) is declared."""
        return canonicalize_name(distribution) in self.names


def read_declared(read: Reader, extra_files: tuple[str, ...] = ()) -> Declared:
    """Everything declared in pyproject.toml, requirements.txt and `extra_files`."""
    declared = Declared()
    pyproject = read("pyproject.toml")
    if pyproject is not None:
        _add_pyproject(declared, pyproject)
    for name in (*DEFAULT_REQUIREMENT_FILES, *extra_files):
        _add_requirements_file(
            declared, read, name, set(), required=name in extra_files
        )
    return declared


def _add_pyproject(declared: Declared, text: bytes) -> None:
    try:
        document = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return  # the config loader reports a broken pyproject.toml
    project = document.get("project", {})
    specs: list[str] = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        specs.extend(extra)
    for group in document.get("dependency-groups", {}).values():
        specs.extend(s for s in group if isinstance(s, str))
    poetry = document.get("tool", {}).get("poetry", {})
    poetry_names = _poetry_names(poetry)
    if "name" in project:
        declared.project_name = canonicalize_name(project["name"])
    if specs or poetry_names or "project" in document:
        declared.sources.append("pyproject.toml")
    for spec in specs:
        name = requirement_name(spec)
        if name:
            declared.names.add(name)
    declared.names.update(canonicalize_name(n) for n in poetry_names)


def _poetry_names(poetry: dict[str, Any]) -> list[str]:
    tables = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
    tables += [g.get("dependencies", {}) for g in poetry.get("group", {}).values()]
    return [name for table in tables for name in table if name.lower() != "python"]


def _add_requirements_file(
    declared: Declared, read: Reader, path: str, seen: set[str], required: bool
) -> None:
    path = posixpath.normpath(path)
    if path in seen:
        return  # `-r` cycles happen; pip would loop, we stop
    seen.add(path)
    content = read(path)
    if content is None:
        if required:
            declared.sources.append(f"{path} (missing)")
        return
    declared.sources.append(path)
    for line in logical_lines(content.decode("utf-8", errors="replace")):
        include = _include_target(line)
        if include is not None:
            target = posixpath.join(posixpath.dirname(path), include)
            _add_requirements_file(declared, read, target, seen, required=True)
            continue
        name = requirement_line_name(line)
        if name:
            declared.names.add(name)


def logical_lines(text: str) -> list[str]:
    """Lines of a requirements file with continuations joined and comments cut."""
    lines, pending = [], ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = _strip_comment(pending + raw)
        pending = ""
        if line:
            lines.append(line)
    if pending and _strip_comment(pending):
        lines.append(_strip_comment(pending))
    return lines


def _strip_comment(line: str) -> str:
    # As pip: `#` starts a comment at the line start or after whitespace, so
    # `url#egg=name` survives.
    return re.sub(r"(^|\s+)#.*$", "", line).strip()


def _include_target(line: str) -> str | None:
    match = re.match(r"(?:-r|--requirement)(?:\s*=\s*|\s+|(?=\S))(\S+)", line)
    return match.group(1) if match else None


def requirement_line_name(line: str) -> str | None:
    """The canonical distribution name a requirements-file line declares, if any."""
    if line.startswith(("-e", "--editable")):
        return _url_name(line.split(None, 1)[-1].lstrip("=").strip())
    if line.startswith("-"):
        return None  # -c constraints, --index-url and other options declare nothing
    spec = _drop_options(line)
    if "://" in spec.split("@", 1)[0] or spec.startswith(("file:", "./", "../", "/")):
        return _url_name(spec)
    return requirement_name(spec)


def requirement_name(spec: str) -> str | None:
    """The canonical name of a PEP 508 requirement (`name[extra] @ url; marker`)."""
    try:
        return canonicalize_name(Requirement(spec).name)
    except InvalidRequirement:
        return None


def _drop_options(line: str) -> str:
    # `name==1.0 --hash=sha256:...`: per-requirement options follow the spec.
    words = line.split()
    for i, word in enumerate(words):
        if word.split("=", 1)[0] in _VALUE_OPTIONS and i > 0:
            return " ".join(words[:i])
    return line


def _url_name(url: str) -> str | None:
    egg = _EGG.search(url)
    if egg:
        return canonicalize_name(egg.group(1))
    wheel = _WHEEL.search(url.split("#", 1)[0])
    return canonicalize_name(wheel.group(1)) if wheel else None
