"""Read what git is about to commit: staged paths and blobs from the index.

Everything goes through `git` subprocesses that inherit the environment, so
`GIT_INDEX_FILE` (set by `git commit -- path` and `git commit -a`) is honoured
and the working tree is never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from devkit.errors import GitError

# More paths than this are filtered here rather than passed to git, so a huge
# first commit cannot exceed the system's argument-length limit.
_MAX_PATHSPECS = 1000
# From this many blobs on, two `git cat-file` processes read them.
_SPLIT_BLOBS = 128
# Modes of index entries that are not regular files: symlinks and submodules.
_SYMLINK, _GITLINK = "120000", "160000"


class IndexEntry(NamedTuple):
    """A regular file in the index: its path from the repository root and blob id.

    A tuple: a tree lists thousands, and a tuple is made 3x faster than a
    frozen dataclass.
    """

    path: str
    blob: str
    conflicted: bool = False  # stages 1-3 of an unresolved merge


def git(
    args: list[str],
    cwd: str | Path | None = None,
    stdin: bytes | None = None,
    environ: Mapping[str, str] | None = None,
) -> bytes:
    """Run git and return its stdout; raise GitError with git's own message."""
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env=dict(environ) if environ is not None else None,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        detail = reason[-1] if reason else f"exit {proc.returncode}"
        raise GitError(f"git {args[0]} failed: {detail}")
    return proc.stdout


def repo_root(cwd: str | Path | None = None) -> Path:
    """The top level of the working tree that contains `cwd`."""
    out = _rev_parse(["--show-toplevel"], cwd)
    return Path(os.fsdecode(out.rstrip(b"\n")))


def hooks_dir(cwd: str | Path | None = None) -> Path:
    """Where git runs hooks from: honours worktrees and `core.hooksPath`."""
    out = _rev_parse(["--git-path", "hooks"], cwd)
    path = Path(os.fsdecode(out.rstrip(b"\n")))
    return path if path.is_absolute() else Path(cwd or ".").resolve() / path


def _rev_parse(args: list[str], cwd: str | Path | None) -> bytes:
    try:
        return git(["rev-parse", *args], cwd=cwd)
    except GitError as exc:
        raise GitError("not inside a git work tree; run this in a repository") from exc


def staged_paths(root: Path) -> list[str]:
    """Staged paths: added, copied, modified, renamed or conflicted (not deleted)."""
    args = ["--name-only", "-z", "--no-renames", "--diff-filter=ACMRU"]
    out = git(["diff", "--cached", *args], cwd=root)
    return _split_z(out)


@dataclass
class IndexListing:
    """One `git ls-files --stage`: regular files, submodules and every path."""

    entries: list[IndexEntry]  # regular files, one per path
    submodules: list[str]  # gitlinks
    paths: list[str]  # every tracked path (symlinks and gitlinks too)


def index_entries(root: Path, paths: Iterable[str] | None = None) -> list[IndexEntry]:
    """Regular-file index entries (all, or those at `paths`), with their blob ids."""
    return index_listing(root, paths).entries


def index_listing(root: Path, paths: Iterable[str] | None = None) -> IndexListing:
    """The index (all of it, or the entries at `paths`) from one git process."""
    wanted = list(paths) if paths is not None else None
    if wanted == []:
        return IndexListing([], [], [])
    args = ["ls-files", "--stage", "-z"]
    if wanted is not None and len(wanted) <= _MAX_PATHSPECS:
        # Literal pathspecs: a file named `*.py` must not glob.
        args = ["--literal-pathspecs", *args, "--", *wanted]
    keep = set(wanted) if wanted is not None and len(wanted) > _MAX_PATHSPECS else None
    listing = IndexListing([], [], [])
    last, conflicts = None, False
    # Decoded at once (as os.fsdecode would each path): a tree has thousands.
    for record in _decode(git(args, cwd=root)).split("\0"):
        meta, _, path = record.partition("\t")
        if not path or (keep is not None and path not in keep):
            continue
        mode, blob, stage = meta.split(" ")
        if path != last:  # stages 1-3 of a conflict: one path
            listing.paths.append(path)
            last = path
        if mode == _GITLINK:
            listing.submodules.append(path)
        elif mode != _SYMLINK:
            listing.entries.append(IndexEntry(path, blob, stage != "0"))
            conflicts = conflicts or stage != "0"
    if conflicts:
        listing.entries = _unique(listing.entries)
    return listing


def read_blobs(root: Path, blobs: list[str], split: bool = True) -> list[bytes]:
    """The content of each blob id, in order, from `git cat-file --batch`.

    `split`: many blobs are read by two git processes at once (pass False
    where another process already keeps the second core busy).
    """
    if not split or len(blobs) < _SPLIT_BLOBS:
        return _read_blob_batch(root, blobs)
    # Inflating is git's own CPU work: two processes share it on two cores.
    from concurrent.futures import ThreadPoolExecutor

    half = len(blobs) // 2
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(
            lambda part: _read_blob_batch(root, part), (blobs[:half], blobs[half:])
        )
    return first + second


def _read_blob_batch(root: Path, blobs: list[str]) -> list[bytes]:
    if not blobs:
        return []
    out = _cat_file(root, "--batch", blobs)
    contents, pos = [], 0
    for _ in blobs:
        header_end = out.index(b"\n", pos)
        _oid, _kind, size = out[pos:header_end].split(b" ")
        start = header_end + 1
        contents.append(out[start : start + int(size)])
        pos = start + int(size) + 1  # the blob is followed by a newline
    return contents


def blob_sizes(root: Path, blobs: list[str]) -> list[int]:
    """The size of each blob id, in order (0: not in the object store).

    Reads object headers only: ~20 ms for a few thousand loose objects, an
    eighth of reading their content.
    """
    if not blobs:
        return []
    out = _cat_file(root, "--batch-check=%(objectsize)", blobs)
    return [int(line) if line.isdigit() else 0 for line in out.split(b"\n")[:-1]]


def _cat_file(root: Path, mode: str, blobs: list[str]) -> bytes:
    return git(
        ["cat-file", mode], cwd=root, stdin="".join(b + "\n" for b in blobs).encode()
    )


def read_staged(root: Path, path: str) -> bytes | None:
    """One file's staged content, or None when it is not in the index."""
    entries = index_entries(root, [path])
    return read_blobs(root, [entries[0].blob])[0] if entries else None


def _split_z(out: bytes) -> list[str]:
    return [p for p in _decode(out).split("\0") if p]


def _decode(out: bytes) -> str:
    # Paths are bytes on disk; os.fsdecode's rule (surrogateescape) keeps
    # non-UTF-8 names round-trippable. One decode for all: as fast as a split.
    return out.decode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


def _unique(entries: list[IndexEntry]) -> list[IndexEntry]:
    # During a merge conflict a path has stages 1-3 (the base and both sides)
    # and no staged content: one entry, marked, to be read from the work tree.
    seen: dict[str, IndexEntry] = {}
    for entry in entries:
        seen.setdefault(entry.path, entry)
    return list(seen.values())
