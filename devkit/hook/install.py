"""Install and remove the git pre-commit hook, keeping any hook that was there.

Another hook manager (the pre-commit framework, husky, lefthook,
simple-git-hooks) owns its hook file and has its own place to add a command:
devkit refuses to move such a hook aside unless --force and says where to add
`devkit hook run` instead. A hook file tracked in git is never written over.
"""

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
from devkit.hook.managers import Manager, detect_manager, tracked_advice

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
    runner: str | None = None  # a manager that already runs ours as its legacy hook


@dataclass(frozen=True)
class UninstallResult:
    """What uninstall removed and restored."""

    hook: Path
    removed: bool
    restored: bool = False
    legacy_removed: bool = False  # ours, kept aside by another manager


class ManagedHookError(GitError):
    """The hook belongs to a hook manager or to git: add devkit there instead.

    `advice` is the few lines that say how; the message stays one line.
    """

    def __init__(self, message: str, advice: str) -> None:
        super().__init__(message)
        self.advice = advice


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
    _refuse_tracked(cwd, hook)
    foreign = os.path.lexists(hook) and not is_ours(hook)
    manager = detect_manager(hook) if foreign else None
    if manager and not force:
        if manager.runs_legacy and is_ours(legacy):
            # `devkit hook install && pre-commit install`: it runs ours already.
            return InstallResult(legacy, changed=False, runner=manager.name)
        raise _managed(hook, manager)
    if is_ours(legacy):
        legacy.unlink()  # a stale copy of ours left aside: it would run twice
    kept, removed = None, False
    if foreign:
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
    if os.path.lexists(hook) and not is_ours(hook) and is_ours(legacy):
        # Another manager kept ours aside and runs it: remove only ours.
        legacy.unlink()
        return UninstallResult(hook, removed=False, legacy_removed=True)
    removed = False
    if os.path.lexists(hook):
        if not is_ours(hook):
            raise GitError(f"{hook} is not devkit's hook; left it as it is")
        if _tracked(cwd, hook):
            raise GitError(
                f"{hook} is tracked in git; left it as it is: remove its"
                " devkit lines and commit that instead"
            )
        hook.unlink()  # a symlink is removed, never the file it points to
        removed = True
    restored = os.path.lexists(legacy)
    if restored:
        os.replace(legacy, hook)
    return UninstallResult(hook, removed=removed, restored=restored)


def _managed(hook: Path, manager: Manager) -> ManagedHookError:
    return ManagedHookError(
        f"{hook} belongs to {manager.name}; add devkit to {manager.config}"
        " instead (or pass --force to replace that hook, which stops"
        f" {manager.name}'s hooks)",
        manager.advice,
    )


def _refuse_tracked(cwd: str | Path | None, hook: Path) -> None:
    # core.hooksPath may point into the work tree: a committed hook folder.
    if not _tracked(cwd, hook) or is_ours(hook):
        return
    raise ManagedHookError(
        f"{hook} is tracked in git; devkit never writes over a tracked file:"
        " add the line below to it and commit that",
        tracked_advice(),
    )


def _tracked(cwd: str | Path | None, path: Path) -> bool:
    root = git.repo_root(cwd)
    try:
        relative = path.resolve(strict=False).parent.relative_to(root.resolve())
    except ValueError:
        return False  # outside the work tree (.git/hooks, a shared folder)
    name = (relative / path.name).as_posix()
    out = git.git(["--literal-pathspecs", "ls-files", "-z", "--", name], cwd=root)
    return bool(out.strip(b"\0"))


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
