"""The dependency cache never ships stale code: local files, --refresh, unpinned."""

from __future__ import annotations

import json
import zipfile

import pytest

from devkit.lambda_package import install as install_mod
from testing.wheels import build_wheel


class Said(list):
    """The status lines about the cache (the dependency source line left out)."""

    def append(self, msg):
        if not msg.startswith("dependencies from "):
            super().append(msg)


def lib_file(result, name):
    with zipfile.ZipFile(result.output) as zf:
        return zf.read(f"lib/{name}").decode()


def mylib(folder, marker):
    return build_wheel(
        folder, "mylib", "1.0", {"mylib/__init__.py": f"FIX = {marker}\n"}
    )


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_local_wheel_rebuilt_under_the_same_version_is_installed_again(
    build, function_dir, tmp_path, installer
):
    local = tmp_path / "local-wheels"
    mylib(local, "False")
    (function_dir / "requirements.txt").write_text("mylib==1.0\n")
    first = build(function_dir, find_links=[str(local)], installer=installer)
    assert "FIX = False" in lib_file(first, "mylib/__init__.py")
    mylib(local, "True")  # the fix, same name and version
    second = build(function_dir, find_links=[str(local)], installer=installer)
    assert second.cache_hit is False
    assert "FIX = True" in lib_file(second, "mylib/__init__.py")
    assert build(function_dir, find_links=[str(local)], installer=installer).cache_hit


def test_wheel_named_by_path_in_requirements_is_keyed_on_its_bytes(build, function_dir):
    wheel = mylib(function_dir.parent / "dist", "False")
    (function_dir / "requirements.txt").write_text(f"{wheel}\n")
    assert "FIX = False" in lib_file(build(function_dir), "mylib/__init__.py")
    mylib(function_dir.parent / "dist", "True")
    second = build(function_dir)
    assert second.cache_hit is False
    assert "FIX = True" in lib_file(second, "mylib/__init__.py")


def test_refresh_installs_again_and_replaces_the_entry(build, function_dir, tmp_path):
    (function_dir / "requirements.txt").write_text("purepkg==1.0\n")
    assert build(function_dir).cache_hit is False
    assert build(function_dir).cache_hit is True
    refreshed = build(function_dir, refresh=True)
    assert refreshed.cache_hit is False
    assert "WHERE" in lib_file(refreshed, "purepkg/__init__.py")
    entries = [p.name for p in (tmp_path / "cache").iterdir()]
    assert len(entries) == 1 and not entries[0].startswith(".")
    assert build(function_dir).cache_hit is True


def test_unpinned_resolution_is_reused_with_a_note_then_expires(
    build, function_dir, tmp_path
):
    (function_dir / "requirements.txt").write_text("purepkg\n")
    assert build(function_dir).cache_hit is False
    said = Said()
    assert build(function_dir, on_status=said.append).cache_hit is True
    assert said == [
        "dependencies cached: reused the resolution of 0 h ago for unpinned "
        "purepkg; pass --refresh to resolve again (done automatically after 24 h)"
    ]
    (meta_path,) = (tmp_path / "cache").glob("*/meta.json")
    meta = json.loads(meta_path.read_text())
    meta["resolved_at"] -= install_mod.RESOLUTION_TTL + 1
    meta_path.write_text(json.dumps(meta))
    assert build(function_dir).cache_hit is False  # resolved again


def test_fully_pinned_requirements_are_reused_silently(build, function_dir):
    (function_dir / "requirements.txt").write_text("purepkg==1.0\n")
    build(function_dir)
    said = Said()
    assert build(function_dir, on_status=said.append).cache_hit is True
    assert said == []


def test_transitive_unpinned_dependency_counts_as_unpinned(build, function_dir):
    # markerpkg is pinned, but the extpkg it pulls in is not.
    (function_dir / "requirements.txt").write_text("markerpkg==1.0\n")
    build(function_dir)
    said = Said()
    build(function_dir, on_status=said.append)
    assert len(said) == 1 and "for unpinned extpkg;" in said[0]
