"""`devkit hook` through the CLI: exit codes; findings on stdout, the rest on stderr."""

from __future__ import annotations

import subprocess
import sys

from devkit.cli import main
from devkit.cli.hook import hook_main
from testing.gitrepo import git, write


def test_run_prints_findings_on_stdout_and_summaries_on_stderr(repo, capsys):
    write(repo, "b.py", "import os\n")
    write(repo, "a.py", "import pdb\n\n\ndef f():\n    return undefined\n")
    git(repo, "add", ".")
    assert main(["hook", "run"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "a.py:1:1: 'pdb' imported but unused",
        "a.py:1:1: debugger 'pdb' imported",
        "a.py:5:12: undefined name 'undefined'",
        "b.py:1:1: 'os' imported but unused",
    ]
    assert "pyflakes: 3 findings" in err and "debugger: 1 finding" in err


def test_clean_run_exits_0_and_quiet_is_silent(repo, capsys):
    write(repo, "a.py", "import os\n\nprint(os.sep)\n")
    git(repo, "add", ".")
    assert main(["hook", "run", "-q"]) == 0
    assert capsys.readouterr() == ("", "")


def test_subfolder_and_explicit_paths(repo, capsys, monkeypatch):
    write(repo, "pkg/a.py", "import os\n")
    monkeypatch.chdir(repo / "pkg")
    assert main(["hook", "run", "-q", "a.py"]) == 1
    assert capsys.readouterr().out == "pkg/a.py:1:1: 'os' imported but unused\n"


def test_bad_config_is_a_usage_error_naming_the_key(repo, capsys):
    write(repo, "pyproject.toml", "[tool.devkit.hook]\nbuiltin = ['_n']\n")
    write(repo, "a.py", "x = 1\n")
    git(repo, "add", ".")
    assert main(["hook", "run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: pyproject.toml: unknown key 'builtin'")


def test_outside_a_repository(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert main(["hook", "install"]) == 1
    assert "not inside a git work tree" in capsys.readouterr().err


def test_install_and_uninstall_say_where(repo, capsys):
    assert main(["hook", "install"]) == 0
    assert (
        f"devkit hook installed at {repo}/.git/hooks/pre-commit"
        in capsys.readouterr().err
    )
    assert main(["hook", "install"]) == 0
    assert "already installed" in capsys.readouterr().err
    assert main(["hook", "uninstall"]) == 0
    assert "removed devkit hook" in capsys.readouterr().err
    assert main(["hook", "uninstall"]) == 0
    assert "no devkit hook" in capsys.readouterr().err


def test_kept_hook_conflict_is_explained(repo, capsys):
    write(repo, ".git/hooks/pre-commit", "#!/bin/sh\n")
    write(repo, ".git/hooks/pre-commit.legacy", "#!/bin/sh\n")
    assert main(["hook", "install"]) == 1
    assert "pass --force" in capsys.readouterr().err


def test_help_lists_the_three_commands(capsys):
    assert main(["hook", "--help"]) == 0
    out = capsys.readouterr().out
    for name in ("run", "install", "uninstall"):
        assert f"  {name} " in out


def test_hook_main_is_the_light_entry_point(repo, capsys):
    write(repo, "a.py", "import os\n")
    git(repo, "add", ".")
    assert hook_main(["run", "-q"]) == 1
    assert capsys.readouterr().out == "a.py:1:1: 'os' imported but unused\n"
    proc = subprocess.run(
        [sys.executable, "-m", "devkit.cli.hook", "run"], capture_output=True, text=True
    )
    assert proc.returncode == 1 and "'os' imported but unused" in proc.stdout
    # The git hook must not pay for other commands' imports.
    probe = "import sys, devkit.cli.hook; print('boto3' in sys.modules)"
    assert (
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True
        ).stdout
        == "False\n"
    )
