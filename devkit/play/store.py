"""The credentials file: written atomically, mode 0600, in a 0700 folder."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from devkit.errors import ConfigError


def write_private_json(path: Path, document: dict[str, Any], *, own_dir: bool) -> None:
    """Replace `path` with `document`, readable by the owner only.

    Missing folders are created 0700. With `own_dir` (devkit's config folder)
    an existing folder is tightened to 0700 too; a folder the user chose is
    left as it is.
    """
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if own_dir:
            os.chmod(folder, 0o700)
        _atomic_write(path, json.dumps(document, indent=2) + "\n")
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror}: pass another --output"
        ) from None


def _atomic_write(path: Path, text: str) -> None:
    # mkstemp creates the file 0600 whatever the umask, so the secret is never
    # readable by others, not even for a moment; os.replace makes it atomic.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
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


def read_json(path: Path, what: str, hint: str) -> dict[str, Any]:
    """Load a JSON object from `path`; ConfigError with `hint` when unusable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no {what} at {path}: {hint}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"{path} is not JSON (a {what} is): {hint}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path} is not a JSON {what}: {hint}")
    return doc
