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
