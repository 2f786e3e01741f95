"""The requirements a project declares: requirements files, pyproject.toml, setup.cfg.

pyproject.toml is read as PEP 621 (`[project]`, including dependencies that
`dynamic` leaves to `[tool.setuptools.dynamic]` files or to setup.cfg),
`[dependency-groups]`, Poetry, PDM and uv; setup.cfg as setuptools reads it.
Requirements files are read by `devkit.requirements`, the parser
lambda-package uses too.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

from devkit.requirements import (
    Reader,
    canonicalize_name,
    decode,
    read_requirements,
    requirement_name,
)

DEFAULT_REQUIREMENT_FILES = ("requirements.txt",)

# The index, not the disk, is what gets committed.
_ABSENT = "does not exist (or is not staged)"


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
        _add_pyproject(declared, read, pyproject)
    setup_cfg = read("setup.cfg")
    if setup_cfg is not None:
        _add_setup_cfg(declared, read, setup_cfg)
    for name in (*DEFAULT_REQUIREMENT_FILES, *extra_files):
        _add_requirements_file(declared, read, name, required=name in extra_files)
    return declared


def _add_pyproject(declared: Declared, read: Reader, text: bytes) -> None:
    try:
        document = tomllib.loads(decode(text))
    except tomllib.TOMLDecodeError:
        return  # the config loader reports a broken pyproject.toml
    project = _table(document, "project")
    specs: list[str] = _strings(project.get("dependencies"))
    for extra in _table(project, "optional-dependencies").values():
        specs.extend(_strings(extra))
    for group in _table(document, "dependency-groups").values():
        specs.extend(_strings(group))
    tool = _table(document, "tool")
    for group in _table(_table(tool, "pdm"), "dev-dependencies").values():
        specs.extend(_strings(group))
    specs.extend(_strings(_table(tool, "uv").get("dev-dependencies")))
    poetry_names = _poetry_names(_table(tool, "poetry"))
    if isinstance(project.get("name"), str):
        declared.project_name = canonicalize_name(project["name"])
    if specs or poetry_names or "project" in document:
        declared.sources.append("pyproject.toml")
    for spec in specs:
        name = requirement_name(spec)
        if name:
            declared.names.add(name)
    declared.names.update(canonicalize_name(n) for n in poetry_names)
    _add_dynamic(declared, read, _table(_table(tool, "setuptools"), "dynamic"))


def _add_dynamic(declared: Declared, read: Reader, dynamic: dict[str, Any]) -> None:
    # `dynamic = ["dependencies"]` with `dependencies = {file = [...]}`, and the
    # same per extra under `optional-dependencies`: requirements files.
    directives = [dynamic.get("dependencies")]
    directives += list(_table(dynamic, "optional-dependencies").values())
    for directive in directives:
        if isinstance(directive, dict):
            files = directive.get("file", [])
            for name in [files] if isinstance(files, str) else _strings(files):
                _add_requirements_file(
                    declared, read, name, required=True, by="pyproject.toml"
                )


def _add_setup_cfg(declared: Declared, read: Reader, text: bytes) -> None:
    import configparser  # only for projects that have a setup.cfg

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(decode(text), "setup.cfg")
    except configparser.Error:
        return  # setuptools would fail on it too; nothing we can trust here
    values = []
    if parser.has_option("options", "install_requires"):
        values.append(parser.get("options", "install_requires"))
    if parser.has_section("options.extras_require"):
        values += [v for _, v in parser.items("options.extras_require")]
    if parser.has_option("metadata", "name"):
        declared.project_name = declared.project_name or canonicalize_name(
            parser.get("metadata", "name")
        )
    if not values and not parser.has_section("metadata"):
        return
    declared.sources.append("setup.cfg")
    for value in values:
        value = value.strip()
        if value.startswith("file:"):  # `file: requirements.in, extra.in`
            for name in value[len("file:") :].split(","):
                _add_requirements_file(
                    declared, read, name.strip(), required=True, by="setup.cfg"
                )
            continue
        # One requirement per line, as setuptools writes and reads the list.
        for line in value.splitlines():
            dist = requirement_name(line.strip())
            if dist:
                declared.names.add(dist)


def _table(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> list[str]:
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


def _poetry_names(poetry: dict[str, Any]) -> list[str]:
    tables = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
    tables += [g.get("dependencies", {}) for g in poetry.get("group", {}).values()]
    return [name for table in tables for name in table if name.lower() != "python"]


def _add_requirements_file(
    declared: Declared,
    read: Reader,
    path: str,
    required: bool,
    by: str = "[tool.devkit.hook] requirement-files",
) -> None:
    # A missing file named by someone fails: judging imports against half the
    # declarations would only produce false "add X" findings.
    parsed = read_requirements(read, path, by=by, absent=_ABSENT, required=required)
    declared.sources += [f.path for f in parsed.files if not f.constraint]
    declared.names |= parsed.names()
