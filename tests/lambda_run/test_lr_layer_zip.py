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
