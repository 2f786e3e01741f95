"""Real commits through the installed hook: refused, accepted, chained."""

from __future__ import annotations

import os
import stat

from devkit.hook.install import install, render_hook, uninstall
from testing.gitrepo import commit_all, git, head, init_repo, write

CLEAN = "import json\n\nprint(json.dumps({}))\n"
BAD = "import json\nimport pdb\n\npdb.set_trace()\n"


def commit(repo, *args):
    return git(repo, "commit", "-m", "change", *args, check=False)


def test_bad_commit_is_refused_and_clean_one_goes_through(repo):
    install(repo)
    write(repo, "app.py", BAD)
    git(repo, "add", "app.py")
    refused = commit(repo)
    assert refused.returncode == 1
    # git passes a hook's stdout on to its own stderr.
    assert "app.py:2:1: debugger 'pdb' imported" in refused.stderr
    assert "app.py:4:1: debugger call 'pdb.set_trace()'" in refused.stderr
    assert head(repo) == ""

    write(repo, "app.py", CLEAN)
    git(repo, "add", "app.py")
    accepted = commit(repo)
    assert accepted.returncode == 0, accepted.stderr
    assert head(repo) != ""


def test_staged_content_is_checked_not_the_working_tree(repo):
    install(repo)
    write(repo, "app.py", BAD)
    git(repo, "add", "app.py")
    write(repo, "app.py", CLEAN)  # fixed on disk, but not staged
    assert commit(repo).returncode == 1

    git(repo, "add", "app.py")
    write(repo, "app.py", BAD)  # broken on disk after staging the fix
    assert commit(repo).returncode == 0
    assert git(repo, "show", "HEAD:app.py").stdout == CLEAN


def test_commit_with_pathspec_checks_the_temporary_index(repo):
    # `git commit -- path` runs the hook with GIT_INDEX_FILE set to a
    # temporary index holding only that path's working-tree content.
    write(repo, "good.py", CLEAN)
    commit_all(repo)
    install(repo)
    write(repo, "bad.py", BAD)
    git(repo, "add", "bad.py")
    write(repo, "good.py", CLEAN + "\nprint(1)\n")
    only_good = commit(repo, "--", "good.py")
    assert only_good.returncode == 0, only_good.stdout + only_good.stderr

    write(repo, "good.py", BAD)
    assert commit(repo, "--", "good.py").returncode == 1


def test_kept_hook_runs_first_and_its_failure_counts(repo):
    old = write(
        repo, ".git/hooks/pre-commit", "#!/bin/sh\necho old >> old.log\nexit 0\n"
    )
    old.chmod(0o755)
    result = install(repo)
    assert result.kept == repo / ".git/hooks/pre-commit.legacy"
    write(repo, "app.py", CLEAN)
    git(repo, "add", "app.py")
    assert commit(repo).returncode == 0
    assert (repo / "old.log").read_text() == "old\n"

    write(repo, ".git/hooks/pre-commit.legacy", "#!/bin/sh\nexit 3\n")
    write(repo, "app.py", CLEAN + "# more\n")
    git(repo, "add", "app.py")
    assert commit(repo).returncode != 0


def test_worktree_commits_use_the_common_hook(repo, tmp_path):
    write(repo, "app.py", CLEAN)
    commit_all(repo)
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(worktree), "-b", "side")
    result = install(worktree)
    assert result.hook == repo / ".git" / "hooks" / "pre-commit"
    write(worktree, "app.py", BAD)
    git(worktree, "add", "app.py")
    assert commit(worktree).returncode == 1


def test_core_hooks_path_is_honoured(repo):
    git(repo, "config", "core.hooksPath", "githooks")
    result = install(repo)
    assert result.hook == repo / "githooks" / "pre-commit"
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    write(repo, "app.py", BAD)
    git(repo, "add", "app.py")
    assert commit(repo).returncode == 1


def test_install_twice_is_a_no_op_and_uninstall_restores(repo):
    old = write(repo, ".git/hooks/pre-commit", "#!/bin/sh\nexit 0\n")
    old.chmod(0o755)
    first = install(repo)
    second = install(repo)
    assert first.changed and not second.changed
    assert second.kept is None  # the kept hook is not moved again
    hook = repo / ".git/hooks/pre-commit"
    assert hook.stat().st_mode & stat.S_IXUSR
    assert (repo / ".git/hooks/pre-commit.legacy").read_text() == "#!/bin/sh\nexit 0\n"
    done = uninstall(repo)
    assert done.removed and done.restored
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    assert not (repo / ".git/hooks/pre-commit.legacy").exists()


def test_force_replaces_a_foreign_hook(repo):
    write(repo, ".git/hooks/pre-commit", "#!/bin/sh\nexit 1\n")
    result = install(repo, force=True)
    assert result.removed_foreign and result.kept is None
    assert not (repo / ".git/hooks/pre-commit.legacy").exists()
    assert "devkit-hook" in (repo / ".git/hooks/pre-commit").read_text()


def test_uninstall_leaves_a_foreign_hook_alone(repo):
    write(repo, ".git/hooks/pre-commit", "#!/bin/sh\nexit 0\n")
    from devkit.cli import main

    assert main(["hook", "uninstall"]) == 1
    assert (repo / ".git/hooks/pre-commit").read_text() == "#!/bin/sh\nexit 0\n"


def test_a_kept_symlink_is_moved_not_followed(repo, tmp_path):
    target = write(tmp_path, "shared-hook", "#!/bin/sh\nexit 0\n")
    target.chmod(0o755)
    os.symlink(target, repo / ".git/hooks/pre-commit")
    install(repo)
    legacy = repo / ".git/hooks/pre-commit.legacy"
    assert legacy.is_symlink() and os.readlink(legacy) == str(target)
    uninstall(repo)
    assert (repo / ".git/hooks/pre-commit").is_symlink()
    assert target.read_text() == "#!/bin/sh\nexit 0\n"


def test_hook_falls_back_to_devkit_on_path(repo, devkit_on_path):
    hook = write(repo, ".git/hooks/pre-commit", render_hook("/nonexistent/python"))
    hook.chmod(0o755)
    write(repo, "app.py", BAD)
    git(repo, "add", "app.py")
    refused = commit(repo)
    assert refused.returncode == 1
    assert "debugger 'pdb' imported" in refused.stderr


def test_hook_without_devkit_says_what_to_do(repo, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    hook = write(repo, ".git/hooks/pre-commit", render_hook("/nonexistent/python"))
    hook.chmod(0o755)
    write(repo, "app.py", CLEAN)
    git(repo, "add", "app.py")
    refused = commit(repo)
    assert refused.returncode == 1
    assert "devkit not found" in refused.stderr


def test_symlinked_repository_hook_checks_commits(repo, devkit_on_path):
    # The original recipe: symlink devkit's committed hooks/pre-commit.
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "hooks" / "pre-commit"
    os.symlink(script, repo / ".git/hooks/pre-commit")
    write(repo, "app.py", BAD)
    git(repo, "add", "app.py")
    assert commit(repo).returncode == 1
    write(repo, "app.py", CLEAN)
    git(repo, "add", "app.py")
    assert commit(repo).returncode == 0


def test_committed_hook_is_the_installed_template(tmp_path):
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "hooks" / "pre-commit"
    assert script.read_text() == render_hook(".venv/bin/python")
    assert script.stat().st_mode & stat.S_IXUSR
    repo = init_repo(tmp_path / "r")
    assert (
        install(repo, python=".venv/bin/python").hook.read_text() == script.read_text()
    )


def test_commit_all_checks_the_working_tree_changes(repo):
    # `git commit -a` runs the hook with GIT_INDEX_FILE at index.lock.
    write(repo, "app.py", CLEAN)
    commit_all(repo)
    install(repo)
    write(repo, "app.py", BAD)
    assert git(repo, "commit", "-a", "-m", "all", check=False).returncode == 1
