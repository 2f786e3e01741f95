"""The pyflakes check: same findings as pyflakes, plus builtins, noqa and crashes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click
import requests

from devkit.hook import run as hook_run
from devkit.hook.analyse import FileSettings, analyse
from devkit.hook.run import run_hook
from testing.gitrepo import commit_all, git, write

# Valid Python that exhausts pyflakes' recursion (ast.parse copes with it).
DEEP = "x = " + "+".join(["1"] * 1000) + "\n"


def lines(result):
    return [f.format() for f in result.findings]


def corpus(repo: Path) -> list[Path]:
    """Two real packages with real pyflakes findings, copied into the repo."""
    for module in (requests, click):
        source = Path(module.__file__).parent
        shutil.copytree(
            source, repo / source.name, ignore=shutil.ignore_patterns("*.pyc")
        )
    return sorted(repo.rglob("*.py"))


def test_findings_equal_pyflakes_own(repo):
    files = corpus(repo)
    proc = subprocess.run(
        [sys.executable, "-m", "pyflakes", "requests", "click"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    theirs = sorted(proc.stdout.splitlines())
    settings = FileSettings(builtins=(), debugger=False, imports=False)
    ours = sorted(
        f.format()
        for path in files
        for f in analyse(
            path.relative_to(repo).as_posix(), path.read_bytes(), settings
        ).findings
    )
    assert len(theirs) > 40
    assert ours == theirs


def test_parallel_run_equals_serial_run(repo, monkeypatch):
    corpus(repo)
    write(repo, "deep.py", DEEP)
    commit_all(repo)
    serial = run_hook(all_files=True, jobs=1)
    monkeypatch.setattr(hook_run, "PARALLEL_MIN_BYTES", 1)
    parallel = run_hook(all_files=True, jobs=2)
    assert lines(parallel) == lines(serial)
    assert parallel.files == serial.files > 30


def test_gettext_underscore_is_a_builtin_and_more_are_configurable(repo):
    write(repo, "app.py", "print(_('hi'), _n('a', 'b', 2), N_('x'))\n")
    git(repo, "add", ".")
    assert lines(run_hook()) == [
        "app.py:1:16: undefined name '_n'",
        "app.py:1:33: undefined name 'N_'",
    ]
    write(repo, "pyproject.toml", '[tool.devkit.hook]\nbuiltins = ["_n", "N_"]\n')
    git(repo, "add", ".")
    assert run_hook().findings == []


def test_noqa_suppresses_all_or_only_named_codes(repo):
    write(
        repo,
        "app.py",
        "import os  # noqa\nimport sys  # noqa: F401\nimport re  # noqa: E501\n"
        "import json  # NOQA:F401,F811\n",
    )
    git(repo, "add", ".")
    assert lines(run_hook()) == ["app.py:3:1: 're' imported but unused"]


def test_non_utf8_file_with_coding_declaration(repo):
    source = "# -*- coding: latin-1 -*-\nimport os\nname = 'café'\n".encode("latin-1")
    write(repo, "legacy.py", source)
    git(repo, "add", ".")
    assert lines(run_hook()) == ["legacy.py:2:1: 'os' imported but unused"]


def test_syntax_error_is_a_finding_like_pyflakes(repo):
    write(repo, "broken.py", "def f(:\n    pass\n")
    write(repo, "fine.py", "import os\n")
    git(repo, "add", ".")
    proc = subprocess.run(
        [sys.executable, "-m", "pyflakes", "broken.py"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    theirs = proc.stderr.splitlines()[0]
    assert lines(run_hook()) == [theirs, "fine.py:1:1: 'os' imported but unused"]


def test_undecodable_file_is_a_finding(repo):
    write(repo, "bad.py", b"x = '\xff\xfe'\n")
    git(repo, "add", ".")
    [finding] = run_hook().findings
    assert finding.path == "bad.py" and finding.line == 1


def test_recursion_error_is_reported_and_the_run_goes_on(repo):
    write(repo, "deep.py", DEEP)
    write(repo, "other.py", "import os\n")
    git(repo, "add", ".")
    result = run_hook()
    assert lines(result) == [
        "deep.py:1:1: pyflakes could not check this file "
        "(RecursionError: maximum recursion depth exceeded)",
        "other.py:1:1: 'os' imported but unused",
    ]


def test_skip_and_exclude_from_config(repo):
    write(repo, "vendor/lib.py", "import os\n")
    write(repo, "app.py", "import os\nimport pdb\n")
    write(
        repo,
        "pyproject.toml",
        '[tool.devkit.hook]\nexclude = ["vendor"]\nskip = ["pyflakes"]\n',
    )
    git(repo, "add", ".")
    result = run_hook()
    assert lines(result) == ["app.py:2:1: debugger 'pdb' imported"]
    skipped = {s.check: s.skipped for s in result.summaries}
    assert "skip" in skipped["pyflakes"]
