"""Real git repositories in temporary folders, for the hook's tests and bench."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Variables git sets while running a hook; a test run from inside a hook must
# not aim its own git commands at the outer repository.
_GIT_HOOK_VARS = ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX")


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment without git's per-repository variables."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_HOOK_VARS}
    env.update(extra or {})
    return env


def git(
    repo: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git in `repo`; text output; raise on failure when `check`."""
    proc = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env or clean_env(),
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"git {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
        )
    return proc


def init_repo(path: Path) -> Path:
    """A new repository with an identity and no hooks of its own."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "devkit test")
    git(path, "config", "user.email", "test@example.invalid")
    git(path, "config", "commit.gpgsign", "false")
    for sample in (path / ".git" / "hooks").glob("*.sample"):
        sample.unlink()
    return path


def write(repo: Path, relpath: str, content: str | bytes) -> Path:
    """Write a file (creating folders) and return its path."""
    target = repo / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        target.write_text(content, encoding="utf-8")
    else:
        target.write_bytes(content)
    return target


def commit_all(repo: Path, message: str = "base") -> None:
    """Stage everything and commit without running hooks (test set-up only)."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)


def head(repo: Path) -> str:
    """The commit id HEAD points to ("" before the first commit)."""
    proc = git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False)
    return proc.stdout.strip()
