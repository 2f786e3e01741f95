from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from testing.gitrepo import init_repo

# The devkit console script next to the interpreter running the tests.
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Each test has its own result cache, never the user's."""
    monkeypatch.setenv("DEVKIT_CACHE_DIR", str(tmp_path / "devkit-cache"))


@pytest.fixture(autouse=True)
def _no_outer_git(monkeypatch):
    """Tests run git in their own repositories, never the one around the suite."""
    for var in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """An empty git repository as the current folder."""
    path = init_repo(tmp_path / "repo")
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def devkit_on_path(monkeypatch):
    """PATH with devkit's console script first (the hook's fallback)."""
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
