"""Replay the runtime's sys.path set-up on the unpacked zip."""

from __future__ import annotations

import zipfile

import pytest

from devkit.lambda_package.pathsetup import merge_environment
from devkit.lambda_package.target import resolve_target
from testing.lambda_runtime import FakeLambda, find_python


@pytest.fixture
def fake_lambda(build, function_dir, tmp_path):
    """The zip unpacked into /var/task; boto3 in /var/runtime; a layer in /opt."""
    result = build(function_dir)
    fake = FakeLambda.create(tmp_path / "lambda")
    with zipfile.ZipFile(result.output) as zf:
        zf.extractall(fake.task)
    (fake.runtime / "boto3").mkdir()
    (fake.runtime / "boto3" / "__init__.py").write_text("WHERE = 'runtime'\n")
    layer = fake.layer_site_packages()
    layer.mkdir(parents=True)
    (layer / "layermod.py").write_text("WHERE = 'layer'\n")
    return fake


def test_default_lib_wins_over_runtime_and_layers_still_load(fake_lambda):
    out = fake_lambda.invoke("handler.handler")
    assert out["result"] == {
        "boto3": "lib",
        "layermod": "layer",
        "purepkg": "lib",
        "app": "task",
    }
    path = out["sys_path"]
    task, lib = str(fake_lambda.task), str(fake_lambda.task / "lib")
    assert path[:2] == [task, lib]
    assert path.index(lib) < path.index(str(fake_lambda.runtime))
    assert path.index(lib) < path.index(str(fake_lambda.layer_site_packages()))


def test_old_recipe_pythonpath_loses_layers_and_lib(fake_lambda):
    # The original recipe: PYTHONPATH=/var/runtime:/var/task/lib. Without the
    # .pth, the runtime's copy would win; the layer is gone either way.
    (fake_lambda.task / "_devkit_lib.pth").unlink()
    out = fake_lambda.invoke(
        "handler.handler", {"PYTHONPATH": "/var/runtime:/var/task/lib"}
    )
    assert out["result"]["boto3"] == "runtime"
    assert out["result"]["layermod"] is None
    assert out["result"]["purepkg"] == "lib"


def test_merged_user_pythonpath_keeps_layers_and_lib_first(fake_lambda):
    merged = merge_environment(
        {"PYTHONPATH": "/opt/extra", "A": "1"}, resolve_target("python3.12", "x86_64")
    )
    assert merged.variables["A"] == "1"
    # The fake layer path carries the test interpreter's version.
    version = fake_lambda.layer_site_packages().parent.name
    env = {"PYTHONPATH": merged.variables["PYTHONPATH"].replace("python3.12", version)}
    out = fake_lambda.invoke("handler.handler", env)
    assert out["result"]["boto3"] == "lib"
    assert out["result"]["layermod"] == "layer"


def test_merge_drops_a_pythonpath_the_pth_replaces():
    target = resolve_target("python3.12", "x86_64")
    change = merge_environment(
        {"PYTHONPATH": "/var/runtime:/var/task/lib", "B": "2"}, target
    )
    assert change.variables == {"B": "2"} and change.changed
    same = merge_environment({"B": "2"}, target)
    assert same.variables == {"B": "2"} and not same.changed


def _interpreters():
    found = [find_python(v) for v in ("3.9", "3.10", "3.12", "3.13", "3.14")]
    found = [exe for exe in found if exe]
    return found or [pytest.param(None, marks=pytest.mark.skip("no other Pythons"))]


@pytest.mark.parametrize("python", _interpreters())
def test_pth_works_on_other_python_versions(fake_lambda, python):
    # The layer goes in /opt/python, the path every runtime version adds.
    (fake_lambda.opt / "python").mkdir(exist_ok=True)
    (fake_lambda.opt / "python" / "layermod.py").write_text("WHERE = 'layer'\n")
    out = fake_lambda.invoke("handler.handler", python=python)
    assert out["result"]["boto3"] == "lib"
    assert out["result"]["layermod"] == "layer"
