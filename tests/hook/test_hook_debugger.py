"""The debugger check: every listed form is found, look-alikes are not."""

from __future__ import annotations

import ast

import pytest

from devkit.hook.checks.debugger_check import check_tree, may_have_debugger
from devkit.hook.checks.requirements_check import collect_imports
from devkit.hook.run import run_hook
from testing.gitrepo import git, write


def found(source: str, allowed=frozenset()) -> list[str]:
    tree = ast.parse(source)
    imported = [use.dotted for use in collect_imports(tree)]
    assert may_have_debugger(source.encode(), imported), "the pre-scan missed it"
    return [f"{f.line}: {f.message}" for f in check_tree(tree, "x.py", allowed)]


@pytest.mark.parametrize(
    "module",
    [
        "pdb",
        "ipdb",
        "pudb",
        "bpdb",
        "pdbr",
        "rpdb",
        "remote_pdb",
        "wdb",
        "q",
        "rdb",
        "pydevd",
        "pydevd_pycharm",
        "debugpy",
        "web_pdb",
    ],
)
def test_every_debugger_module_import_and_call(module):
    assert found(f"import {module}\n{module}.set_trace()\n") == [
        f"1: debugger '{module}' imported",
        f"2: debugger call '{module}.set_trace()'",
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("breakpoint()\n", ["1: debugger call 'breakpoint()'"]),
        (
            "import builtins\nbuiltins.breakpoint()\n",
            ["2: debugger call 'builtins.breakpoint()'"],
        ),
        (
            "import sys\nsys.breakpointhook()\n",
            ["2: debugger call 'sys.breakpointhook()'"],
        ),
        ("import IPython\nIPython.embed()\n", ["2: debugger call 'IPython.embed()'"]),
        (
            "import pytest\npytest.set_trace()\n",
            ["2: debugger call 'pytest.set_trace()'"],
        ),
        (
            "import pdb as p\np.set_trace()\n",
            ["1: debugger 'pdb' imported", "2: debugger call 'pdb.set_trace()'"],
        ),
        ("import IPython as ip\nip.embed()\n", ["2: debugger call 'IPython.embed()'"]),
        (
            "from IPython import embed\nembed()\n",
            [
                "1: debugger 'IPython.embed' imported",
                "2: debugger call 'IPython.embed()'",
            ],
        ),
        (
            "from pdb import set_trace as st\nst()\n",
            [
                "1: debugger 'pdb.set_trace' imported",
                "2: debugger call 'pdb.set_trace()'",
            ],
        ),
        (
            "from celery.contrib import rdb\nrdb.set_trace()\n",
            [
                "1: debugger 'celery.contrib.rdb' imported",
                "2: debugger call 'celery.contrib.rdb.set_trace()'",
            ],
        ),
        ("import celery.contrib.rdb\n", ["1: debugger 'celery.contrib.rdb' imported"]),
        (
            "import pydevd_pycharm\npydevd_pycharm.settrace('localhost', port=1)\n",
            [
                "1: debugger 'pydevd_pycharm' imported",
                "2: debugger call 'pydevd_pycharm.settrace()'",
            ],
        ),
        (
            "import debugpy\ndebugpy.listen(5678)\n",
            ["1: debugger 'debugpy' imported", "2: debugger call 'debugpy.listen()'"],
        ),
        (
            "def f():\n    import ipdb; ipdb.set_trace()\n",
            ["2: debugger 'ipdb' imported", "2: debugger call 'ipdb.set_trace()'"],
        ),
        ("__import__('pdb').set_trace()\n", ["1: debugger 'pdb' imported"]),
        (
            "import importlib\nimportlib.import_module('ipdb')\n",
            ["2: debugger 'ipdb' imported"],
        ),
    ],
)
def test_debugger_forms(source, expected):
    assert found(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "def breakpoint():\n    pass\n\nbreakpoint()\n",
        "from .q import x\nfrom . import pdb\npdb.set_trace()\n",
        "from mylib import breakpoint\nbreakpoint()\n",
        "import IPython\nprint(IPython.__version__)\n",
        "# pdb.set_trace()\nx = 'import pdb; breakpoint()'\n",
        "import pytest\npytest.fixture()\n",
        "import sys\nsys.breakpointhook = None\n",
        "class Debugger:\n    def breakpoint(self):\n        pass\n\n"
        "Debugger().breakpoint()\n",
    ],
)
def test_non_findings(source):
    assert check_tree(ast.parse(source), "x.py") == []


def test_pre_scan_skips_files_without_any_hint():
    assert not may_have_debugger(b"import os\nquery = q\nprint(os.sep)\n")


def test_allowed_debuggers_per_path(repo):
    write(repo, "tests/runner.py", "import pdb\n\npdb.post_mortem()\n")
    write(repo, "app.py", "import pdb\n\npdb.post_mortem()\n")
    write(
        repo,
        "pyproject.toml",
        '[tool.devkit.hook]\nallow-debugger = { "tests/*" = ["pdb"] }\n',
    )
    git(repo, "add", ".")
    assert [f.format() for f in run_hook().findings] == [
        "app.py:1:1: debugger 'pdb' imported",
        "app.py:3:1: debugger call 'pdb.post_mortem()'",
    ]
