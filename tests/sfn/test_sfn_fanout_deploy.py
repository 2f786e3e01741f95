"""`devkit sfn deploy` of a fanout project: the running devkit in the stream zip.

Real installs: uv resolves devkit's dependencies for the Lambda target from
the package index (cached for the session), and the devkit in lib/ is a wheel
of the one running these tests, never the `devkit` on PyPI.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

import devkit
from devkit.cli import main
from testing.http_source import HttpSource, body_bytes

RUNTIME = "python3.11"  # the machine's Python, so lambda-run can run the zip
MiB = 1024 * 1024


def deploy(capsys, target, *args):
    capsys.readouterr()
    rc = main(
        ["sfn", "deploy", str(target), "--json", "-q", "--runtime", RUNTIME, *args]
    )
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if out else None), err


def new_fanout(tmp_path, *args, name="fanout"):
    target = tmp_path / name
    assert main(["sfn", "new", "fanout", str(target), "-q", *args]) == 0
    return target


def test_fanout_deploy_packs_the_running_devkit(
    tmp_path, sfn_recorder, shared_cache, capsys
):
    project = new_fanout(tmp_path)
    requirements = (project / "stream" / "requirements.txt").read_text()
    assert all(line.startswith("#") for line in requirements.splitlines())
    rc, made, err = deploy(capsys, project, "--role-arn", sfn_recorder)
    assert rc == 0, err
    [fn] = made["functions"]
    assert fn["name"] == "fanout-stream" and fn["created"]
    # boto3 and botocore are in lib/ on purpose (devkit needs its versions):
    # no warning that lambda-package's advice would then contradict.
    assert fn["warnings"] == [] and "warning" not in err
    conf = boto3.client("lambda").get_function_configuration(FunctionName=fn["name"])
    zip_bytes = Path(fn["zip_path"]).read_bytes()
    assert (
        conf["CodeSha256"]
        == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    )
    assert (conf["Handler"], conf["Timeout"], conf["MemorySize"]) == (
        "handler.handler",
        900,
        1024,
    )
    machine = boto3.client("stepfunctions").describe_state_machine(
        stateMachineArn=made["state_machine_arn"]
    )
    definition = json.loads(machine["definition"])
    task = definition["States"]["Fanout"]["ItemProcessor"]["States"]["Stream"]
    assert task["Resource"] == fn["arn"] and "${" not in machine["definition"]

    # lib/ holds this devkit, file for file, and its dependencies.
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        names = set(zf.namelist())
        here = Path(devkit.__file__).parent
        for rel in ("s3stream/handler.py", "s3stream/batch.py", "sfn/deploy.py"):
            assert zf.read(f"lib/devkit/{rel}") == (here / rel).read_bytes()
        meta = zf.read("lib/devkit-0.1.0.dist-info/METADATA").decode()
    assert "Summary: A command-line suite for Python developers" in meta
    assert {"lib/boto3/__init__.py", "lib/requests/__init__.py"} <= names
    assert "handler.py" in names

    # Nothing changed: nothing is deployed again.
    rc, again, _ = deploy(capsys, project)
    assert rc == 0 and again["changed"] is False

    # The same bytes from another folder and from an empty build/.
    other = tmp_path / "elsewhere" / "fanout"
    shutil.copytree(project, other)
    shutil.rmtree(other / "build")
    rc, moved, err = deploy(capsys, other)
    assert rc == 0, err
    assert moved["functions"][0]["code_sha256"] == fn["code_sha256"]
    assert moved["changed"] is False


def test_the_deployed_stream_zip_streams_under_lambda_run(
    tmp_path, sfn_recorder, shared_cache, capsys
):
    project = new_fanout(tmp_path)
    rc, made, err = deploy(capsys, project, "--role-arn", sfn_recorder)
    assert rc == 0, err
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="mirror")
    with HttpSource() as source:
        source.add("/big", 6 * MiB)
        event = tmp_path / "event.json"
        event.write_text(
            json.dumps(
                {
                    "Items": [{"url": source.url("/big"), "key": "big"}],
                    "BatchInput": {"prefix": "s3://mirror/m/"},
                }
            )
        )
        # The function gets this process's (test) credentials, as Lambda
        # its role's.
        run = [sys.executable, "-m", "devkit", "lambda-run",
               made["functions"][0]["zip_path"], "handler.handler",
               "--event", str(event), "--timeout", "120", "--memory", "256",
               "--cache-dir", str(shared_cache / "lambda-run"), "--aws-credentials",
               "--env", f"AWS_ENDPOINT_URL={endpoint}"]  # fmt: skip
        done = subprocess.run(run, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [record] = json.loads(done.stdout)["Items"]
    assert (record["status"], record["key"]) == ("done", "m/big")
    body = s3.get_object(Bucket="mirror", Key="m/big")["Body"].read()
    assert body == body_bytes(0, 6 * MiB)


def test_a_placeholder_without_its_folder_is_one_error(tmp_path, sfn_recorder, capsys):
    project = new_fanout(tmp_path)
    shutil.rmtree(project / "stream")
    (project / "gatekeeper").mkdir()  # the machine still names ${StreamFunctionArn}
    rc, _, err = deploy(capsys, project, "--role-arn", sfn_recorder)
    assert rc == 2
    assert "names ${StreamFunctionArn}" in err and len(err.splitlines()) == 1


def test_a_devkit_without_metadata_is_one_clear_error(tmp_path, monkeypatch):
    from importlib import metadata

    from devkit.errors import ConfigError
    from devkit.sfn import devkit_wheel

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(devkit_wheel.metadata, "distribution", missing)
    with pytest.raises(ConfigError, match="is not installed .no metadata.: install"):
        devkit_wheel.write_devkit_wheel(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_devkit_wheel_is_the_same_bytes_each_time(tmp_path):
    from devkit.sfn.devkit_wheel import write_devkit_wheel

    first = write_devkit_wheel(tmp_path / "a")
    second = write_devkit_wheel(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert first.parent.name == second.parent.name  # content-addressed
    with zipfile.ZipFile(first) as zf:
        assert zf.testzip() is None
        assert "devkit/s3stream/handler.py" in zf.namelist()
        assert not [n for n in zf.namelist() if "__pycache__" in n]


def test_wait_for_deploys_both_functions(tmp_path, sfn_recorder, shared_cache, capsys):
    project = new_fanout(tmp_path, "--wait-for", "marker", name="gated")
    rc, made, err = deploy(capsys, project, "--role-arn", sfn_recorder)
    assert rc == 0, err
    gate, stream = made["functions"]
    assert (gate["name"], stream["name"]) == ("gated-gatekeeper", "gated-stream")
    lam = boto3.client("lambda")
    assert lam.get_function_configuration(FunctionName=gate["name"])["Timeout"] == 30
    with zipfile.ZipFile(gate["zip_path"]) as zf:
        assert not [n for n in zf.namelist() if n.startswith("lib/devkit")]
    machine = boto3.client("stepfunctions").describe_state_machine(
        stateMachineArn=made["state_machine_arn"]
    )
    states = json.loads(machine["definition"])["States"]
    assert states["Gatekeeper"]["Resource"] == gate["arn"]
    stream_task = states["Fanout"]["ItemProcessor"]["States"]["Stream"]
    assert stream_task["Resource"] == stream["arn"]


def test_a_plain_install_of_devkit_packs_the_same_wheel(tmp_path):
    """From site-packages (not the editable source tree) the same bytes come out."""
    from devkit.lambda_package.installers import uv_bin
    from devkit.sfn.devkit_wheel import write_devkit_wheel

    wheel = write_devkit_wheel(tmp_path / "editable")
    target = tmp_path / "site"
    subprocess.run(
        [uv_bin(), "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         "--python", sys.executable, str(wheel)],
        check=True, timeout=120,
    )  # fmt: skip
    code = (
        "import sys, devkit\n"
        "from pathlib import Path\n"
        "from devkit.sfn.devkit_wheel import write_devkit_wheel\n"
        "assert devkit.__file__.startswith(sys.argv[1]), devkit.__file__\n"
        "print(write_devkit_wheel(Path(sys.argv[2])))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(target), str(tmp_path / "installed")],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).read_bytes() == wheel.read_bytes()
