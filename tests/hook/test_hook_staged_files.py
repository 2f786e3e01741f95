"""Which files `devkit hook run` checks, and that it reads them from the index."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devkit.errors import GitError
from devkit.hook import git as hook_git
from devkit.hook.run import run_hook
from testing.gitrepo import commit_all, git, write

CLEAN = "import json\n\nprint(json.dumps({}))\n"
UNUSED = "import json\n"


def lines(result):
    return [f.format() for f in result.findings]


def test_only_staged_python_files_are_checked(repo):
    write(repo, "staged.py", UNUSED)
    write(repo, "unstaged.py", UNUSED)
    write(repo, "notes.txt", "import json\n")
    git(repo, "add", "staged.py", "notes.txt")
    result = run_hook()
    assert lines(result) == ["staged.py:1:1: 'json' imported but unused"]
    assert result.files == 1


def test_renamed_file_is_checked_under_its_new_name_deleted_is_not(repo):
    write(repo, "old.py", UNUSED)
    write(repo, "gone.py", UNUSED)
    commit_all(repo)
    git(repo, "mv", "old.py", "new.py")
    git(repo, "rm", "-q", "gone.py")
    assert lines(run_hook()) == ["new.py:1:1: 'json' imported but unused"]


def test_non_ascii_and_spaced_paths(repo):
    write(repo, "pkg/héllo wörld.py", UNUSED)
    git(repo, "add", ".")
    assert lines(run_hook()) == ["pkg/héllo wörld.py:1:1: 'json' imported but unused"]


def test_symlinks_are_not_followed(repo, tmp_path):
    outside = write(tmp_path, "outside.py", UNUSED)
    os.symlink(outside, repo / "link.py")
    git(repo, "add", "link.py")
    assert run_hook().findings == []


def test_python_scripts_without_extension_are_checked(repo):
    write(repo, "bin/tool", "#!/usr/bin/env python3\nimport json\n")
    write(repo, "bin/run", "#!/bin/sh\nimport json\n")
    git(repo, "add", ".")
    assert lines(run_hook()) == ["bin/tool:2:1: 'json' imported but unused"]


def test_all_files_reads_the_index_and_explicit_paths_read_the_disk(repo):
    write(repo, "a.py", UNUSED)
    write(repo, "b.py", CLEAN)
    commit_all(repo)
    write(repo, "a.py", CLEAN)  # fixed on disk only
    assert lines(run_hook(all_files=True)) == ["a.py:1:1: 'json' imported but unused"]
    assert run_hook(["a.py"]).findings == []


def test_explicit_folder_is_walked(repo):
    write(repo, "pkg/a.py", UNUSED)
    write(repo, "pkg/.hidden/b.py", UNUSED)
    assert lines(run_hook(["pkg"])) == ["pkg/a.py:1:1: 'json' imported but unused"]


def test_paths_and_all_files_together_are_a_usage_error(repo):
    write(repo, "a.py", CLEAN)
    from devkit.errors import ConfigError

    with pytest.raises(ConfigError):
        run_hook(["a.py"], all_files=True)


def test_outside_a_repository_is_a_git_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    with pytest.raises(GitError, match="not inside a git work tree"):
        run_hook()


def test_index_file_variable_is_honoured(repo, monkeypatch):
    write(repo, "a.py", UNUSED)
    git(repo, "add", "a.py")
    other = repo / ".git" / "other-index"
    monkeypatch.setenv("GIT_INDEX_FILE", str(other))
    assert run_hook().findings == []  # the other index has nothing staged
    monkeypatch.delenv("GIT_INDEX_FILE")
    assert len(run_hook().findings) == 1


def test_blobs_of_any_size_round_trip(repo):
    big = b"x = 1\n" * 50_000 + b"\n"
    write(repo, "a.py", big)
    write(repo, "b.py", b"")
    git(repo, "add", ".")
    entries = hook_git.index_entries(repo)
    blobs = hook_git.read_blobs(repo, [e.blob for e in entries])
    assert blobs == [big, b""]
    # Sizes (to share the work out before reading): 0 for an unknown object.
    unknown = "0" * 40
    ids = [entries[0].blob, unknown, entries[1].blob]
    assert hook_git.blob_sizes(repo, ids) == [len(big), 0, 0]


def test_first_commit_and_nothing_staged(repo):
    assert run_hook().files == 0
    write(repo, "a.py", CLEAN)
    git(repo, "add", "a.py")
    assert run_hook().files == 1


def test_non_utf8_file_name_is_printed_as_stored(repo):
    name = os.fsdecode(b"caf\xe9.py")
    write(repo, name, UNUSED)
    git(repo, "add", ".")
    proc = subprocess.run(
        [sys.executable, "-m", "devkit", "hook", "run", "-q"],
        capture_output=True,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    assert proc.stdout == b"caf\xe9.py:1:1: 'json' imported but unused\n"


def test_many_blobs_are_read_in_order(repo):
    # Past 128 blobs two `git cat-file` processes share the reading.
    for i in range(140):
        write(repo, f"m{i:03}.py", f"x = {i}\n" * (i % 7 + 1))
    git(repo, "add", ".")
    entries = hook_git.index_entries(repo)
    blobs = hook_git.read_blobs(repo, [e.blob for e in entries])
    assert blobs == [(repo / e.path).read_bytes() for e in entries]


def test_thousands_of_staged_paths(repo, monkeypatch):
    # Past the pathspec limit the index is listed whole and filtered here.
    monkeypatch.setattr(hook_git, "_MAX_PATHSPECS", 3)
    for i in range(6):
        write(repo, f"p{i}.py", UNUSED if i == 4 else CLEAN)
    write(repo, "other.py", UNUSED)
    commit_all(repo)
    for i in range(6):
        write(repo, f"p{i}.py", (repo / f"p{i}.py").read_text() + "\n")
    git(repo, "add", ".")
    assert lines(run_hook()) == ["p4.py:1:1: 'json' imported but unused"]


def test_workers_check_the_staged_blobs_they_read_themselves(repo, monkeypatch):
    # A large run's workers read their own files' content: it must be what is
    # staged (never the working tree), a conflicted file as the user sees it,
    # and a script's shebang judged from its staged version.
    from devkit.hook import run as hook_run

    for i in range(30):
        write(repo, f"pkg/m{i:02}.py", CLEAN + f"# {i}\n")
    write(repo, "merged.py", CLEAN)
    commit_all(repo)
    git(repo, "checkout", "-q", "-b", "side")
    write(repo, "merged.py", CLEAN + "# side\n")
    commit_all(repo, "side")
    git(repo, "checkout", "-q", "main")
    write(repo, "merged.py", CLEAN + "# main\n")
    commit_all(repo, "main")
    assert git(repo, "merge", "side", check=False).returncode != 0
    write(repo, "staged_unused.py", UNUSED)  # staged with a finding, then fixed
    write(repo, "staged_clean.py", CLEAN)  # staged clean, then broken
    write(repo, "tool", "#!/usr/bin/env python3\n" + UNUSED)
    write(repo, "notes", "just words\n")
    git(repo, "add", "staged_unused.py", "staged_clean.py", "tool", "notes")
    write(repo, "staged_unused.py", CLEAN)
    write(repo, "staged_clean.py", UNUSED)
    write(repo, "tool", "just words\n")
    write(repo, "notes", "#!/usr/bin/env python3\n" + UNUSED)
    expected = [
        "merged.py:4:1: invalid syntax",  # the conflict markers on disk
        "staged_unused.py:1:1: 'json' imported but unused",
        "tool:2:1: 'json' imported but unused",
    ]
    serial = run_hook(all_files=True, jobs=1, use_cache=False)
    assert lines(serial) == expected, lines(serial)
    monkeypatch.setattr(hook_run, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(hook_run, "READ_AHEAD_FILES", 1)
    read_here: list[str] = []  # blobs this process read (not its workers)
    real_read = hook_git.read_blobs

    def read_blobs(root, blobs, split=True):
        read_here.extend(blobs)
        return real_read(root, blobs, split)

    monkeypatch.setattr(hook_git, "read_blobs", read_blobs)
    cold = run_hook(all_files=True, jobs=2)
    warm = run_hook(all_files=True, jobs=2)
    assert lines(cold) == lines(warm) == lines(serial)
    # Every file but merged.py (conflicted: never cached) came from the cache.
    assert cold.files == serial.files == 34 and warm.cached == 33
    staged = {e.blob for e in hook_git.index_entries(repo) if not e.conflicted}
    assert len(staged) > 30 and not staged & set(read_here)
    run_hook(all_files=True, jobs=1, use_cache=False)
    assert staged <= set(read_here)  # a serial run reads them here
