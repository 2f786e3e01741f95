"""The credentials file: written atomically, mode 0600, in a 0700 folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from devkit.errors import ConfigError, WriteError
from devkit.fileio import PRIVATE, atomic_write, make_private_dirs


def write_private_json(path: Path, document: dict[str, Any], *, own_dir: bool) -> None:
    """Replace `path` with `document`, readable by the owner only.

    Missing folders are created 0700. With `own_dir` (devkit's config folder)
    an existing folder is tightened to 0700 too; a folder the user chose is
    left as it is.
    """
    folder = path.parent
    try:
        make_private_dirs(folder)
        if own_dir:
            os.chmod(folder, 0o700)
        atomic_write(
            path, (json.dumps(document, indent=2) + "\n").encode(), mode=PRIVATE
        )
    except OSError as exc:
        raise WriteError(
            f"cannot write {path}: {exc.strerror}: pass another --output"
        ) from None


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
