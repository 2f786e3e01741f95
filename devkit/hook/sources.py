"""Where the checked files come from: the index (staged or all) or the disk."""

from __future__ import annotations

import os
import re
from pathlib import Path

from devkit.errors import ConfigError
from devkit.hook import git
from devkit.hook.declared import DEFAULT_REQUIREMENT_FILES

_PYTHON_SHEBANG = re.compile(rb"^#!.*\bpython(3(\.\d+)?|w)?[dt]?\s")


def is_python(path: str, head: bytes) -> bool:
    """A .py file, or an extension-less script with a python shebang (as pyflakes)."""
    return path.endswith(".py") or (
        "." not in path.rpartition("/")[2] and _PYTHON_SHEBANG.match(head) is not None
    )


class Source:
    """Where file contents come from: the index or the disk."""

    def read(self, path: str) -> bytes | None:
        """A repository-relative file's content, or None when it is absent."""
        raise NotImplementedError

    def tracked_paths(self) -> list[str]:
        """Every path git tracks (to tell the project's own modules apart)."""
        raise NotImplementedError

    def submodules(self) -> list[str]:
        """Paths of the git submodules (gitlinks) in the index."""
        raise NotImplementedError

    root: Path


class IndexSource(Source):
    """Content as staged: blobs read from the index (GIT_INDEX_FILE honoured)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, bytes | None] = {}
        self._listing: git.IndexListing | None = None  # the whole index, once read

    def candidates(self, all_files: bool) -> list[git.IndexEntry]:
        """Staged (or all tracked) files, the config files left out.

        Nothing is read but the config files' content, on the way, in the same
        git call: the caller picks which files to read by name
        (`may_be_python`, or the config's ASL glob) once the config is known.
        """
        if all_files:
            entries = self._whole_index().entries
        else:
            staged = git.staged_paths(self.root)
            if not staged:
                return []
            entries = git.index_entries(self.root, [*staged, *_CONFIG_FILES])
        configs = [e for e in entries if _is_config(e.path)]
        for entry, data in zip(configs, self.contents(configs), strict=True):
            self._cache[entry.path] = data
        for name in _CONFIG_FILES:
            self._cache.setdefault(name, None)
        return [e for e in entries if not _is_config(e.path)]

    def contents(
        self, entries: list[git.IndexEntry], split: bool = True
    ) -> list[bytes | None]:
        """The staged content of each entry (None: a conflicted file now gone).

        `split` as for `git.read_blobs`.
        """
        blobs = [e.blob for e in entries if not e.conflicted]
        staged = iter(git.read_blobs(self.root, blobs, split))
        # Unresolved merges have no staged version: check the file as the user
        # sees it (conflict markers are a syntax error), never a side or the base.
        disk = DiskSource(self.root)
        return [disk.read(e.path) if e.conflicted else next(staged) for e in entries]

    def read(self, path: str) -> bytes | None:
        if path not in self._cache:
            self._cache[path] = git.read_staged(self.root, path)
        return self._cache[path]

    def tracked_paths(self) -> list[str]:
        return self._whole_index().paths

    def submodules(self) -> list[str]:
        return self._whole_index().submodules

    def _whole_index(self) -> git.IndexListing:
        # One `git ls-files` serves the file list, the project's module tree
        # and its submodules.
        if self._listing is None:
            self._listing = git.index_listing(self.root)
        return self._listing


class DiskSource(Source):
    """Content as on disk, for explicit paths (the pre-commit framework's way)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._index = IndexSource(root)

    def read(self, path: str) -> bytes | None:
        try:
            return (self.root / path).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def tracked_paths(self) -> list[str]:
        return self._index.tracked_paths()

    def submodules(self) -> list[str]:
        return self._index.submodules()


# Read together with the staged files: one git round-trip instead of three.
_CONFIG_FILES = ("pyproject.toml", "setup.cfg", *DEFAULT_REQUIREMENT_FILES)


def _is_config(path: str) -> bool:
    return path in _CONFIG_FILES


def may_be_python(path: str) -> bool:
    name = path.rpartition("/")[2]
    return name.endswith(".py") or "." not in name


def files_on_disk(root: Path, paths: list[str], cwd: Path) -> list[tuple[str, bytes]]:
    """The given files (folders walked for .py files) with repository-relative names."""
    files = []
    for given in paths:
        path = (cwd / given).resolve()
        targets = _walk_python(path) if path.is_dir() else [path]
        for target in targets:
            try:
                data = target.read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read {given}: {exc.strerror}") from exc
            files.append((_relative(target, root), data))
    return files


def _walk_python(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and d != "__pycache__"
        )
        found += [Path(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
    return found


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()  # outside the repository: shown as given
