"""The requirements a project declares: requirements files, pyproject.toml, setup.cfg.

pyproject.toml is read as PEP 621 (`[project]`, including dependencies that
`dynamic` leaves to `[tool.setuptools.dynamic]` files or to setup.cfg),
`[dependency-groups]`, Poetry, PDM and uv; setup.cfg as setuptools reads it.
Files are decoded as pip does: a UTF-8 byte-order mark is dropped, CRLF is a
line end.
"""

from __future__ import annotations

import configparser
import posixpath
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devkit.errors import ConfigError

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
        _add_pyproject(declared, read, pyproject)
    setup_cfg = read("setup.cfg")
    if setup_cfg is not None:
        _add_setup_cfg(declared, read, setup_cfg)
    for name in (*DEFAULT_REQUIREMENT_FILES, *extra_files):
        _add_requirements_file(
            declared, read, name, set(), required=name in extra_files
        )
    return declared


def canonicalize_name(name: str) -> str:
    """A distribution name in PEP 503's normal form, exactly as packaging's.

    Written out here because importing packaging.utils loads packaging.tags
    and .version: more time than a whole re-check of a cached tree takes.
    """
    value = name.lower().replace("_", "-").replace(".", "-")
    while "--" in value:
        value = value.replace("--", "-")
    return value


def decode(content: bytes) -> str:
    """Text as pip reads it: UTF-8, a byte-order mark dropped."""
    return content.decode("utf-8-sig", errors="replace")


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
                    declared, read, name, set(), required=True, by="pyproject.toml"
                )


def _add_setup_cfg(declared: Declared, read: Reader, text: bytes) -> None:
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
                    declared, read, name.strip(), set(), required=True, by="setup.cfg"
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
    seen: set[str],
    required: bool,
    by: str = "[tool.devkit.hook] requirement-files",
) -> None:
    path = posixpath.normpath(path)
    if path in seen:
        return  # `-r` cycles happen; pip would loop, we stop
    seen.add(path)
    content = read(path)
    if content is None:
        if required:
            # pip fails on a missing -r file; judging imports against half the
            # declarations would only produce false "add X" findings.
            raise ConfigError(
                f"{by} names {path}, which does not exist (or is not staged);"
                " fix the name or add the file"
            )
        return
    declared.sources.append(path)
    for line in logical_lines(decode(content)):
        include = _include_target(line)
        if include is not None:
            target = posixpath.join(posixpath.dirname(path), include)
            _add_requirements_file(
                declared, read, target, seen, required=True, by=f"-r in {path}"
            )
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
    # Imported here: a re-check whose declarations are unchanged never parses.
    from packaging.requirements import InvalidRequirement, Requirement

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
