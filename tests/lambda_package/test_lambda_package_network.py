"""One build against the real package index (DEVKIT_NETWORK_TESTS=1)."""

from __future__ import annotations

import os
import zipfile

import pytest

from devkit.lambda_package import BuildOptions, InstallOptions, build_package

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(
        os.environ.get("DEVKIT_NETWORK_TESTS") != "1",
        reason="uses the real package index; set DEVKIT_NETWORK_TESTS=1",
    ),
]


def test_real_binary_wheel_for_arm64_passes_the_checks(tmp_path):
    src = tmp_path / "fn"
    src.mkdir()
    (src / "handler.py").write_text("def handler(e, c):\n    return 1\n")
    (src / "requirements.txt").write_text("charset-normalizer==3.4.2\n")
    opts = BuildOptions(
        src=src,
        output=tmp_path / "fn.zip",
        runtime="python3.12",
        arch="arm64",
        install=InstallOptions(cache_dir=tmp_path / "cache"),
    )
    result = build_package(opts, environ={})
    with zipfile.ZipFile(result.output) as zf:
        sos = [n for n in zf.namelist() if n.endswith(".so")]
    assert sos and all("cpython-312-aarch64-linux-gnu" in n for n in sos)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_pydantic_with_maturins_compressed_tag_line_is_accepted(tmp_path, installer):
    # pydantic-core's WHEEL has one compressed Tag: line (issue 11, item 1).
    src = tmp_path / "fn"
    src.mkdir()
    (src / "requirements.txt").write_text("pydantic==2.12.5\n")
    opts = BuildOptions(
        src=src,
        output=tmp_path / "fn.zip",
        runtime="python3.12",
        install=InstallOptions(installer=installer, cache_dir=tmp_path / "cache"),
    )
    result = build_package(opts, environ={})
    with zipfile.ZipFile(result.output) as zf:
        wheel = next(
            zf.read(n).decode()
            for n in zf.namelist()
            if n.startswith("lib/pydantic_core-") and n.endswith("/WHEEL")
        )
    assert "manylinux_2_17_x86_64.manylinux2014_x86_64" in wheel
