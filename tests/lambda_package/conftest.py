from __future__ import annotations

from pathlib import Path

import pytest

from devkit.lambda_package import BuildOptions, InstallOptions, build_package
from testing.wheels import (
    WHEEL_SHAPES,
    build_ext_wheel,
    build_sdist,
    build_shaped_wheel,
    build_wheel,
)

WHERE_LIB = "WHERE = 'lib'\n"


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """Every wheel the tests install, built once per worker."""
    w = tmp_path_factory.mktemp("wheels")
    build_wheel(w, "purepkg", "1.0", {"purepkg/__init__.py": WHERE_LIB})
    build_wheel(w, "purepkg", "2.0", {"purepkg/__init__.py": WHERE_LIB})
    build_wheel(
        w,
        "markerpkg",
        "1.0",
        {"markerpkg/__init__.py": ""},
        requires=['extpkg; python_version >= "3.12"'],
    )
    build_wheel(
        w,
        "armonly",
        "1.0",
        {"armonly/__init__.py": ""},
        requires=['extpkg; platform_machine == "aarch64"'],
    )
    build_sdist(w, "sdistonly", "1.0")
    build_wheel(w, "boto3", "99.0", {"boto3/__init__.py": WHERE_LIB})
    build_wheel(
        w,
        "scripted",
        "1.0",
        {
            "scripted/__init__.py": "",
            "scripted-1.0.data/scripts/scripted-tool": "#!python\nprint(1)\n",
        },
    )
    for py in ("311", "312"):
        for arch in ("x86_64", "aarch64"):
            build_ext_wheel(w, "extpkg", "2.0", py=py, arch=arch)
    # One wheel per build backend, in the shape each writes (testing/wheels.py).
    for shape in WHEEL_SHAPES:
        for py in ("312", "313"):
            for arch in ("x86_64", "aarch64"):
                build_shaped_wheel(w, shape, f"{shape}-pkg", "1.0", py=py, arch=arch)
    build_ext_wheel(w, "newglibc", "1.0", py="312", arch="x86_64", glibc="2_39")
    # Tagged for the target, but the module inside needs a newer glibc.
    build_ext_wheel(w, "liarpkg", "1.0", py="312", arch="x86_64", needs_glibc="2.39")
    # Tagged x86_64, but the module inside is an aarch64 build.
    build_ext_wheel(w, "wrongarch", "1.0", py="312", arch="x86_64", elf_arch="aarch64")
    return w


@pytest.fixture
def function_dir(tmp_path) -> Path:
    """A small function: a handler module and a package."""
    src = tmp_path / "fn"
    (src / "app").mkdir(parents=True)
    (src / "handler.py").write_text(
        "import importlib\n\n\n"
        "def handler(event, context):\n"
        "    out = {}\n"
        "    for name in ('boto3', 'layermod', 'purepkg', 'app'):\n"
        "        try:\n"
        "            out[name] = importlib.import_module(name).WHERE\n"
        "        except ImportError:\n"
        "            out[name] = None\n"
        "    return out\n"
    )
    (src / "app" / "__init__.py").write_text("WHERE = 'task'\n")
    (src / "requirements.txt").write_text("purepkg==1.0\nboto3\n")
    return src


@pytest.fixture
def build(wheelhouse, tmp_path):
    """Build with the local wheelhouse only; keyword arguments go to BuildOptions."""
    cache = tmp_path / "cache"

    def run(src: Path, environ=None, installer="uv", compile=False, **kwargs):
        install = InstallOptions(
            installer=installer,
            find_links=(str(wheelhouse), *kwargs.pop("find_links", ())),
            no_index=True,
            cache_dir=kwargs.pop("cache_dir", cache),
            compile=compile,
            refresh=kwargs.pop("refresh", False),
        )
        kwargs.setdefault("runtime", "python3.12")
        kwargs.setdefault("output", tmp_path / "out.zip")
        on_status = kwargs.pop("on_status", lambda _msg: None)
        opts = BuildOptions(src=src, install=install, **kwargs)
        return build_package(opts, environ=environ or {}, on_status=on_status)

    return run
