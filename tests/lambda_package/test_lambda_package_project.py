"""Projects: pylock.toml, uv.lock, poetry.lock, pyproject.toml, requirements.txt.

The uv.lock and pylock.toml files are written by the real uv against the
tests' own wheels; poetry is not installed here, so poetry.lock is written in
the format poetry 2 writes (lock-version 2.1, groups and markers per package).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile

import pytest

from devkit.errors import BuildError, ConfigError
from devkit.lambda_package.installers import uv_bin

# How a user writes pylock.toml for deployment: uv's export keeps the dev
# group (without a marker) unless told not to.
PYLOCK_EXPORT = ("export", "--format", "pylock.toml", "--no-dev", "-o", "pylock.toml")


def names(path):
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def lib_packages(result):
    return sorted(
        n.split("/")[1].split("-")[0]
        for n in names(result.output)
        if n.startswith("lib/") and n.endswith(".dist-info/METADATA")
    )


def write_pyproject(folder, deps, requires_python=">=3.11"):
    quoted = ", ".join(f'"{d}"' for d in deps)
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "fn"\nversion = "0.1"\n'
        f'requires-python = "{requires_python}"\ndependencies = [{quoted}]\n'
    )


def uv(folder, wheelhouse, *args):
    subprocess.run(
        [
            uv_bin(),
            *args,
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "--python",
            sys.executable,
            "--no-python-downloads",
            "--quiet",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def uv_project(function_dir, wheelhouse):
    """function_dir as a uv project locked against the local wheels."""
    (function_dir / "requirements.txt").write_text("purepkg==2.0\n")  # ignored
    write_pyproject(function_dir, ["purepkg==1.0", "armonly"])
    with (function_dir / "pyproject.toml").open("a") as fh:
        fh.write('[dependency-groups]\ndev = ["scripted"]\n')  # not shipped
    uv(function_dir, wheelhouse, "lock")
    return function_dir


def test_uv_lock_wins_over_requirements_and_is_said(build, uv_project):
    said: list[str] = []
    result = build(uv_project, on_status=said.append, arch="arm64")
    assert said[0] == "dependencies from uv.lock (requirements.txt ignored)"
    assert result.dependency_source == "uv.lock"
    # Exact pins from the lock, markers for the target: extpkg only on arm64.
    assert lib_packages(result) == ["armonly", "extpkg", "purepkg"]
    assert "purepkg-1.0.dist-info/METADATA" in "".join(names(result.output))
    x86 = build(uv_project, arch="x86_64")
    assert lib_packages(x86) == ["armonly", "purepkg"]
    assert "uv.lock" not in names(result.output)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_pylock_from_uv_export_is_installed_exactly(
    build, uv_project, wheelhouse, installer
):
    uv(uv_project, wheelhouse, *PYLOCK_EXPORT)
    result = build(uv_project, installer=installer, arch="arm64")
    assert result.dependency_source == "pylock.toml"
    assert lib_packages(result) == ["armonly", "extpkg", "purepkg"]
    assert "pylock.toml" not in names(result.output)


def test_lock_hash_is_enforced(build, uv_project, wheelhouse):
    uv(uv_project, wheelhouse, *PYLOCK_EXPORT)
    lock = uv_project / "pylock.toml"
    good = hashlib.sha256((wheelhouse / "purepkg-1.0-py3-none-any.whl").read_bytes())
    lock.write_text(lock.read_text().replace(good.hexdigest(), "0" * 64))
    with pytest.raises(BuildError, match="does not match the hash in the lock"):
        build(uv_project)


def test_stale_uv_lock_missing_a_dependency_is_an_error(build, uv_project):
    write_pyproject(uv_project, ["purepkg==1.0", "armonly", "markerpkg"])
    with pytest.raises(ConfigError, match="uv.lock does not list markerpkg .*uv lock"):
        build(uv_project)


def test_pyproject_dependencies_are_resolved_for_the_target(build, function_dir):
    (function_dir / "requirements.txt").unlink()
    write_pyproject(function_dir, ["markerpkg"])
    result = build(function_dir, runtime="python3.12")
    assert result.dependency_source == "pyproject.toml"
    assert lib_packages(result) == ["extpkg", "markerpkg"]
    assert lib_packages(build(function_dir, runtime="python3.11")) == ["markerpkg"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[project]\nname = "fn"\nversion = "0"\ndynamic = ["dependencies"]\n',
            "lists them as dynamic: devkit cannot read them",
        ),
        (
            '[tool.poetry.dependencies]\npython = "^3.12"\nrequests = "*"\n',
            r"has \[tool.poetry.dependencies\] but no poetry.lock",
        ),
        ("[project\nname = 1\n", "is not valid TOML"),
        (
            '[project]\nname = "fn"\nversion = "0"\ndependencies = "purepkg"\n',
            r"\[project\].dependencies must be a list of strings",
        ),
        (
            '[project]\nname = "fn"\nversion = "0"\ndependencies = ["pure pkg!"]\n',
            "bad dependency 'pure pkg!'",
        ),
    ],
)
def test_unreadable_pyproject_dependencies_are_an_error(
    build, function_dir, tmp_path, text, message
):
    (function_dir / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        build(function_dir)
    assert not (tmp_path / "out.zip").exists()


def test_tool_only_pyproject_falls_through_to_requirements(build, function_dir):
    (function_dir / "pyproject.toml").write_text("[tool.ruff]\nline-length = 99\n")
    result = build(function_dir)
    assert result.dependency_source == "requirements.txt"
    assert "lib/purepkg/__init__.py" in names(result.output)


def poetry_lock(wheelhouse, arm_marker):
    def files(*wheels):
        return ", ".join(
            f'{{file = "{w}", hash = "sha256:'
            f'{hashlib.sha256((wheelhouse / w).read_bytes()).hexdigest()}"}}'
            for w in wheels
        )

    return f"""# This file is automatically @generated by Poetry 2.1.3 and should \
not be changed by hand.

[[package]]
name = "armonly"
version = "1.0"
description = ""
optional = false
python-versions = "*"
groups = ["main"]
files = [{files("armonly-1.0-py3-none-any.whl")}]

[package.dependencies]
extpkg = {{version = "*", markers = "platform_machine == \\"aarch64\\""}}

[[package]]
name = "extpkg"
version = "2.0"
description = ""
optional = false
python-versions = "*"
groups = ["main"]
markers = "{arm_marker}"
files = [{
        files(
            "extpkg-2.0-cp312-cp312-manylinux_2_17_aarch64.whl",
            "extpkg-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        )
    }]

[[package]]
name = "purepkg"
version = "2.0"
description = ""
optional = false
python-versions = "*"
groups = ["dev"]
files = [{files("purepkg-2.0-py3-none-any.whl")}]

[metadata]
lock-version = "2.1"
python-versions = "^3.12"
content-hash = "0"
"""


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_poetry_lock_main_group_for_the_target(
    build, function_dir, wheelhouse, installer
):
    (function_dir / "requirements.txt").unlink()
    (function_dir / "pyproject.toml").write_text(
        '[tool.poetry.dependencies]\npython = "^3.12"\narmonly = "*"\n'
    )
    marker = 'platform_machine == \\"aarch64\\"'
    (function_dir / "poetry.lock").write_text(poetry_lock(wheelhouse, marker))
    arm = build(function_dir, arch="arm64", installer=installer)
    assert arm.dependency_source == "poetry.lock"
    assert lib_packages(arm) == ["armonly", "extpkg"]  # purepkg is dev-only
    assert lib_packages(build(function_dir, installer=installer)) == ["armonly"]


def test_poetry_lock_hash_is_enforced(build, function_dir, wheelhouse):
    (function_dir / "requirements.txt").unlink()
    lock = poetry_lock(wheelhouse, "")
    good = hashlib.sha256((wheelhouse / "armonly-1.0-py3-none-any.whl").read_bytes())
    (function_dir / "poetry.lock").write_text(lock.replace(good.hexdigest(), "1" * 64))
    with pytest.raises(BuildError, match="does not match the hash in the lock"):
        build(function_dir)


@pytest.mark.parametrize("name", ["uv.lock", "pylock.toml"])
def test_requirements_option_naming_a_lock_file_reads_it_as_one(
    build, uv_project, wheelhouse, tmp_path, name
):
    uv(uv_project, wheelhouse, *PYLOCK_EXPORT)
    result = build(uv_project, requirements=uv_project / name)
    assert result.dependency_source == name
    assert lib_packages(result) == ["armonly", "purepkg"]


def test_requirements_option_naming_a_folder_is_an_error(build, function_dir):
    with pytest.raises(ConfigError, match="is a folder: pass the requirements file"):
        build(function_dir, requirements=function_dir)


def test_requirements_txt_that_is_a_folder_is_an_error(build, function_dir):
    (function_dir / "requirements.txt").unlink()
    (function_dir / "requirements.txt").mkdir()
    with pytest.raises(ConfigError, match="requirements.txt is a folder"):
        build(function_dir)


def test_lock_builds_reuse_the_cache_without_an_unpinned_note(build, uv_project):
    build(uv_project)
    said: list[str] = []
    assert build(uv_project, on_status=said.append).cache_hit is True
    assert said == ["dependencies from uv.lock (requirements.txt ignored)"]


WHEEL = {
    "name": "purepkg-1.0-py3-none-any.whl",
    "url": "https://h/purepkg-1.0-py3-none-any.whl",
}


@pytest.mark.parametrize(
    ("lock", "error"),
    [
        ('lock-version = "2.0"\n', r"pylock\.toml: lock-version '2\.0' is not 1\.x"),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "purepkg"\nversion = "1.0"\n'
            "marker = \"python_version >>> '3'\"\n",
            r"pylock\.toml: cannot evaluate marker",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "purepkg"\nversion = "1.0"\n'
            'wheels = [{name = "purepkg-1.0-cp39-cp39-win_amd64.whl", url = "x"}]\n',
            r"has no wheel of purepkg==1\.0 for python3\.12 x86_64",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "purepkg"\nversion = "1.0"\n'
            f'wheels = [{{name = "{WHEEL["name"]}", url = "{WHEEL["url"]}"}}]\n',
            r"pylock\.toml: the wheel of purepkg has no sha256 hash",
        ),
    ],
)
def test_a_pylock_that_cannot_be_installed_exactly_is_one_error(
    build, function_dir, lock, error
):
    (function_dir / "pylock.toml").write_text(lock)
    with pytest.raises((ConfigError, BuildError), match=error):
        build(function_dir)


def test_a_poetry_lock_without_wheel_hashes_is_an_error(build, function_dir):
    (function_dir / "poetry.lock").write_text(
        '[[package]]\nname = "purepkg"\nversion = "1.0"\ngroups = ["main"]\n'
        'files = [{file = "purepkg-1.0.tar.gz", hash = "sha256:00"}]\n'
        '[metadata]\nlock-version = "2.1"\n'
    )
    with pytest.raises(BuildError, match=r"lists no wheel of purepkg==1\.0"):
        build(function_dir)


def test_a_bad_line_in_a_hashed_file_names_file_and_line(build, function_dir):
    (function_dir / "requirements.txt").write_text(
        "purepkg==1.0 --hash=sha256:00\n\nnot a requirement! --hash=sha256:00\n"
    )
    with pytest.raises(ConfigError, match=r"requirements\.txt:3: bad requirement"):
        build(function_dir, installer="pip")
