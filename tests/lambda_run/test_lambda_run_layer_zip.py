"""lambda-package --layer zips load under lambda-run's runtime, as on Lambda."""

from __future__ import annotations

import zipfile

REQUIREMENTS = "purepkg==1.0\n"


def test_layer_zip_from_lambda_package_is_on_the_path(build, make_function, invoke):
    zip_path = build(make_function(requirements=REQUIREMENTS), layer=True)
    layer = zip_path.with_name(f"{zip_path.stem}-layer.zip")
    with zipfile.ZipFile(zip_path) as zf:
        assert not [n for n in zf.namelist() if n.startswith("lib/")]
    out = invoke(zip_path, layers=[layer])
    assert out.result["origins"]["purepkg"] == "lib"  # the wheel's module, from /opt
    assert any(p.endswith("site-packages") for p in out.result["sys_path"])


def test_run_check_of_a_layer_build_loads_the_layer(
    runtime_cache, wheelhouse, make_function, tmp_path, monkeypatch, capsys
):
    from devkit.cli import main

    monkeypatch.setenv("DEVKIT_CACHE_DIR", str(runtime_cache.parent))
    src = make_function("layered", "import purepkg\n\ndef handler(e, c):\n    pass\n")
    (src / "requirements.txt").write_text(REQUIREMENTS)
    argv = ["lambda-package", str(src), "--runtime", "python3.11", "--no-index"]
    argv += ["--find-links", str(wheelhouse), "--cache-dir", str(tmp_path / "deps")]
    rc = main([*argv, "-o", str(tmp_path / "out.zip"), "--layer", "--run-check"])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "out-layer.zip").is_file()
