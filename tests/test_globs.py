"""devkit.globs: one rule for hook's `exclude` and lambda-package's `--exclude`."""

from __future__ import annotations

import zipfile

import pytest

from devkit.cli import main
from devkit.globs import matcher, matches
from testing.gitrepo import git, init_repo, write


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("vendor/a.py", "vendor", True),
        ("src/vendor/a.py", "vendor", True),  # no `/`: a name at any depth
        ("src/vendored.py", "vendor", False),
        ("vendor/a.py", "vendor/", True),
        ("docs/conf.py", "docs/conf.py", True),
        ("src/docs/conf.py", "docs/conf.py", False),  # a `/`: from the top
        ("scripts/a/b.py", "scripts/*", True),  # `*` crosses `/`
        ("a/b/gen_x.py", "gen_*.py", True),
        ("a/b.py", "*.md", False),
        ("a/file3.py", "file[0-9].py", True),
        ("a/_b.py", "[!_]*.py", False),
        ("a/b.py", "[!_]*.py", True),
        ("a/b.py", "[", False),
        ("a/^.py", "[^]?py", True),  # `^` first in a class is literal
        ("x[1].py", "x[[]1].py", True),
        ("a/b/c.py", "a/?/c.py", True),
        ("a/b/c.py", "a/[!b]/c.py", False),
        ("flows/x.asl.json", "*.asl.json", True),
        ("flows/x.asl.json.bak", "*.asl.json", False),
        ("a.py", "", False),
        ("sub/b.py", "s?b", True),
        ("s/b.py", "s?b", False),  # `?` stays in a name without `/`
    ],
)
def test_the_rule(path, pattern, expected):
    assert matches(path, pattern) is expected
    assert matcher((pattern, "nothing/*"))(path) is expected


FILES = [
    "vendor/a.py",
    "src/vendor/b.py",
    "docs/conf.py",
    "src/docs/conf.py",
    "gen_x.py",
    "src/gen_y.py",
    "keep.py",
    "src/keep.py",
]
PATTERNS = ["vendor", "docs/conf.py", "gen_*.py"]
KEPT = {"keep.py", "src/keep.py", "src/docs/conf.py"}


def test_hook_and_lambda_package_exclude_the_same_files(tmp_path, monkeypatch, capsys):
    repo = init_repo(tmp_path / "fn")
    for path in FILES:
        write(repo, path, "import os\n")  # a pyflakes finding in every file
    listed = ", ".join(f'"{p}"' for p in PATTERNS)
    write(repo, "pyproject.toml", f"[tool.devkit.hook]\nexclude = [{listed}]\n")
    git(repo, "add", ".")
    monkeypatch.chdir(repo)
    assert main(["hook", "run", "-q"]) == 1
    found = {line.split(":")[0] for line in capsys.readouterr().out.splitlines()}
    assert found == KEPT

    argv = ["lambda-package", ".", "-o", str(tmp_path / "f.zip")]
    argv += [f"--exclude={pattern}" for pattern in PATTERNS]
    assert main(argv) == 0, capsys.readouterr().err
    with zipfile.ZipFile(tmp_path / "f.zip") as zf:
        assert {n for n in zf.namelist() if n.endswith(".py")} == KEPT
