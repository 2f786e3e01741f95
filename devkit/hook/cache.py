"""Per-file results kept between runs, so an unchanged tree is re-checked at once.

What is kept is the per-file work (`analyse`): pyflakes' and the debugger
check's findings, the file's imports and its `# noqa` lines. An entry's key is
the file's blob id (git's, or the same SHA-1 computed for a file on disk), its
path (findings carry it) and the debuggers allowed there; the folder it lives
in is named by everything else the work depends on: the check settings, the
code of devkit's hook, pyflakes' and Python's versions. Whether an import is
declared is decided afresh on every run from the cached imports, so a changed
requirements file, pyproject.toml or a new module of the project can never
leave a stale verdict. What the project declares is parsed again only when a
file it was read from changes: the few last answers are kept beside the
entries with the content of every file each was read from.

Entries live in 64 shard files per folder under the user cache folder
(`devkit.paths.cache_dir("hook")`), marshal-encoded (data only, nothing that
runs code when read), each replaced atomically; a shard over its size bound
drops its oldest entries, and only the few most recently used folders are kept.
A missing, truncated or foreign shard is a miss, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from devkit.fileio import atomic_write, make_private_dirs
from devkit.hook.analyse import FileResult, FileSettings
from devkit.hook.declared import Declared, read_declared
from devkit.hook.findings import Finding
from devkit.paths import cache_dir
from devkit.requirements import Reader

if TYPE_CHECKING:
    from devkit.hook.checks.requirements_check import ImportUse

FORMAT = 4  # 2: findings carry their warning flag; 3: only judged imports; 4: 64
SHARDS = 64  # files per folder: a cold run writes each once, a commit reads few
SHARD_BYTES = 2 * 1024 * 1024  # 64 shards: at most 128 MiB per settings folder
KEEP_FOLDERS = 4  # settings folders kept (other settings, older devkits)
KEEP_DECLARED = 8  # declarations kept (projects sharing these settings)
DECLARED = "declared"  # the file of those, beside the shards

# A cached entry: None for "not a Python file" (an extension-less file
# without a python shebang), else findings, imports and noqa lines as tuples.
Entry = tuple[object, ...] | None


def blob_id(data: bytes) -> str:
    """git's blob id for `data` (SHA-1 repositories), for files read from disk."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class CacheStats:
    """How many files came from the cache and how many were checked."""

    hits: int = 0
    misses: int = 0


class ResultCache:
    """Lookups and stores of per-file results for one set of check settings."""

    def __init__(self, settings: FileSettings, root: Path | None = None) -> None:
        self.base = root if root is not None else cache_dir("hook")
        self.folder = self.base / _fingerprint(settings)
        # Per path, the part of an entry's key that is not the blob id.
        self._allowed = {
            path: ",".join(sorted(names))
            for path, names in settings.allowed_debuggers.items()
        }
        self._shards: dict[str, dict[str, Entry]] = {}
        self._dirty: set[str] = set()
        self.stats = CacheStats()

    def key(self, blob: str, path: str) -> str:
        """The entry key of one file: content, path, and debuggers allowed there."""
        return f"{blob}\0{path}\0{self._allowed.get(path, '')}"

    def get(self, blob: str, path: str) -> tuple[bool, FileResult | None]:
        """(found, result): result None for a file known not to be Python."""
        shard = self._shards.get(_shard_name(blob))
        if shard is None:
            shard = self._shard(blob)
        entry = shard.get(self.key(blob, path), _MISSING)
        if entry is _MISSING:
            self.stats.misses += 1
            return False, None
        self.stats.hits += 1
        return True, _decode(path, entry)

    def put(self, blob: str, path: str, result: FileResult | None) -> None:
        """Remember one file's result (None: not a Python file)."""
        self._shard(blob)[self.key(blob, path)] = _encode(result)
        self._dirty.add(_shard_name(blob))

    def save(self) -> None:
        """Write the shards that changed; any failure only costs a later miss."""
        if not self._dirty:
            return
        try:
            make_private_dirs(self.folder)
            for name in sorted(self._dirty):
                self._write_shard(name)
            _prune_folders(self.base, keep=self.folder)
        except OSError:
            pass  # a read-only or full disk: the run's findings stand
        self._dirty.clear()

    def declared(self, read: Reader, extra_files: tuple[str, ...]) -> Declared:
        """`read_declared`'s answer, parsed again only if a file it read changed.

        Each kept answer lists every path it was read from with that file's
        content hash (None: absent), in reading order; the parse is a function
        of those contents alone (and of this code: the folder's fingerprint),
        so an answer whose files all read the same still holds.
        """
        path = self.folder / DECLARED
        kept = _read_memo(path)
        for files, reads, values in kept:
            if files == extra_files and all(
                _digest(read(name)) == digest for name, digest in reads
            ):
                return Declared(**values)
        recorded: list[tuple[str, str | None]] = []

        def recording(name: str) -> bytes | None:
            data = read(name)
            recorded.append((name, _digest(data)))
            return data

        declared = read_declared(recording, extra_files)
        entry = (extra_files, tuple(recorded), vars(declared))
        # Not kept on a read-only disk (OSError), nor if a field ever holds
        # something marshal cannot store (ValueError): parsed next time too.
        with contextlib.suppress(OSError, ValueError):
            data = marshal.dumps((FORMAT, [entry, *kept[: KEEP_DECLARED - 1]]))
            make_private_dirs(self.folder)
            atomic_write(path, data, durable=False)
        return declared

    def _shard(self, blob: str) -> dict[str, Entry]:
        name = _shard_name(blob)
        shard = self._shards.get(name)
        if shard is None:
            shard = self._shards[name] = _read_shard(self.folder / name)
        return shard

    def _write_shard(self, name: str) -> None:
        # Another run may have written this shard since it was read: merge,
        # so two concurrent runs lose nothing but each other's overlap.
        entries = _read_shard(self.folder / name)
        entries.update(self._shards[name])
        data = marshal.dumps((FORMAT, entries))
        while len(data) > SHARD_BYTES and entries:
            # Oldest first (dicts keep insertion order): drop the older half.
            for key in list(entries)[: max(1, len(entries) // 2)]:
                del entries[key]
            data = marshal.dumps((FORMAT, entries))
        # Not fsync'd: a cache entry lost in a crash is only a miss, and 64
        # fsyncs would cost a cold run more than the cache saves.
        atomic_write(self.folder / name, data, durable=False)


_MISSING: Entry = ("missing",)


def _read_shard(path: Path) -> dict[str, Entry]:
    # One read, then loads: marshal.load on a file object reads object by
    # object, 4x slower on a warm run's shards.
    try:
        loaded = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if (
        isinstance(loaded, tuple)
        and len(loaded) == 2
        and loaded[0] == FORMAT
        and isinstance(loaded[1], dict)
    ):
        return loaded[1]
    return {}


def _shard_name(blob: str) -> str:
    # Blob ids are uniform: their first byte, folded to SHARDS values.
    return f"{int(blob[:2], 16) % SHARDS:02x}"


def _digest(data: bytes | None) -> str | None:
    return None if data is None else blob_id(data)


def _read_memo(path: Path) -> list[Any]:
    # Checked shape by shape: a damaged or foreign file is only a miss.
    try:
        loaded = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return []
    if not (isinstance(loaded, tuple) and len(loaded) == 2 and loaded[0] == FORMAT):
        return []
    kept = loaded[1] if isinstance(loaded[1], list) else []
    return [
        e
        for e in kept
        if isinstance(e, tuple) and len(e) == 3 and isinstance(e[2], dict)
    ]


def _encode(result: FileResult | None) -> Entry:
    if result is None:
        return None
    return (
        tuple(
            (f.line, f.col, f.message, f.check, f.code, f.warning)
            for f in result.findings
        ),
        tuple(tuple(u) for u in result.imports),
        {n: None if c is None else tuple(c) for n, c in result.noqa.items()},
    )


def _decode(path: str, entry: Entry) -> FileResult | None:
    # Kept as stored where the readers accept it (imports unpack as tuples,
    # noqa codes are only tested with `in`): a warm run decodes little.
    if entry is None:
        return None
    findings, imports, noqa = cast("tuple[Any, list[ImportUse], dict[int, Any]]", entry)
    return FileResult(path, [Finding(path, *f) for f in findings], imports, noqa)


def _fingerprint(settings: FileSettings) -> str:
    """The folder name: everything a file's result depends on besides the file."""
    import pyflakes

    digest = hashlib.sha256()
    for item in (
        FORMAT,
        sys.version,
        pyflakes.__version__,
        *_code_identity(),
        *(
            repr(getattr(settings, f.name))
            for f in fields(settings)
            if f.name != "allowed_debuggers"  # per path: in the entry key
        ),
    ):
        digest.update(str(item).encode() + b"\0")
    return f"v{FORMAT}-{digest.hexdigest()[:24]}"


def _code_identity() -> Iterable[str]:
    # devkit's version alone would miss an edited source checkout (an editable
    # install keeps its version); the size and mtime of the hook's own modules
    # change with any install or edit, and cost a few stat calls.
    # The ASL check runs devkit.sfn's parser and rules: they count too.
    package = Path(__file__).parent
    sfn = package.parent / "sfn"
    modules = [
        *package.glob("*.py"),
        *package.glob("checks/*.py"),
        sfn / "asl.py",
        *sfn.glob("check/*.py"),
    ]
    for path in sorted(modules):
        stat = path.stat()
        yield f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


def _prune_folders(base: Path, keep: Path) -> None:
    import shutil  # only when a run wrote: shutil loads bz2 and lzma

    folders = [p for p in base.iterdir() if p.is_dir() and p != keep]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[KEEP_FOLDERS - 1 :]:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)
    os.utime(keep)  # the folder in use is the newest
