"""Install and remove the git pre-commit hook, keeping any hook that was there."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from devkit.errors import GitError
from devkit.fileio import EXECUTABLE, atomic_write
from devkit.hook import git

HOOK_NAME = "pre-commit"
LEGACY_NAME = "pre-commit.legacy"
# Present in every script devkit writes: how install/uninstall recognise ours.
MARKER = "# devkit-hook: pre-commit."


@dataclass(frozen=True)
class InstallResult:
    """Where the hook went and what happened to the one that was there."""

    hook: Path
    changed: bool  # False: the same hook was already installed
    kept: Path | None = None  # a foreign hook moved aside, run first
    removed_foreign: bool = False  # --force deleted a foreign hook


@dataclass(frozen=True)
class UninstallResult:
    """What uninstall removed and restored."""

    hook: Path
    removed: bool
    restored: bool = False


def render_hook(python: str) -> str:
    """The hook script, recording `python` as the interpreter to run devkit with."""
    template = resources.files("devkit.hook").joinpath("resources", "pre-commit.tmpl")
    return template.read_text(encoding="utf-8").replace(
        "@INSTALL_PYTHON@", shlex.quote(python)
    )


def is_ours(path: Path) -> bool:
    """Whether `path` (or the file a symlink points to) is a devkit hook."""
    try:
        with open(path, "rb") as handle:
            return MARKER.encode() in handle.read(4096)
    except OSError:
        return False  # absent, a broken symlink, unreadable: not ours


def install(
    cwd: str | Path | None = None, force: bool = False, python: str = sys.executable
) -> InstallResult:
    """Install the hook where git runs it (worktrees and core.hooksPath included)."""
    hooks = git.hooks_dir(cwd)
    hook, legacy = hooks / HOOK_NAME, hooks / LEGACY_NAME
    kept, removed = None, False
    if os.path.lexists(hook) and not is_ours(hook):
        if force:
            hook.unlink()
            removed = True
        else:
            _keep_aside(hook, legacy)
            kept = legacy
    content = render_hook(python)
    if hook.is_symlink() and is_ours(hook):
        return InstallResult(hook, changed=False)  # a symlink to ours: leave it
    if _read(hook) == content:
        return InstallResult(hook, changed=False, kept=kept, removed_foreign=removed)
    _write_executable(hook, content)
    return InstallResult(hook, changed=True, kept=kept, removed_foreign=removed)


def uninstall(cwd: str | Path | None = None) -> UninstallResult:
    """Remove our hook only, and put back the hook it kept aside."""
    hooks = git.hooks_dir(cwd)
    hook, legacy = hooks / HOOK_NAME, hooks / LEGACY_NAME
    removed = False
    if os.path.lexists(hook):
        if not is_ours(hook):
            raise GitError(f"{hook} is not devkit's hook; left it as it is")
        hook.unlink()  # a symlink is removed, never the file it points to
        removed = True
    restored = os.path.lexists(legacy)
    if restored:
        os.replace(legacy, hook)
    return UninstallResult(hook, removed=removed, restored=restored)


def _keep_aside(hook: Path, legacy: Path) -> None:
    if os.path.lexists(legacy):
        raise GitError(
            f"{hook} is not devkit's and {legacy.name} already exists; "
            "move one of them away, or pass --force to replace the hook"
        )
    os.replace(hook, legacy)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _write_executable(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: git never sees a half-written hook.
    atomic_write(path, content.encode("utf-8"), mode=EXECUTABLE)
