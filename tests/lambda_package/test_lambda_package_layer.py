"""--layer: dependencies in a layer zip, the function zip with sources only."""

from __future__ import annotations

import os
import zipfile

import pytest

from devkit.errors import BuildError, ConfigError
from devkit.lambda_package import build as build_mod


def names(path):
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_layer_zip_holds_site_packages_and_function_zip_the_sources(
    build, function_dir, tmp_path
):
    result = build(function_dir, layer=True, runtime="python3.13")
    assert result.layer is not None
    assert result.layer.output == tmp_path / "out-layer.zip"
    assert names(result.output) == ["app/__init__.py", "handler.py", "requirements.txt"]
    layer = names(result.layer.output)
    assert "python/lib/python3.13/site-packages/purepkg/__init__.py" in layer
    assert all(n.startswith("python/lib/python3.13/site-packages/") for n in layer)
    assert result.unzipped_size + result.layer.unzipped_size > result.unzipped_size


def test_layer_builds_are_byte_identical(build, function_dir, tmp_path):
    first = build(function_dir, layer=True, output=tmp_path / "a.zip")
    again = build(
        function_dir, layer=True, output=tmp_path / "b.zip", cache_dir=tmp_path / "c2"
    )
    assert first.layer.output.read_bytes() == again.layer.output.read_bytes()
    assert first.layer.sha256 == again.layer.sha256


def test_layer_gets_the_same_checks(build, function_dir, tmp_path):
    (function_dir / "requirements.txt").write_text("liarpkg\n")
    with pytest.raises(BuildError, match="^liarpkg: .*needs GLIBC_2.39"):
        build(function_dir, layer=True)
    assert not (tmp_path / "out-layer.zip").exists()


def test_layer_without_dependencies_is_an_error(build, function_dir):
    (function_dir / "requirements.txt").unlink()
    with pytest.raises(ConfigError, match="^--layer puts the dependencies in a layer"):
        build(function_dir, layer=True)


def test_limit_counts_function_and_layer_and_names_both(
    build, function_dir, monkeypatch
):
    (function_dir / "big.bin").write_bytes(os.urandom(3000))
    (function_dir / "requirements.txt").write_text("extpkg\n")
    fits = build(function_dir, layer=True)
    total = fits.unzipped_size + fits.layer.unzipped_size
    # The function zip alone stays under this limit; with its layer it does not.
    monkeypatch.setattr(build_mod, "UNZIPPED_LIMIT", total - 1)
    with pytest.raises(BuildError) as exc:
        build(function_dir, layer=True)
    message = str(exc.value)
    assert message.startswith("function and layer together: ")
    assert "big.bin" in message and "layer extpkg" in message
