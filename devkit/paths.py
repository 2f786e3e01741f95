"""Where devkit keeps files of its own: one rule for every command's cache."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def cache_dir(name: str, environ: Mapping[str, str] = os.environ) -> Path:
    """The cache folder for one command, e.g. cache_dir("hook").

    DEVKIT_CACHE_DIR/<name> if set, else $XDG_CACHE_HOME/devkit/<name>, else
    ~/.cache/devkit/<name> (the XDG base-directory rule that pip and uv follow
    on Linux). The folder is not created here: a cache is written lazily.
    Configuration (play-auth's credentials) lives in click.get_app_dir("devkit"),
    which follows the same XDG rule for ~/.config.
    """
    if environ.get("DEVKIT_CACHE_DIR"):
        return Path(environ["DEVKIT_CACHE_DIR"]) / name
    home = environ.get("HOME") or os.path.expanduser("~")
    base = environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return Path(base) / "devkit" / name
