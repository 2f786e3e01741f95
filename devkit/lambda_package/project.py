"""Where a function's dependencies are declared, and the exact pins for a target.

Precedence, first found wins: pylock.toml (PEP 751), uv.lock, poetry.lock,
pyproject.toml [project].dependencies, requirements.txt. A lock file becomes a
requirements file of `name @ wheel-url --hash=...` lines, one wheel per
package chosen for the target, markers already evaluated: the installer then
installs exactly those files with --no-deps and --require-hashes.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)

from devkit.errors import BuildError, ConfigError
from devkit.lambda_package.installers import uv_bin
from devkit.lambda_package.target import Target
from devkit.requirements import read_file, read_requirements

# (kind, file name) in order of precedence.
SOURCES = (
    ("pylock.toml", "pylock.toml"),
    ("uv.lock", "uv.lock"),
    ("poetry.lock", "poetry.lock"),
    ("pyproject.toml", "pyproject.toml"),
    ("requirements.txt", "requirements.txt"),
)
LOCK_KINDS = {"pylock.toml", "uv.lock", "poetry.lock"}
_PYLOCK_NAME = re.compile(r"^pylock\.[^.]+\.toml$")


@dataclass(frozen=True)
class DependencySource:
    """The file the dependencies come from, and what kind of file it is."""

    kind: str
    path: Path
    ignored: tuple[str, ...] = ()  # other sources found and not used

    @property
    def locked(self) -> bool:
        """Exact pins with hashes: install with --no-deps --require-hashes."""
        return self.kind in LOCK_KINDS

    def describe(self) -> str:
        """`dependencies from uv.lock (requirements.txt ignored)`."""
        also = f" ({', '.join(self.ignored)} ignored)" if self.ignored else ""
        return f"dependencies from {self.path.name}{also}"


def find_source(src: Path, named: Path | None) -> DependencySource | None:
    """The dependency source for src: --requirements, else the first found."""
    if named is not None:
        if named.is_dir():
            raise ConfigError(
                f"requirements file {named} is a folder: pass the requirements "
                "file or lock file itself"
            )
        if not named.is_file():
            raise ConfigError(
                f"requirements file {named} not found: check --requirements"
            )
        return DependencySource(kind_of(named), named)
    found = [(kind, src / name) for kind, name in SOURCES]
    for kind, path in found:
        if path.is_dir():
            raise ConfigError(f"{path} is a folder, not a {kind} file: rename it")
    present = [
        (kind, path)
        for kind, path in found
        if path.is_file() and (kind != "pyproject.toml" or _declares(path))
    ]
    if not present:
        return None
    kind, path = present[0]
    # uv.lock and poetry.lock were written from the pyproject.toml beside them.
    ignored = [
        p.name
        for k, p in present[1:]
        if not (k == "pyproject.toml" and kind in {"uv.lock", "poetry.lock"})
    ]
    return DependencySource(kind, path, tuple(ignored))


def kind_of(path: Path) -> str:
    """A file's kind from its name; anything unknown is a requirements file."""
    if _PYLOCK_NAME.match(path.name):
        return "pylock.toml"
    known = {name: kind for kind, name in SOURCES}
    return known.get(path.name, "requirements.txt")


def _declares(pyproject: Path) -> bool:
    # A pyproject.toml that only configures tools (ruff, pytest) declares no
    # dependencies; one with [project] or poetry dependencies does.
    data = read_toml(pyproject)
    project = data.get("project")
    poetry = data.get("tool", {}).get("poetry", {})
    return (
        isinstance(project, dict)
        and ("dependencies" in project or "dependencies" in project.get("dynamic", []))
        or "dependencies" in poetry
    )


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file, or a ConfigError naming the file and the line."""
    try:
        return tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def requirements_for(source: DependencySource, target: Target, work: Path) -> Path:
    """A requirements file the installers read, written into work if needed."""
    if source.kind == "requirements.txt":
        return source.path
    out = work / "requirements.txt"
    if source.kind == "pyproject.toml":
        lines = pyproject_dependencies(source.path)
    elif source.kind == "poetry.lock":
        lines = poetry_pins(source.path, target)
    else:
        pylock = source.path
        if source.kind == "uv.lock":
            pylock = export_uv_lock(source.path, work)
        lines = pylock_pins(pylock, target)
    out.write_text("".join(f"{line}\n" for line in lines))
    return out


def pyproject_dependencies(path: Path) -> list[str]:
    """[project].dependencies, checked; a clear error when they cannot be read."""
    data = read_toml(path)
    project = data.get("project")
    if not isinstance(project, dict) or "dependencies" not in project:
        dynamic = isinstance(project, dict) and "dependencies" in project.get(
            "dynamic", []
        )
        why = (
            "lists them as dynamic"
            if dynamic
            else "has [tool.poetry.dependencies] but no poetry.lock"
        )
        raise ConfigError(
            f"{path} {why}: devkit cannot read them; write a lock file "
            "(uv lock, poetry lock) or a requirements.txt"
        )
    deps = project["dependencies"]
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ConfigError(f"{path}: [project].dependencies must be a list of strings")
    for dep in deps:
        try:
            Requirement(dep)
        except InvalidRequirement as exc:
            raise ConfigError(f"{path}: bad dependency {dep!r}: {exc}") from exc
    return list(deps)


def export_uv_lock(lock: Path, work: Path) -> Path:
    """`uv export` of the lock as pylock.toml: hashes for every wheel, local too."""
    project = lock.parent
    if not (project / "pyproject.toml").is_file():
        raise ConfigError(f"{lock} has no pyproject.toml beside it: uv needs both")
    _check_uv_lock_covers(lock, project / "pyproject.toml")
    out = work / "pylock.toml"
    cmd = [
        uv_bin(),
        "export",
        "--frozen",
        "--format",
        "pylock.toml",
        "--no-dev",
        "--no-emit-project",
        "--no-header",
        "--quiet",
        "--project",
        str(project),
        "-o",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        detail = " ".join(lines[:2]) or "no output"
        raise BuildError(f"uv could not export {lock}: {detail}")
    return out


def _check_uv_lock_covers(lock: Path, pyproject: Path) -> None:
    # --frozen trusts the lock; a dependency added to pyproject.toml after the
    # last `uv lock` would be missing from the zip without a word.
    locked = {
        canonicalize_name(p.get("name", "")) for p in read_toml(lock).get("package", [])
    }
    for dep in pyproject_dependencies(pyproject):
        name = canonicalize_name(Requirement(dep).name)
        if name not in locked:
            raise ConfigError(
                f"{lock} does not list {name} from {pyproject.name}: run `uv lock`"
            )


def marker_environment(target: Target) -> dict[str, str]:
    """PEP 508 marker values for the Lambda runtime (CPython on Linux)."""
    version = target.python_version
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{version}.0",
        "os_name": "posix",
        "platform_machine": target.machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{version}.0",
        "python_version": version,
        "sys_platform": "linux",
        "extra": "",
    }


def applies(marker: str | None, target: Target, lock: Path) -> bool:
    """Whether a lock entry's marker holds on the target."""
    if not marker:
        return True
    try:
        return Marker(marker).evaluate(marker_environment(target))
    except (InvalidMarker, UndefinedEnvironmentName) as exc:
        raise ConfigError(f"{lock}: cannot evaluate marker {marker!r}: {exc}") from exc


def pylock_pins(lock: Path, target: Target) -> list[str]:
    """One `name @ url --hash=sha256:...` line per package that applies."""
    data = read_toml(lock)
    if str(data.get("lock-version", "")).split(".")[0] != "1":
        raise ConfigError(
            f"{lock}: lock-version {data.get('lock-version')!r} is not 1.x"
        )
    lines = []
    for pkg in data.get("packages", []):
        if not applies(pkg.get("marker"), target, lock):
            continue
        name = pkg.get("name", "?")
        wheel = _best_wheel(pkg.get("wheels", []), target)
        if wheel is None:
            raise BuildError(
                f"{lock} has no wheel of {name}=={pkg.get('version', '?')} for "
                f"{target.describe()}: lock again with wheels for the target"
            )
        url = wheel.get("url") or (lock.parent / wheel["path"]).resolve().as_uri()
        sha = wheel.get("hashes", {}).get("sha256")
        if not sha:
            raise ConfigError(f"{lock}: the wheel of {name} has no sha256 hash")
        lines.append(f"{name} @ {url} --hash=sha256:{sha}")
    return lines


def _best_wheel(
    wheels: Sequence[Mapping[str, Any]], target: Target
) -> Mapping[str, Any] | None:
    ranked = []
    for wheel in wheels:
        ref = str(wheel.get("name") or wheel.get("url") or wheel.get("path") or "")
        try:
            tags = parse_wheel_filename(ref.rsplit("/", 1)[-1])[3]
        except InvalidWheelFilename:
            continue
        rank = min((target.tag_rank.get(t, 1 << 30) for t in tags), default=1 << 30)
        if rank < 1 << 30:
            ranked.append((rank, ref, wheel))
    return min(ranked, key=lambda r: (r[0], r[1]))[2] if ranked else None


def poetry_pins(lock: Path, target: Target) -> list[str]:
    """`name==version --hash=...` per main-group package whose marker holds."""
    data = read_toml(lock)
    lines = []
    for pkg in data.get("package", []):
        groups = pkg.get("groups") or [pkg.get("category", "main")]
        if "main" not in groups or pkg.get("optional", False):
            continue
        marker = pkg.get("markers")
        if isinstance(marker, dict):
            marker = marker.get("main")
        if not applies(marker, target, lock):
            continue
        hashes = [
            f["hash"]
            for f in pkg.get("files", [])
            if str(f.get("hash", "")).startswith("sha256:")
            and str(f.get("file", "")).endswith(".whl")
        ]
        name, version = pkg.get("name", "?"), pkg.get("version", "?")
        if not hashes:
            raise BuildError(
                f"{lock} lists no wheel of {name}=={version}: lambda-package "
                "installs wheels only; build one and pass --find-links DIR"
            )
        lines.append(f"{name}=={version} " + " ".join(f"--hash={h}" for h in hashes))
    return lines


def has_hashes(requirements: Path) -> bool:
    """Whether a requirements file (or one it includes) pins hashes."""
    parsed = read_requirements(read_file, str(requirements), by="--requirements")
    return any(line.hashes for line in parsed.lines)


def hashed_for_target(requirements: Path, target: Target, work: Path) -> Path:
    """A hashed requirements file with markers evaluated for the target.

    Written into work, as one file: `-r` includes are read in, `-c` ones named
    by absolute path. Lines whose marker fails are dropped; the others keep
    their hashes and lose their marker, so pip, which would evaluate it for
    this machine, never sees it.
    """
    parsed = read_requirements(read_file, str(requirements), by="--requirements")
    out_lines = []
    for line in parsed.lines:
        remote = "://" in line.value
        if line.constraint or (line.option == "--requirement" and not remote):
            continue  # a -c file is named below; a -r file's lines follow it
        if line.option == "--constraint" and not remote:
            included = Path(line.file).parent / line.value
            out_lines.append(f"--constraint {included.resolve()}")
            continue
        if line.option is not None:
            out_lines.append(line.spec())
            continue
        try:
            req = Requirement(line.value)
        except InvalidRequirement as exc:
            raise ConfigError(
                f"{line.file}:{line.number}: bad requirement {line.value!r}: {exc}"
            ) from exc
        if req.marker and not applies(str(req.marker), target, requirements):
            continue
        req.marker = None
        out_lines.append(replace(line, value=str(req)).spec())
    out = work / "hashed-for-target.txt"
    out.write_text("".join(f"{line}\n" for line in out_lines))
    return out
