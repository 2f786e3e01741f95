from __future__ import annotations

import pytest

from devkit.errors import ConfigError
from devkit.lambda_package.check import check_shared_object, tag_supported
from devkit.lambda_package.installers import uv_platform
from devkit.lambda_package.target import resolve_target
from testing.wheels import fake_extension


def test_default_target_is_newest_runtime_on_x86_64():
    t = resolve_target(None, None)
    assert (t.runtime, t.arch, t.python, t.glibc) == (
        "python3.14",
        "x86_64",
        (3, 14),
        (2, 34),
    )


def test_al2_runtimes_have_glibc_2_26_and_arm64_maps_to_aarch64():
    t = resolve_target("python3.11", "arm64")
    assert t.glibc == (2, 26) and t.machine == "aarch64" and t.abi == "cp311"


def test_platform_tags_run_newest_to_oldest_within_the_ceiling():
    tags = resolve_target("python3.12", "x86_64").platform_tags()
    assert tags[0] == "manylinux_2_34_x86_64"
    assert tags[1] == "manylinux_2_33_x86_64"
    assert "manylinux_2_35_x86_64" not in tags
    assert tags.index("manylinux_2_17_x86_64") < tags.index("manylinux2014_x86_64")
    assert tags[-1] == "manylinux1_x86_64"
    arm = resolve_target("python3.11", "arm64").platform_tags()
    assert arm[0] == "manylinux_2_26_aarch64" and arm[-1] == "manylinux2014_aarch64"


def test_uv_platform_is_the_newest_it_can_name_within_the_ceiling():
    assert (
        uv_platform(resolve_target("python3.13", "arm64")) == "aarch64-manylinux_2_34"
    )
    assert (
        uv_platform(resolve_target("python3.10", "x86_64")) == "x86_64-manylinux_2_17"
    )


@pytest.mark.parametrize(
    ("runtime", "arch", "message"),
    [
        ("python3.8", None, "unknown runtime 'python3.8'"),
        ("nodejs22.x", None, "unknown runtime"),
        (None, "arm", "unknown architecture 'arm': use x86_64 or arm64"),
    ],
)
def test_unknown_runtime_or_arch_is_a_config_error(runtime, arch, message):
    with pytest.raises(ConfigError, match=message):
        resolve_target(runtime, arch)


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("py3-none-any", True),
        ("cp312-cp312-manylinux_2_17_x86_64", True),
        ("cp312-cp312-manylinux2014_x86_64", True),
        ("cp312-cp312-manylinux_2_34_x86_64", True),
        ("cp312-cp312-manylinux_2_35_x86_64", False),
        ("cp311-cp311-manylinux_2_17_x86_64", False),
        ("cp39-abi3-manylinux_2_17_x86_64", True),
        ("cp313-abi3-manylinux_2_17_x86_64", False),
        ("cp312-cp312-manylinux_2_17_aarch64", False),
        ("cp312-cp312-macosx_11_0_arm64", False),
        ("cp312-cp312-linux_x86_64", False),
        ("py2-none-any", False),
        # Compressed tag sets, as maturin and universal wheels write them.
        ("cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64", True),
        ("py2.py3-none-any", True),
        ("cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64", True),
        ("cp312-cp312-manylinux_2_35_x86_64.manylinux_2_36_x86_64", False),
        ("cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64", False),
        ("cp311.cp312-cp311.cp312-manylinux2014_x86_64", True),
        ("py312-none-any", True),
        ("py313-none-any", False),
        ("not-a-tag", False),
    ],
)
def test_wheel_tags_against_python312_x86_64(tag, ok):
    assert tag_supported(tag, resolve_target("python3.12", "x86_64")) is ok


def test_shared_object_checks_name_machine_and_glibc(tmp_path):
    target = resolve_target("python3.12", "x86_64")
    good = tmp_path / "_a.cpython-312-x86_64-linux-gnu.so"
    good.write_bytes(fake_extension("x86_64", "2.34"))
    assert check_shared_object(good, target) == []
    old_py = tmp_path / "_b.cpython-311-x86_64-linux-gnu.so"
    old_py.write_bytes(fake_extension("x86_64"))
    assert check_shared_object(old_py, target) == [
        "built for CPython 3.11, target is 3.12"
    ]
    arm = tmp_path / "_c.abi3.so"
    arm.write_bytes(fake_extension("aarch64"))
    assert check_shared_object(arm, target) == [
        "ELF machine is aarch64, target is x86_64"
    ]
    new = tmp_path / "_d.cpython-312-x86_64-linux-gnu.so"
    new.write_bytes(fake_extension("x86_64", "2.39"))
    assert check_shared_object(new, target) == ["needs GLIBC_2.39"]
    mac = tmp_path / "_e.cpython-312-darwin.so"
    mac.write_bytes(b"\xcf\xfa\xed\xfe")
    assert "not a Linux (ELF) shared object" in check_shared_object(mac, target)
