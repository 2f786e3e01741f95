"""Which files go into the zip: the sources, the installed lib/, the excludes."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from devkit.errors import BuildError
from devkit.globs import matches_any

# Left out of the sources by default: caches, VCS folders, dotfiles (.env and
# friends hold secrets), lock files and wheels (what they describe is in
# lib/), and the lib/ that the old recipe leaves behind.
DEFAULT_EXCLUDES = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".*",
    "uv.lock",
    "poetry.lock",
    "pylock.toml",
    "pylock.*.toml",
    "*.whl",
)
# Left out of the installed dependencies: scripts whose shebang names the build
# machine's interpreter, caches, and installer bookkeeping with timestamps.
LIB_EXCLUDES = ("bin", "__pycache__", "*.pyc", ".lock", "*.dist-info/uv_cache.json")


@dataclass(frozen=True)
class SourceFile:
    """One file for the zip: its name inside the zip and where it is on disk."""

    arcname: str
    path: Path
    executable: bool


def collect_sources(
    src: Path, excludes: Sequence[str], skip: Iterable[Path] = ()
) -> list[SourceFile]:
    """The function's files under src, sorted, with excludes and symlinks handled."""
    root = src.resolve()
    skipped = {p.resolve() for p in skip}
    found: list[SourceFile] = []
    _walk(root, root, "", [*DEFAULT_EXCLUDES, *excludes], skipped, found, set())
    return sorted(found, key=lambda f: f.arcname.encode())


def _walk(
    root: Path,
    folder: Path,
    prefix: str,
    patterns: list[str],
    skipped: set[Path],
    found: list[SourceFile],
    seen: set[Path],
) -> None:
    real = folder.resolve()
    if real in seen:  # a symlink loop inside SRC_DIR
        return
    seen = seen | {real}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        rel = f"{prefix}{entry.name}"
        path = Path(entry.path)
        if matches_any(rel, patterns) or (prefix == "" and entry.name == "lib"):
            continue
        if entry.is_dir(follow_symlinks=False) and (path / "pyvenv.cfg").exists():
            continue  # a virtualenv, whatever its name
        target = _inside(root, path) if entry.is_symlink() else path
        if target.resolve() in skipped:
            continue
        if target.is_dir():
            _walk(root, path, f"{rel}/", patterns, skipped, found, seen)
        elif target.is_file():
            executable = os.stat(target).st_mode & 0o111 != 0
            found.append(SourceFile(rel, target, executable))


def _inside(root: Path, link: Path) -> Path:
    resolved = link.resolve()
    if resolved != root and root not in resolved.parents:
        raise BuildError(
            f"symlink {link} points outside the source folder ({resolved}): "
            "copy the file in or add --exclude for it"
        )
    return resolved


def collect_lib(lib: Path, excludes: Sequence[str]) -> list[SourceFile]:
    """The installed dependencies as zip entries under lib/, sorted."""
    patterns = [*LIB_EXCLUDES, *excludes]
    root = lib.resolve()
    found: list[SourceFile] = []
    for dirpath, dirnames, filenames in os.walk(lib):
        rel_dir = Path(dirpath).relative_to(lib).as_posix()
        prefix = "" if rel_dir == "." else f"{rel_dir}/"
        dirnames[:] = [d for d in dirnames if not matches_any(prefix + d, patterns)]
        for name in filenames:
            rel = prefix + name
            path = Path(dirpath, name)
            if matches_any(rel, patterns) or matches_any(f"lib/{rel}", excludes):
                continue
            if path.is_symlink():
                path = _inside(root, path)
            executable = os.stat(path).st_mode & 0o111 != 0
            found.append(SourceFile(f"lib/{rel}", path, executable))
    return sorted(found, key=lambda f: f.arcname.encode())


def lib_file_bytes(f: SourceFile) -> bytes:
    """A lib/ file's content; a RECORD without the lines of files left out.

    uv's uv_cache.json (left out) holds the ctime of a local wheel, and the
    RECORD lists its hash: kept, that line would make every install of a
    local wheel a different zip. The RECORD then lists what the zip holds.
    """
    data = f.path.read_bytes()
    if not f.arcname.endswith(".dist-info/RECORD"):
        return data
    lines = data.decode("utf-8", errors="surrogateescape").splitlines(keepends=True)
    kept = [
        line
        for line in lines
        if not matches_any(line.rsplit(",", 2)[0].strip('"'), LIB_EXCLUDES)
    ]
    return "".join(kept).encode("utf-8", errors="surrogateescape")


def top_level_names(files: Iterable[SourceFile], prefix: str = "") -> set[str]:
    """Importable top-level names (packages and modules) among the files."""
    names = set()
    for f in files:
        rel = f.arcname.removeprefix(prefix)
        first = rel.split("/", 1)[0]
        if "/" in rel and not first.endswith((".dist-info", ".data", ".libs")):
            names.add(first)
        elif rel.endswith(".py"):
            names.add(rel[:-3])
    return names
