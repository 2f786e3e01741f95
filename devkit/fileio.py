"""Writing files so that nobody ever sees half of one: the one copy of the rule.

Every file devkit leaves behind (a Lambda zip, a git hook, a token file, a
state file, a cache entry) is written to a temporary file in the same folder,
flushed to disk, given its final mode and renamed over the target: a reader
sees the old file or the new one, never a mix, and a crash leaves at most a
dot-named temporary file that the next write does not trip over.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PRIVATE = 0o600  # secrets: tokens, credentials
EXECUTABLE = 0o755  # git hooks


@contextlib.contextmanager
def atomic_writer(
    path: Path, *, mode: int | None = None, durable: bool = True
) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces `path` when the block ends cleanly.

    `mode` None gives an ordinary file (0666 less the umask); PRIVATE keeps
    the 0600 that mkstemp creates, so a secret is never readable by others,
    not even for a moment. On any exception the temporary file is removed and
    `path` is left as it was. OSError propagates: callers name the file.
    `durable=False` skips the fsyncs, for files whose loss in a crash costs
    nothing (cache entries): still atomic, never half-written.
    """
    import tempfile  # here: it loads shutil, random; a warm hook run writes nothing

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, _ordinary_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)


def atomic_write(
    path: Path, data: bytes, *, mode: int | None = None, durable: bool = True
) -> None:
    """Replace `path` with `data` atomically (see atomic_writer)."""
    with atomic_writer(path, mode=mode, durable=durable) as handle:
        handle.write(data)


def make_private_dirs(folder: Path) -> None:
    """Create `folder` and every missing parent 0700, whatever the umask.

    `Path.mkdir(mode=0o700, parents=True)` gives only the last folder that
    mode; the parents get 0777 less the umask (0777 under umask 000).
    """
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # a racing process made it
            path.mkdir(mode=0o700)
            os.chmod(path, 0o700)


def _ordinary_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk too.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename stands
    finally:
        os.close(fd)
