from __future__ import annotations

import os
import stat

import pytest

from devkit.fileio import PRIVATE, atomic_write, atomic_writer, make_private_dirs


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda value: os.umask(value)
    os.umask(old)


def test_private_dirs_are_0700_all_the_way_down_even_under_umask_000(tmp_path, umask):
    umask(0o000)
    leaf = tmp_path / "a" / "b" / "c"
    make_private_dirs(leaf)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", leaf):
        assert _mode(folder) == 0o700, folder


def test_private_dirs_leave_existing_folders_alone(tmp_path, umask):
    (tmp_path / "mine").mkdir(mode=0o755)
    make_private_dirs(tmp_path / "mine" / "new")
    assert _mode(tmp_path / "mine") == 0o755
    assert _mode(tmp_path / "mine" / "new") == 0o700


def test_a_secret_is_0600_under_umask_000(tmp_path, umask):
    umask(0o000)
    target = tmp_path / "token.json"
    atomic_write(target, b"{}", mode=PRIVATE)
    assert _mode(target) == 0o600


def test_an_ordinary_file_follows_the_umask(tmp_path, umask):
    umask(0o027)
    target = tmp_path / "fn.zip"
    atomic_write(target, b"zip")
    assert _mode(target) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "hook"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("disk went away")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hook"]


def test_a_write_replaces_the_file_whole(tmp_path):
    target = tmp_path / "state.json"
    target.write_bytes(b"old and longer than the new")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
