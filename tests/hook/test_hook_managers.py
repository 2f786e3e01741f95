"""devkit beside the real hook managers: pre-commit, husky, lefthook, simple-git-hooks.

Each test installs the real tool (pre-commit from the dev extras, the npm ones
from testing/package.json, which scripts/_env.sh installs), installs devkit in
one order or the other, commits for real, and counts how often each hook ran.
devkit's runs are counted by a logging wrapper around the interpreter the hook
records (and around the `devkit` console script the managers call).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.hook.install import ManagedHookError, install, uninstall
from devkit.hook.managers import RUN
from testing.gitrepo import clean_env, git, write

TESTING = Path(__file__).resolve().parents[2] / "testing"
NODE_BIN = TESTING / "node_modules" / ".bin"
BIN = Path(sys.executable).parent


def npm_tool(name: str) -> Path:
    tool = NODE_BIN / name
    if shutil.which("node") is None:
        pytest.skip("node is not installed; .ci/run and scripts/_env.sh need it")
    assert tool.exists(), f"{tool} missing: run `source scripts/_env.sh`"
    return tool


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A log of devkit runs, and wrappers that write to it before running devkit."""
    log = tmp_path / "runs.log"
    wrappers = tmp_path / "bin"
    wrappers.mkdir()
    python = wrappers / "python"
    python.write_text(
        f'#!/bin/sh\necho devkit >> "{log}"\nexec "{sys.executable}" "$@"\n'
    )
    devkit = wrappers / "devkit"
    devkit.write_text(f'#!/bin/sh\necho devkit >> "{log}"\nexec "{BIN}/devkit" "$@"\n')
    for script in (python, devkit):
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    return Log(log, python)


class Log:
    def __init__(self, path: Path, python: Path) -> None:
        self.path, self.python = path, python

    def take(self, name: str = "devkit") -> int:
        """How many lines `name` logged since the last call."""
        if not self.path.exists():
            return 0
        lines = self.path.read_text().splitlines()
        self.path.write_text("\n".join(x for x in lines if x != name and x) + "\n")
        return lines.count(name)


def run(repo: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    # A timeout: before the fix, a hook that ran itself never returned.
    return subprocess.run(
        [str(a) for a in args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )


def commit(repo: Path, n: int) -> subprocess.CompletedProcess[str]:
    write(repo, "app.py", f"import json\n\nprint(json.dumps({n}))\n")
    git(repo, "add", "app.py")
    return run(repo, "git", "commit", "-q", "-m", f"change {n}")


def ok(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr


PRE_COMMIT_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: team-hook
        name: team hook
        entry: sh -c 'echo team >> "$0"' {log}
        language: system
        pass_filenames: false
        always_run: true
"""


def pre_commit_repo(repo: Path, runs: Log) -> None:
    write(repo, ".pre-commit-config.yaml", PRE_COMMIT_CONFIG.format(log=runs.path))
    git(repo, "add", ".pre-commit-config.yaml")


def test_devkit_then_pre_commit_runs_each_once_and_never_loops(repo, runs):
    pre_commit_repo(repo, runs)
    install(repo, python=str(runs.python))
    ok(run(repo, BIN / "pre-commit", "install"))
    # pre-commit kept ours as pre-commit.legacy and runs it in migration mode.
    assert "devkit-hook" in (repo / ".git/hooks/pre-commit.legacy").read_text()
    ok(commit(repo, 1))
    assert (runs.take("team"), runs.take()) == (1, 1)

    again = install(repo, python=str(runs.python))
    assert again.runner == "the pre-commit framework" and not again.changed
    ok(commit(repo, 2))
    assert (runs.take("team"), runs.take()) == (1, 1)

    # Uninstalling devkit removes only its kept copy; pre-commit goes on alone.
    done = uninstall(repo)
    assert done.legacy_removed and not done.removed
    ok(commit(repo, 3))
    assert (runs.take("team"), runs.take()) == (1, 0)
    ok(run(repo, BIN / "pre-commit", "uninstall"))
    assert not (repo / ".git/hooks/pre-commit").exists()


def test_pre_commit_uninstalled_first_gives_devkit_its_hook_back(repo, runs):
    pre_commit_repo(repo, runs)
    install(repo, python=str(runs.python))
    ok(run(repo, BIN / "pre-commit", "install"))
    ok(run(repo, BIN / "pre-commit", "uninstall"))
    ok(commit(repo, 1))
    assert (runs.take("team"), runs.take()) == (0, 1)


def test_a_kept_hook_calling_ours_again_stops_with_one_line(repo, runs):
    install(repo, python=str(runs.python))
    legacy = write(
        repo,
        ".git/hooks/pre-commit.legacy",
        '#!/bin/sh\nexec "$(dirname "$0")/pre-commit" "$@"\n',
    )
    legacy.chmod(0o755)
    refused = commit(repo, 1)
    assert refused.returncode == 1
    assert "(a loop)" in refused.stderr
    assert runs.take() == 1  # the outer hook's own checks still ran, once


def test_devkit_refuses_to_chain_behind_pre_commit(repo, runs):
    pre_commit_repo(repo, runs)
    ok(run(repo, BIN / "pre-commit", "install"))
    hook = repo / ".git/hooks/pre-commit"
    before = hook.read_text()
    refused = run(repo, BIN / "devkit", "hook", "install")
    assert refused.returncode == 1
    first, *advice = refused.stderr.splitlines()
    assert first.startswith("error: ") and "pre-commit framework" in first
    assert ".pre-commit-config.yaml" in first and "--force" in first
    assert hook.read_text() == before
    assert not (repo / ".git/hooks/pre-commit.legacy").exists()
    ok(commit(repo, 1))
    assert (runs.take("team"), runs.take()) == (1, 0)

    # The advice, pasted as printed, is a working pre-commit config.
    snippet = "\n".join(line for line in advice[1:] if line.startswith("  "))
    config = repo / ".pre-commit-config.yaml"
    config.write_text(config.read_text() + snippet + "\n")
    git(repo, "add", ".pre-commit-config.yaml")
    ok(commit(repo, 2))
    assert (runs.take("team"), runs.take()) == (1, 1)


def test_force_replaces_pre_commit_hook(repo, runs):
    pre_commit_repo(repo, runs)
    ok(run(repo, BIN / "pre-commit", "install"))
    result = install(repo, force=True, python=str(runs.python))
    assert result.removed_foreign
    ok(commit(repo, 1))
    assert (runs.take("team"), runs.take()) == (0, 1)


def test_the_repository_manifest_is_valid_for_pre_commit(repo):
    manifest = Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml"
    ok(run(repo, BIN / "pre-commit", "validate-manifest", manifest))
    assert f"entry: {RUN}" in manifest.read_text()


def husky_repo(repo: Path, runs: Log) -> Path:
    husky = npm_tool("husky")
    write(repo, ".husky/pre-commit", f'echo husky >> "{runs.path}"\n')
    ok(run(repo, husky))
    assert git(repo, "config", "core.hooksPath").stdout.strip() == ".husky/_"
    return repo / ".husky/_/pre-commit"


def test_husky_is_detected_not_disabled(repo, runs):
    stub = husky_repo(repo, runs)
    before = stub.read_text()
    with pytest.raises(ManagedHookError) as refused:
        install(repo, python=str(runs.python))
    assert "husky" in str(refused.value) and ".husky/pre-commit" in str(refused.value)
    assert stub.read_text() == before
    assert not (repo / ".husky/_/pre-commit.legacy").exists()
    ok(commit(repo, 1))
    assert (runs.take("husky"), runs.take()) == (1, 0)

    # Following the advice: devkit runs from husky's own hook file.
    advice_line = refused.value.advice.splitlines()[-1].strip()
    hook = repo / ".husky/pre-commit"
    hook.write_text(hook.read_text() + advice_line + "\n")
    ok(commit(repo, 2))
    assert (runs.take("husky"), runs.take()) == (1, 1)


def test_devkit_then_husky_then_back(repo, runs):
    install(repo, python=str(runs.python))
    husky_repo(repo, runs)
    ok(commit(repo, 1))  # git now runs husky's hooks, not .git/hooks
    assert (runs.take("husky"), runs.take()) == (1, 0)
    with pytest.raises(ManagedHookError):
        install(repo, python=str(runs.python))
    # husky 9 has no uninstall: unsetting core.hooksPath is how it goes.
    git(repo, "config", "--unset", "core.hooksPath")
    ok(commit(repo, 2))
    assert (runs.take("husky"), runs.take()) == (0, 1)


def lefthook_repo(repo: Path, runs: Log, extra: str = "") -> Path:
    write(
        repo,
        "lefthook.yml",
        "pre-commit:\n  commands:\n    team:\n"
        f"      run: echo lefthook >> {runs.path}\n" + extra,
    )
    return npm_tool("lefthook")


def test_lefthook_is_detected_and_its_config_runs_devkit(repo, runs):
    lefthook = lefthook_repo(repo, runs)
    ok(run(repo, lefthook, "install"))
    hook = repo / ".git/hooks/pre-commit"
    before = hook.read_text()
    with pytest.raises(ManagedHookError) as refused:
        install(repo, python=str(runs.python))
    assert "lefthook.yml" in str(refused.value)
    assert hook.read_text() == before

    advice = refused.value.advice.splitlines()
    assert advice[0].startswith("add to lefthook.yml")
    devkit_command = "\n".join(advice[3:])  # the `devkit:` entry, as printed
    lefthook_repo(repo, runs, extra=devkit_command + "\n")
    ok(commit(repo, 1))
    assert (runs.take("lefthook"), runs.take()) == (1, 1)


def test_devkit_then_lefthook_then_uninstall_both(repo, runs):
    lefthook = lefthook_repo(repo, runs)
    install(repo, python=str(runs.python))
    ok(run(repo, lefthook, "install"))
    # lefthook keeps ours as pre-commit.old and never runs it.
    ok(commit(repo, 1))
    assert (runs.take("lefthook"), runs.take()) == (1, 0)
    with pytest.raises(ManagedHookError):
        install(repo, python=str(runs.python))
    ok(run(repo, lefthook, "uninstall"))
    ok(commit(repo, 2))
    assert (runs.take("lefthook"), runs.take()) == (0, 1)
    assert uninstall(repo).removed
    assert not (repo / ".git/hooks/pre-commit").exists()


def test_simple_git_hooks_is_detected(repo, runs):
    tool = npm_tool("simple-git-hooks")
    write(
        repo,
        "package.json",
        json.dumps({"simple-git-hooks": {"pre-commit": f"echo sgh >> {runs.path}"}}),
    )
    ok(run(repo, tool))
    with pytest.raises(ManagedHookError) as refused:
        install(repo, python=str(runs.python))
    assert "package.json" in str(refused.value)
    assert RUN in refused.value.advice
    ok(commit(repo, 1))
    assert (runs.take("sgh"), runs.take()) == (1, 0)


def test_a_tracked_hook_file_is_never_written_over(repo, runs):
    script = f'#!/bin/sh\necho team >> "{runs.path}"\n'
    tracked = write(repo, ".githooks/pre-commit", script)
    tracked.chmod(0o755)
    git(repo, "add", ".githooks/pre-commit")
    git(repo, "commit", "-q", "--no-verify", "-m", "hooks")
    git(repo, "config", "core.hooksPath", ".githooks")
    refused = run(repo, BIN / "devkit", "hook", "install", "--force")
    assert refused.returncode == 1
    first, *advice = refused.stderr.splitlines()
    assert first.startswith("error: ") and "tracked in git" in first
    assert advice == [f"  {RUN}"]
    assert git(repo, "status", "--porcelain").stdout == ""

    # Adding the advised line is how devkit joins a committed hook.
    tracked.write_text(tracked.read_text() + advice[0].strip() + "\n")
    ok(commit(repo, 1))
    assert (runs.take("team"), runs.take()) == (1, 1)


def test_a_stale_copy_of_ours_aside_makes_way_for_a_new_foreign_hook(repo, runs):
    # devkit, then pre-commit (ours kept as .legacy), then pre-commit's hook
    # replaced by hand with a plain one: installing again keeps that one.
    pre_commit_repo(repo, runs)
    install(repo, python=str(runs.python))
    ok(run(repo, BIN / "pre-commit", "install"))
    plain = write(
        repo, ".git/hooks/pre-commit", f'#!/bin/sh\necho team >> "{runs.path}"\n'
    )
    plain.chmod(0o755)
    result = install(repo, python=str(runs.python))
    assert result.kept == repo / ".git/hooks/pre-commit.legacy"
    ok(commit(repo, 1))
    assert (runs.take("team"), runs.take()) == (1, 1)


def test_simple_git_hooks_writes_over_devkit_and_its_config_brings_it_back(repo, runs):
    tool = npm_tool("simple-git-hooks")
    install(repo, python=str(runs.python))
    config = {"simple-git-hooks": {"pre-commit": f"echo sgh >> {runs.path}"}}
    write(repo, "package.json", json.dumps(config))
    ok(run(repo, tool))
    assert not (repo / ".git/hooks/pre-commit.legacy").exists()
    ok(commit(repo, 1))
    assert (runs.take("sgh"), runs.take()) == (1, 0)  # theirs replaced ours

    # The README's way: devkit in simple-git-hooks' own config.
    config["simple-git-hooks"]["pre-commit"] += " && devkit hook run"
    write(repo, "package.json", json.dumps(config))
    ok(run(repo, tool))
    ok(commit(repo, 2))
    assert (runs.take("sgh"), runs.take()) == (1, 1)
