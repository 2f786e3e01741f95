"""The result cache: identical findings warm and cold, invalidated exactly as needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.errors import ConfigError
from devkit.hook import cache as cache_module
from devkit.hook.run import run_hook
from testing.gitrepo import clean_env, commit_all, git, init_repo, write

BIN = Path(sys.executable).parent

FILES = {
    "requirements.txt": "requests\n",
    "pkg/__init__.py": "",
    "pkg/app.py": "import requests\nimport yaml\nimport os\n\nprint(undefined_x)\n",
    "pkg/debug.py": "import pdb\n\npdb.set_trace()\n",
    "pkg/quiet.py": "import sys  # noqa: F401\n",
    "tools/run": "#!/usr/bin/env python3\nimport json\n",
    "LICENSE": "not python\n",
}


def lines(result):
    return [f.format() for f in result.findings]


@pytest.fixture
def project(repo):
    for path, content in FILES.items():
        write(repo, path, content)
    commit_all(repo)
    return repo


def cache_root() -> Path:
    return Path(os.environ["DEVKIT_CACHE_DIR"]) / "hook"


def settings_folder() -> Path:
    # Beside it may be the installed-distribution map, a file, not a folder.
    [folder] = [p for p in cache_root().iterdir() if p.is_dir()]
    return folder


def shards(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name != cache_module.DECLARED)


def test_warm_run_gives_the_cold_findings_from_the_cache(project):
    cold = run_hook(all_files=True)
    warm = run_hook(all_files=True)
    fresh = run_hook(all_files=True, use_cache=False)
    assert (cold.cached, warm.cached) == (0, 5)
    assert lines(warm) == lines(cold) == lines(fresh)
    assert [s.findings for s in warm.summaries] == [1, 5, 2, 0]
    assert warm.files == cold.files == 5


def test_a_changed_file_is_the_only_one_checked_again(project):
    run_hook(all_files=True)
    write(project, "pkg/app.py", "import requests\n\nrequests.get\n")
    git(project, "add", "pkg/app.py")
    result = run_hook(all_files=True)
    assert result.cached == 4
    assert not any(f.path == "pkg/app.py" for f in result.findings)


def test_a_changed_dependency_list_changes_the_verdict_not_the_cache(project):
    assert "add PyYAML" in "\n".join(lines(run_hook(all_files=True)))
    write(project, "requirements.txt", "requests\nPyYAML\n")
    git(project, "add", "requirements.txt")
    result = run_hook(all_files=True)
    # The per-file results still hold; the requirements verdict is new.
    assert result.cached == 5
    assert "PyYAML" not in "\n".join(lines(result))
    assert lines(result) == lines(run_hook(all_files=True, use_cache=False))


def test_a_new_project_module_changes_the_verdict(project):
    run_hook(all_files=True)
    write(project, "yaml.py", "X = 1\n")  # the project's own yaml now
    git(project, "add", "yaml.py")
    result = run_hook(all_files=True)
    assert result.cached == 5
    assert "PyYAML" not in "\n".join(lines(result))


def test_a_changed_included_requirements_file_changes_the_verdict(project):
    # The parsed declarations are kept too: a change in a file reached only
    # through `-r` must still be seen, staged or not yet committed.
    write(project, "requirements.txt", "requests\n-r more.txt\n")
    write(project, "more.txt", "click\n")
    git(project, "add", ".")
    assert "add PyYAML" in "\n".join(lines(run_hook(all_files=True)))
    assert "add PyYAML" in "\n".join(lines(run_hook(all_files=True)))
    write(project, "more.txt", "click\nPyYAML\n")
    git(project, "add", "more.txt")
    assert "PyYAML" not in "\n".join(lines(run_hook(all_files=True)))
    git(project, "rm", "-q", "--cached", "more.txt")
    with pytest.raises(ConfigError, match="more.txt, which does not exist"):
        run_hook(all_files=True)


def test_kept_declarations_serve_each_project_its_own(project, tmp_path):
    # Two projects share the cache folder (same settings): neither may get
    # the other's declarations.
    other = init_repo(tmp_path / "other")
    write(other, "requirements.txt", "requests\nPyYAML\n")
    write(other, "app.py", "import requests\nimport yaml\n\nyaml, requests\n")
    commit_all(other)
    for _ in range(2):
        assert "add PyYAML" in "\n".join(lines(run_hook(all_files=True)))
        assert lines(run_hook(all_files=True, cwd=other)) == []


def test_damaged_kept_declarations_are_parsed_again(project):
    cold = run_hook(all_files=True)
    memo = settings_folder() / cache_module.DECLARED
    for damage in (b"\x00garbage", memo.read_bytes()[:9]):
        memo.write_bytes(damage)
        assert lines(run_hook(all_files=True)) == lines(cold)
    # ... and kept again, whole.
    assert lines(run_hook(all_files=True)) == lines(cold)


def test_a_warm_run_loads_no_checker_and_no_other_command(project):
    # What makes a re-check of a cached tree fast: pyflakes, the AST walkers,
    # packaging's requirement parser and the other commands' libraries load
    # only when something must be checked or parsed again.
    probe = (
        "import sys\n"
        "from devkit.cli import main\n"
        "code = main(['hook', 'run', '--all-files', '-q'])\n"
        "print(code, *sorted(sys.modules))\n"
    )

    def loaded() -> tuple[str, set[str]]:
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.splitlines()[-1]
        code, *modules = out.split()
        return code, set(modules)

    heavy = {
        "pyflakes.checker", "packaging.requirements", "packaging.utils",
        "devkit.hook.checks.pyflakes_check", "devkit.hook.checks.debugger_check",
        "boto3", "rich", "devkit.cli.s3_stream", "devkit.cli.play",
    }  # fmt: skip
    cold_code, cold = loaded()
    assert {"pyflakes.checker", "packaging.requirements"} <= cold
    warm_code, warm = loaded()
    assert warm_code == cold_code == "1"
    assert warm & heavy == set()


def test_changed_check_settings_invalidate_every_file(project):
    run_hook(all_files=True)
    write(project, "pyproject.toml", '[tool.devkit.hook]\nbuiltins = ["undefined_x"]\n')
    git(project, "add", "pyproject.toml")
    result = run_hook(all_files=True)
    assert result.cached == 0
    assert "undefined_x" not in "\n".join(lines(result))
    assert run_hook(all_files=True).cached == 5


def test_allowing_a_debugger_in_one_file_invalidates_that_file_only(project):
    write(project, "pyproject.toml", "[tool.devkit.hook]\n")
    git(project, "add", "pyproject.toml")
    run_hook(all_files=True)
    write(
        project,
        "pyproject.toml",
        '[tool.devkit.hook]\nallow-debugger = { "pkg/debug.py" = ["pdb"] }\n',
    )
    git(project, "add", "pyproject.toml")
    result = run_hook(all_files=True)
    assert result.cached == 4
    assert not any(f.path == "pkg/debug.py" for f in result.findings)


def test_staged_runs_and_paths_on_disk_use_the_cache(project):
    write(project, "pkg/new.py", "import pdb\n")
    git(project, "add", "pkg/new.py")
    assert run_hook().cached == 0
    assert run_hook().cached == 1
    # A file on disk is keyed by the same blob id git gives it.
    assert run_hook(["pkg/new.py"]).cached == 1


def test_no_cache_writes_no_results(project):
    run_hook(all_files=True, use_cache=False)
    # (The installed-distribution map may be kept: it is not a file's result.)
    assert not cache_root().exists() or not any(
        p.is_dir() for p in cache_root().iterdir()
    )


def test_the_cache_folder_is_private(project):
    run_hook(all_files=True)
    folder = settings_folder()
    assert folder.stat().st_mode & 0o777 == 0o700
    assert cache_root().stat().st_mode & 0o777 == 0o700


def test_a_damaged_shard_is_a_miss_not_an_error(project):
    cold = run_hook(all_files=True)
    [first, *others] = shards(settings_folder())
    first.write_bytes(b"\x00garbage")
    for shard in others:
        shard.write_bytes(shard.read_bytes()[:7])  # truncated
    warm = run_hook(all_files=True)
    assert warm.cached == 0 and lines(warm) == lines(cold)
    assert run_hook(all_files=True).cached == 5


def test_an_unwritable_cache_folder_costs_only_the_cache(project, monkeypatch):
    blocker = write(project, ".git/not-a-folder", "x")
    monkeypatch.setenv("DEVKIT_CACHE_DIR", str(blocker))
    assert lines(run_hook(all_files=True)) == lines(run_hook(all_files=True))


def test_shards_stay_within_their_bound(project, monkeypatch):
    monkeypatch.setattr(cache_module, "SHARD_BYTES", 300)
    for n in range(30):
        write(project, f"gen/m{n}.py", f"import os\nX = {n}\n")
    git(project, "add", "gen")
    run_hook(all_files=True)
    assert all(s.stat().st_size <= 300 for s in shards(settings_folder()))
    assert lines(run_hook(all_files=True)) == lines(
        run_hook(all_files=True, use_cache=False)
    )


def test_old_settings_folders_are_pruned(project):
    for n in range(cache_module.KEEP_FOLDERS + 2):
        write(project, "pyproject.toml", f'[tool.devkit.hook]\nbuiltins = ["b{n}"]\n')
        git(project, "add", "pyproject.toml")
        run_hook(all_files=True)
    # (Beside them: the installed-distribution map, a file, not a folder.)
    folders = [p for p in cache_root().iterdir() if p.is_dir()]
    assert len(folders) == cache_module.KEEP_FOLDERS


def test_the_summary_says_how_many_files_came_from_the_cache(project):
    def run(*args):
        return subprocess.run(
            [str(BIN / "devkit"), "hook", "run", "--all-files", *args],
            capture_output=True,
            text=True,
            env=clean_env(),
        )

    cold, warm, off = run(), run(), run("--no-cache")
    assert cold.stdout == warm.stdout == off.stdout != ""
    assert cold.stderr.splitlines()[-1] == "checked 5 files"
    assert warm.stderr.splitlines()[-1] == (
        "checked 5 files (5 unchanged, from the cache)"
    )
    assert off.stderr.splitlines()[-1] == "checked 5 files"
