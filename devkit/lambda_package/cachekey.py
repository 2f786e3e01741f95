"""What decides a dependency cache entry: requirement text and local files.

The requirement text alone is not enough: `mylib==1.0` from a `--find-links`
folder can be rebuilt under the same version. So the key also covers the bytes
of every local artefact the requirements can reach (wheel folders, local
wheels, project folders). VCS and project-folder requirements need a build,
which --only-binary refuses, so they never reach the cache.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)

from devkit.requirements import read_file, read_requirements

# Build output, caches and VCS data in a local project folder: not its content.
_SKIP_DIRS = {
    ".git",
    ".hg",
    ".venv",
    "venv",
    "__pycache__",
    "build",
    "dist",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
}


@dataclass(frozen=True)
class RequirementsScan:
    """What one requirements file (with its -r/-c includes) reaches."""

    content: bytes  # the text of every file, includes too
    pinned: frozenset[str]  # canonical names pinned with == / === or a file
    local: tuple[Path, ...]  # local wheels, project folders, find-links folders


def scan_requirements(path: Path) -> RequirementsScan:
    """Read a requirements file and every file it includes, recursively."""
    parsed = read_requirements(read_file, str(path), by="--requirements")
    pinned: set[str] = set()
    local: list[Path] = []
    for line in parsed.lines:
        base = Path(line.file).parent
        if line.option == "--find-links":
            local += _local_candidates(line.value, base)
        elif line.option in (None, "--editable"):
            _classify(line.value, base, pinned, local)
    return RequirementsScan(
        b"\0".join(f.content for f in parsed.files),
        frozenset(pinned),
        tuple(dict.fromkeys(local)),
    )


def _classify(line: str, base: Path, pinned: set[str], local: list[Path]) -> None:
    try:
        req = Requirement(line)
    except InvalidRequirement:
        url = line  # a bare path or URL
        name = None
    else:
        url = req.url or ""
        name = canonicalize_name(req.name)
        specs = list(req.specifier)
        exact = len(specs) == 1 and specs[0].operator in {"==", "==="}
        if url.endswith(".whl") or (exact and "*" not in specs[0].version):
            pinned.add(name)  # one version, or one wheel file (a lock's pins)
    paths = _local_candidates(url.removeprefix("file://"), base) if url else []
    local += paths
    if paths and name:
        pinned.add(name)  # keyed on its content


def _local_candidates(ref: str, base: Path) -> list[Path]:
    # pip reads a relative path against the requirements file's folder when
    # it exists there, else against the working folder; hash whichever exists.
    if "://" in ref:
        return []
    ref = ref.split("#", 1)[0].split("[", 1)[0]
    candidates = [Path(ref)] if os.path.isabs(ref) else [base / ref, Path(ref)]
    return [p.resolve() for p in candidates if p.exists()]


def local_digest(paths: Sequence[Path]) -> str:
    """SHA-256 over the names and bytes of every file under each path."""
    h = hashlib.sha256()
    for root in paths:
        h.update(f"{root}\0".encode())
        for rel, file in _files(root):
            h.update(f"{rel}\0{file.stat().st_size}\0".encode())
            with file.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def _files(root: Path) -> list[tuple[str, Path]]:
    if root.is_file():
        return [(root.name, root)]
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.is_file():
                found.append((path.relative_to(root).as_posix(), path))
    return found


def local_wheel_names(paths: Sequence[Path]) -> list[str]:
    """Distribution names of the wheels at these paths (files or flat folders)."""
    names: set[str] = set()
    for root in paths:
        wheels = [root] if root.is_file() else sorted(root.glob("*.whl"))
        for wheel in wheels:
            try:
                names.add(parse_wheel_filename(wheel.name)[0])
            except InvalidWheelFilename:
                continue
    return sorted(names)
