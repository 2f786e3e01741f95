from __future__ import annotations

from pathlib import Path

from devkit.paths import cache_dir


def test_devkit_cache_dir_wins():
    env = {"DEVKIT_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x", "HOME": "/h"}
    assert cache_dir("hook", env) == Path("/c/hook")


def test_xdg_cache_home_then_home():
    assert cache_dir("hook", {"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path(
        "/x/devkit/hook"
    )
    assert cache_dir("hook", {"HOME": "/h"}) == Path("/h/.cache/devkit/hook")


def test_empty_variables_count_as_unset():
    env = {"DEVKIT_CACHE_DIR": "", "XDG_CACHE_HOME": "", "HOME": "/h"}
    assert cache_dir("lambda-package", env) == Path("/h/.cache/devkit/lambda-package")
