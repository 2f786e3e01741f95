from __future__ import annotations

import base64
import errno
import hashlib
import os
import shutil
import zipfile

import pytest

from devkit.errors import BuildError, ConfigError, WriteError
from devkit.lambda_package import build as build_mod
from devkit.lambda_package import install as install_mod
from devkit.lambda_package.pathsetup import PTH_NAME


def names(path):
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_layout_sources_at_root_dependencies_under_lib(build, function_dir):
    result = build(function_dir)
    listed = names(result.output)
    assert "handler.py" in listed and "app/__init__.py" in listed
    assert "lib/purepkg/__init__.py" in listed and "lib/boto3/__init__.py" in listed
    assert PTH_NAME in listed
    assert not [n for n in listed if n.endswith("/")], "no directory entries"
    assert listed == sorted(listed, key=str.encode)


def test_hashes_printed_match_the_file(build, function_dir):
    result = build(function_dir)
    digest = hashlib.sha256(result.output.read_bytes()).digest()
    assert result.sha256 == digest.hex()
    assert result.code_sha256 == base64.b64encode(digest).decode()


def test_fixed_timestamps_modes_and_source_date_epoch(build, function_dir):
    (function_dir / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(function_dir / "run.sh", 0o775)
    os.chmod(function_dir / "handler.py", 0o600)
    result = build(function_dir)
    with zipfile.ZipFile(result.output) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert {i.date_time for i in infos.values()} == {(1980, 1, 1, 0, 0, 0)}
    assert infos["run.sh"].external_attr >> 16 == 0o100755
    assert infos["handler.py"].external_attr >> 16 == 0o100644
    assert {i.compress_type for i in infos.values()} == {zipfile.ZIP_DEFLATED}
    stamped = build(function_dir, environ={"SOURCE_DATE_EPOCH": "1700000000"})
    with zipfile.ZipFile(stamped.output) as zf:
        assert zf.infolist()[0].date_time == (2023, 11, 14, 22, 13, 20)


def test_identical_bytes_across_umasks_and_build_folders(build, function_dir, tmp_path):
    first = build(function_dir, output=tmp_path / "a.zip")
    old = os.umask(0o077)
    try:
        copy = tmp_path / "elsewhere" / "deep" / "fn"
        shutil.copytree(function_dir, copy)
        # Different cache too: the dependencies are installed again.
        second = build(copy, output=tmp_path / "b.zip", cache_dir=tmp_path / "c2")
    finally:
        os.umask(old)
    assert second.cache_hit is False
    assert first.output.read_bytes() == second.output.read_bytes()


def test_a_local_wheel_installs_to_the_same_bytes_every_time(
    build, function_dir, wheelhouse, tmp_path
):
    # uv notes a local wheel's ctime in uv_cache.json (left out of the zip);
    # its line in RECORD must go too, or each install is a different zip.
    wheel = tmp_path / "w" / "purepkg-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    shutil.copy(wheelhouse / wheel.name, wheel)
    (function_dir / "requirements.txt").write_text(f"purepkg @ {wheel.as_uri()}\n")
    first = build(function_dir, output=tmp_path / "a.zip")
    os.chmod(wheel, 0o600)  # a new ctime, same bytes
    second = build(function_dir, output=tmp_path / "b.zip", cache_dir=tmp_path / "c2")
    assert second.cache_hit is False
    assert first.output.read_bytes() == second.output.read_bytes()
    with zipfile.ZipFile(first.output) as zf:
        record = zf.read("lib/purepkg-1.0.dist-info/RECORD").decode()
        listed = set(zf.namelist())
    assert "uv_cache.json" not in record
    assert {f"lib/{line.split(',')[0]}" for line in record.splitlines()} <= listed


def test_target_wheels_for_each_python_and_arch(build, function_dir, tmp_path):
    (function_dir / "requirements.txt").write_text("extpkg\n")
    for runtime, arch, so in [
        ("python3.11", "x86_64", "_ext.cpython-311-x86_64-linux-gnu.so"),
        ("python3.12", "x86_64", "_ext.cpython-312-x86_64-linux-gnu.so"),
        ("python3.11", "arm64", "_ext.cpython-311-aarch64-linux-gnu.so"),
        ("python3.12", "arm64", "_ext.cpython-312-aarch64-linux-gnu.so"),
    ]:
        out = tmp_path / f"{runtime}-{arch}.zip"
        result = build(function_dir, runtime=runtime, arch=arch, output=out)
        assert f"lib/extpkg/{so}" in names(result.output)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_markers_are_evaluated_for_the_target_python(
    build, function_dir, tmp_path, installer
):
    (function_dir / "requirements.txt").write_text("markerpkg\n")
    on312 = build(
        function_dir,
        runtime="python3.12",
        output=tmp_path / "a.zip",
        installer=installer,
    )
    on311 = build(
        function_dir,
        runtime="python3.11",
        output=tmp_path / "b.zip",
        installer=installer,
    )
    assert any(n.startswith("lib/extpkg/") for n in names(on312.output))
    assert not any(n.startswith("lib/extpkg/") for n in names(on311.output))


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_machine_markers_are_evaluated_for_the_target_arch(
    build, function_dir, tmp_path, installer
):
    # This machine is x86_64: pip alone would take the x86_64 branch for arm64
    # and leave extpkg out, silently (pypa/pip#6117).
    (function_dir / "requirements.txt").write_text(
        'armonly\npurepkg; platform_machine == "x86_64"\n'
    )
    arm = build(
        function_dir, arch="arm64", output=tmp_path / "arm.zip", installer=installer
    )
    x86 = build(
        function_dir, arch="x86_64", output=tmp_path / "x86.zip", installer=installer
    )
    arm_names, x86_names = names(arm.output), names(x86.output)
    assert "lib/extpkg/_ext.cpython-312-aarch64-linux-gnu.so" in arm_names
    assert not [n for n in arm_names if n.startswith("lib/purepkg")]
    assert not [n for n in x86_names if n.startswith("lib/extpkg")]
    assert "lib/purepkg/__init__.py" in x86_names


def test_pip_installer_builds_the_same_layout(build, function_dir):
    result = build(function_dir, installer="pip")
    assert "lib/purepkg/__init__.py" in names(result.output)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_too_new_glibc_wheel_fails_naming_the_package(build, function_dir, installer):
    (function_dir / "requirements.txt").write_text("newglibc\n")
    with pytest.raises(BuildError) as exc:
        build(function_dir, installer=installer)
    message = str(exc.value)
    assert "newglibc" in message and "\n" not in message
    assert "python3.12 x86_64 (glibc <= 2.34)" in message


def test_no_wheel_for_the_python_version_fails_naming_the_package(build, function_dir):
    (function_dir / "requirements.txt").write_text("extpkg\n")
    with pytest.raises(BuildError, match=r"^no wheel of extpkg==2\.0 for python3\.13"):
        build(function_dir, runtime="python3.13")


def test_unknown_package_fails_with_one_line(build, function_dir):
    (function_dir / "requirements.txt").write_text("nosuchpkg\n")
    with pytest.raises(
        BuildError, match=r"^no usable version of nosuchpkg for python3"
    ):
        build(function_dir)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_conflicting_requirements_fail_with_one_line(build, function_dir, installer):
    (function_dir / "requirements.txt").write_text("purepkg==1.0\npurepkg==2.0\n")
    with pytest.raises(BuildError, match="^conflicting requirements: .*purepkg") as exc:
        build(function_dir, installer=installer)
    assert "\n" not in str(exc.value)


def test_extension_needing_newer_glibc_than_its_tag_fails_the_check(
    build, function_dir
):
    (function_dir / "requirements.txt").write_text("liarpkg\n")
    with pytest.raises(
        BuildError,
        match=r"^liarpkg: .*needs GLIBC_2\.39: not usable on python3\.12 x86_64 ",
    ):
        build(function_dir)


def test_extension_for_another_machine_fails_the_check(build, function_dir):
    (function_dir / "requirements.txt").write_text("wrongarch\n")
    with pytest.raises(
        BuildError, match=r"^wrongarch: .*aarch64-linux, target is x86_64"
    ):
        build(function_dir)


def test_failed_build_leaves_no_zip_and_no_cache_entry(build, function_dir, tmp_path):
    (function_dir / "requirements.txt").write_text("liarpkg\n")
    out = tmp_path / "out.zip"
    with pytest.raises(BuildError):
        build(function_dir, output=out, cache_dir=tmp_path / "cache")
    assert not out.exists()
    assert list((tmp_path / "cache").iterdir()) == []
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".out.zip")] == []


def test_failed_write_keeps_the_old_zip(build, function_dir, tmp_path, monkeypatch):
    out = tmp_path / "out.zip"
    out.write_bytes(b"old")

    def boom(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(build_mod, "write_zip", boom)
    # A failure of the world (exit 1), not bad usage, and one line.
    with pytest.raises(WriteError, match=r"cannot write .*out\.zip: No space left"):
        build(function_dir, output=out)
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_rebuild_with_changed_sources_does_not_run_the_installer(
    build, function_dir, monkeypatch
):
    first = build(function_dir)
    assert first.cache_hit is False

    def no_install(*args, **kwargs):
        raise AssertionError("installer ran")

    monkeypatch.setattr(install_mod, "run_installer", no_install)
    (function_dir / "handler.py").write_text("def handler(e, c):\n    return 2\n")
    second = build(function_dir)
    assert second.cache_hit is True
    assert second.sha256 != first.sha256


def test_changed_requirements_install_again(build, function_dir):
    build(function_dir)
    (function_dir / "requirements.txt").write_text("purepkg==2.0\n")
    assert build(function_dir).cache_hit is False


def test_default_excludes_and_user_excludes(build, function_dir, tmp_path):
    (function_dir / ".env").write_text("SECRET=1\n")
    (function_dir / ".git").mkdir()
    (function_dir / ".git" / "config").write_text("x")
    (function_dir / "__pycache__").mkdir()
    (function_dir / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"x")
    (function_dir / "venv").mkdir()
    (function_dir / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (function_dir / "venv" / "site.py").write_text("")
    (function_dir / "tests").mkdir()
    (function_dir / "tests" / "test_x.py").write_text("")
    (function_dir / "requirements.txt").write_text("purepkg\nscripted\n")
    out = function_dir / "fn.zip"
    out.write_bytes(b"previous build")
    result = build(
        function_dir, output=out, excludes=["tests", "lib/purepkg-*.dist-info"]
    )
    listed = names(result.output)
    assert [
        n for n in listed if n.startswith((".", "venv", "tests", "__pycache__"))
    ] == ["_devkit_lib.pth"][:0]
    assert "fn.zip" not in listed
    assert not [n for n in listed if n.startswith("lib/bin/")]
    assert "lib/scripted/__init__.py" in listed
    assert not [n for n in listed if n.startswith("lib/purepkg-1.0.dist-info")]
    assert not [n for n in listed if "uv_cache.json" in n or n.endswith(".pyc")]


def test_symlink_inside_is_followed_outside_is_refused(build, function_dir, tmp_path):
    (function_dir / "alias.py").symlink_to(function_dir / "handler.py")
    assert "alias.py" in names(build(function_dir).output)
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    (function_dir / "leak.txt").symlink_to(secret)
    with pytest.raises(
        BuildError, match="^symlink .*leak.txt points outside the source"
    ):
        build(function_dir)


def test_source_module_colliding_with_lib_package_warns(build, function_dir):
    (function_dir / "purepkg.py").write_text("WHERE = 'task'\n")
    result = build(function_dir, excludes=["boto3"])
    assert result.warnings == [
        "source module 'purepkg' has the same name as a package in lib/; "
        "the source copy wins on Lambda"
    ]


def test_unzipped_size_limit_fails_listing_largest(build, function_dir, monkeypatch):
    (function_dir / "big.bin").write_bytes(os.urandom(4096))
    monkeypatch.setattr(build_mod, "UNZIPPED_LIMIT", 4000)
    with pytest.raises(
        BuildError,
        match=r"^unzipped size: .* passes Lambda's 4,000-byte limit; largest: big\.bin",
    ):
        build(function_dir)


def test_zipped_size_over_direct_upload_limit_warns(build, function_dir, monkeypatch):
    (function_dir / "big.bin").write_bytes(os.urandom(4096))
    monkeypatch.setattr(build_mod, "DIRECT_UPLOAD_LIMIT", 1000)
    result = build(function_dir)
    assert any(
        "over the 50 MB direct upload limit: deploy with --s3-bucket" in w
        and "big.bin" in w
        for w in result.warnings
    )


def test_no_requirements_builds_sources_only(build, function_dir):
    (function_dir / "requirements.txt").unlink()
    result = build(function_dir)
    assert result.cache_hit is None
    assert names(result.output) == ["app/__init__.py", "handler.py"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"src": "missing"}, "source folder .*missing not found"),
        ({"requirements": "nope.txt"}, "requirements file .*nope.txt not found"),
        ({"output": "nodir/out.zip"}, "cannot write .*folder .*nodir does not exist"),
        ({"output": "."}, "is a folder: pass -o"),
        ({"output": "afile/out.zip"}, "cannot write .*afile is not a folder"),
    ],
)
def test_bad_input_is_a_config_error(build, function_dir, tmp_path, kwargs, message):
    (tmp_path / "afile").write_text("")
    src = tmp_path / kwargs.pop("src") if "src" in kwargs else function_dir
    args = {k: tmp_path / v for k, v in kwargs.items()}
    with pytest.raises(ConfigError, match=message):
        build(src, **args)


def test_unwritable_output_folder_is_a_config_error(build, function_dir, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):
        pytest.skip("running as root: permissions are not enforced")
    with pytest.raises(ConfigError, match="not writable"):
        build(function_dir, output=locked / "out.zip")


def test_editing_an_included_requirements_file_installs_again(build, function_dir):
    (function_dir / "base.txt").write_text("purepkg==1.0\n")
    (function_dir / "requirements.txt").write_text("-r base.txt\n")
    assert build(function_dir).cache_hit is False
    assert build(function_dir).cache_hit is True
    (function_dir / "base.txt").write_text("purepkg==2.0\n")
    assert build(function_dir).cache_hit is False


def test_old_lib_folder_in_sources_is_left_out_with_a_warning(build, function_dir):
    (function_dir / "lib" / "stale").mkdir(parents=True)
    (function_dir / "lib" / "stale" / "__init__.py").write_text("")
    result = build(function_dir, excludes=["boto3"])
    assert not [n for n in names(result.output) if n.startswith("lib/stale")]
    assert result.warnings == [
        f"{function_dir / 'lib'} is left out: lib/ holds the installed requirements"
    ]


@pytest.mark.parametrize("installer", ["uv", "pip"])
@pytest.mark.parametrize(
    ("runtime", "arch", "machine"),
    [("python3.12", "x86_64", "x86_64"), ("python3.13", "arm64", "aarch64")],
)
def test_wheels_of_every_build_backend_shape_are_accepted(
    build, function_dir, tmp_path, installer, runtime, arch, machine
):
    # The WHEEL files keep their backend's shape: maturin's compressed Tag line
    # is what pydantic-core ships, and used to be rejected.
    from testing.wheels import WHEEL_SHAPES

    (function_dir / "requirements.txt").write_text(
        "".join(f"{shape}-pkg==1.0\n" for shape in WHEEL_SHAPES)
    )
    result = build(function_dir, runtime=runtime, arch=arch, installer=installer)
    py = runtime.removeprefix("python").replace(".", "")
    with zipfile.ZipFile(result.output) as zf:
        listed = zf.namelist()
        wheel = zf.read("lib/maturin_pkg-1.0.dist-info/WHEEL").decode()
    assert (
        f"Tag: cp{py}-cp{py}-manylinux_2_17_{machine}.manylinux2014_{machine}\n"
        in wheel
    )
    assert f"lib/maturin_pkg/_maturin_pkg.cpython-{py}-{machine}-linux-gnu.so" in listed
    assert "lib/scikit_build_pkg/_core.abi3.so" in listed
    assert "lib/hatchling_pkg/__init__.py" in listed
    assert f"lib/setuptools_pkg/_speedups.cpython-{py}-{machine}-linux-gnu.so" in listed


def test_bundled_boto3_is_said_once_and_exclude_drops_its_metadata(build, function_dir):
    result = build(function_dir)  # requirements: purepkg==1.0, boto3
    assert result.warnings == [
        "boto3 bundled in lib/: the runtime has its own copy, and lib/ wins, so "
        "this zip pins your version; pass --exclude boto3 to use the runtime's"
    ]
    excluded = build(function_dir, excludes=["boto3"])
    assert excluded.warnings == []
    assert not [n for n in names(excluded.output) if "boto3" in n]
    assert "lib/purepkg-1.0.dist-info/METADATA" in names(excluded.output)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_missing_version_says_so_with_the_versions_near_it(
    build, function_dir, installer
):
    (function_dir / "requirements.txt").write_text("purepkg==3.0\n")
    with pytest.raises(BuildError) as exc:
        build(function_dir, installer=installer)
    assert str(exc.value) == "purepkg has no version 3.0: versions near it are 1.0, 2.0"


def test_sdist_only_package_gives_the_remedy(build, function_dir):
    (function_dir / "requirements.txt").write_text("sdistonly\n")
    with pytest.raises(BuildError) as exc:
        build(function_dir)
    message = str(exc.value)
    assert message.startswith("no wheel of sdistonly==1.0 for python3.12 x86_64")
    assert "only a source distribution; build a wheel" in message
    assert "--find-links" in message


def test_problems_name_the_target_once(build, function_dir):
    (function_dir / "requirements.txt").write_text("liarpkg\n")
    with pytest.raises(BuildError) as exc:
        build(function_dir)
    assert str(exc.value).count("python3.12") == 1


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_hashes_in_requirements_are_enforced_with_target_markers(
    build, function_dir, wheelhouse, tmp_path, installer
):
    arm = wheelhouse / "extpkg-2.0-cp312-cp312-manylinux_2_17_aarch64.whl"
    x86 = wheelhouse / "extpkg-2.0-cp312-cp312-manylinux_2_17_x86_64.whl"
    pure = wheelhouse / "purepkg-1.0-py3-none-any.whl"
    reqs = (
        f"purepkg==1.0 --hash=sha256:{_sha(pure)}\n"
        f'extpkg==2.0 ; platform_machine == "aarch64" '
        f"--hash=sha256:{_sha(arm)} --hash=sha256:{_sha(x86)}\n"
    )
    (function_dir / "requirements.txt").write_text(reqs)
    on_arm = build(function_dir, arch="arm64", installer=installer)
    assert "lib/extpkg/_ext.cpython-312-aarch64-linux-gnu.so" in names(on_arm.output)
    (function_dir / "requirements.txt").write_text(reqs.replace(_sha(pure), "0" * 64))
    with pytest.raises(BuildError, match="purepkg==1.0 does not match the hash"):
        build(function_dir, installer=installer, output=tmp_path / "b.zip")
