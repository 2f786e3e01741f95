"""Where lib/, layers and the runtime's boto3 land on sys.path under lambda-run.

These ran on a replay of the bootstrap before lambda-run existed; now they run
the command's own runtime folder and bootstrap, so there is one copy of it.
"""

from __future__ import annotations

import io
import zipfile

import pytest

from devkit.lambda_package.pathsetup import PTH_NAME, merge_environment
from devkit.lambda_package.target import resolve_target
from devkit.lambda_run.runtime import ensure_runtime, find_python

REQUIREMENTS = "purepkg==1.0\nboto3==99.0\n"
OTHER_PYTHONS = [p for p in (find_python(v) for v in ("3.10", "3.12", "3.13"))]


@pytest.fixture
def layer(make_layer):
    return make_layer(
        {"python/lib/python3.11/site-packages/layermod.py": "WHERE = 'layer'\n"}
    )


def _paths(out):
    path = out.result["sys_path"]
    task = out.result["env"]["LAMBDA_TASK_ROOT"]
    return path, task


def test_lib_wins_over_the_runtime_and_layers_still_load(
    build, make_function, invoke, layer
):
    out = invoke(build(make_function(requirements=REQUIREMENTS)), layers=[layer])
    assert out.result["origins"] == {
        "boto3": "lib",
        "layermod": "layer",
        "purepkg": "lib",
        "app": "task",
    }
    path, task = _paths(out)
    assert path[:2] == [task, f"{task}/lib"]
    runtime = next(p for p in path if p.endswith("/runtime"))
    layer_path = next(p for p in path if p.endswith("python3.11/site-packages"))
    assert path.index(f"{task}/lib") < path.index(layer_path) < path.index(runtime)


def _without_pth(zip_path):
    # The original recipe's zip: lib/ but no .pth.
    data = io.BytesIO()
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(data, "w") as dst:
        for info in src.infolist():
            if info.filename != PTH_NAME:
                dst.writestr(info, src.read(info))
        dst.comment = src.comment
    zip_path.write_bytes(data.getvalue())
    return zip_path


def test_old_recipe_pythonpath_loses_layers_and_puts_the_runtime_first(
    build, make_function, invoke, layer
):
    zip_path = _without_pth(build(make_function(requirements=REQUIREMENTS)))
    out = invoke(
        zip_path, layers=[layer], env={"PYTHONPATH": "/var/runtime:/var/task/lib"}
    )
    assert out.result["origins"]["layermod"] is None
    assert out.result["origins"]["purepkg"] == "lib"
    path, task = _paths(out)
    runtime = out.result["env"]["PYTHONPATH"].split(":")[0]
    assert path.index(runtime) < path.index(f"{task}/lib")


def test_merged_user_pythonpath_keeps_layers_and_lib_first(
    build, make_function, invoke, layer
):
    merged = merge_environment(
        {"PYTHONPATH": "/opt/extra", "A": "1"}, resolve_target("python3.11", "x86_64")
    )
    assert merged.variables["A"] == "1"
    out = invoke(
        build(make_function(requirements=REQUIREMENTS)),
        layers=[layer],
        env={"PYTHONPATH": merged.variables["PYTHONPATH"]},
    )
    assert out.result["origins"]["boto3"] == "lib"
    assert out.result["origins"]["layermod"] == "layer"


def test_merge_drops_a_pythonpath_the_pth_replaces():
    target = resolve_target("python3.12", "x86_64")
    change = merge_environment(
        {"PYTHONPATH": "/var/runtime:/var/task/lib", "B": "2"}, target
    )
    assert change.variables == {"B": "2"} and change.changed
    same = merge_environment({"B": "2"}, target)
    assert same.variables == {"B": "2"} and not same.changed


@pytest.mark.parametrize(
    "python",
    [pytest.param(p, id=p.version) for p in OTHER_PYTHONS if p]
    or [pytest.param(None, marks=pytest.mark.skip("no other Pythons here"))],
)
def test_the_pth_works_on_other_python_versions(
    build, make_function, invoke, make_layer, runtime_cache, python
):
    ensure_runtime(python, runtime_cache)  # installs awslambdaric for it, once
    src = make_function(requirements=REQUIREMENTS)
    zip_path = build(src, runtime=f"python{python.version}")
    # /opt/python: the layer path every runtime version adds.
    layer = make_layer({"python/layermod.py": "WHERE = 'layer'\n"})
    out = invoke(zip_path, layers=[layer], python=python.path)
    assert out.status == "response", out.error
    assert out.result["origins"]["boto3"] == "lib"
    assert out.result["origins"]["layermod"] == "layer"
