"""--deploy against moto's Lambda API on 127.0.0.1 (no invoke: that needs docker)."""

from __future__ import annotations

import io
import logging
import uuid
import zipfile

import boto3
import pytest
from moto.server import ThreadedMotoServer

from devkit.aws import AwsOptions
from devkit.cli import main
from devkit.errors import DeployError
from devkit.lambda_package import deploy_package


@pytest.fixture(scope="module")
def moto_url():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url):
    return AwsOptions(region="us-east-1", endpoint_url=moto_url)


@pytest.fixture
def function(aws):
    """A fresh function on python3.12 x86_64 with the old recipe's PYTHONPATH."""
    iam = aws.client("iam")
    name = f"fn-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(e, c):\n    return 0\n")
    aws.lambda_().create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": buf.getvalue()},
        Environment={
            "Variables": {"STAGE": "prod", "PYTHONPATH": "/var/runtime:/var/task/lib"}
        },
    )
    return name


def test_deploy_uploads_code_and_merges_environment(build, function_dir, aws, function):
    result = build(function_dir)
    deployed = deploy_package(result, function, aws.lambda_())
    assert deployed.code_updated and deployed.environment_changed
    conf = aws.lambda_().get_function_configuration(FunctionName=function)
    assert conf["CodeSha256"] == result.code_sha256
    assert conf["Environment"]["Variables"] == {"STAGE": "prod"}
    again = deploy_package(result, function, aws.lambda_())
    assert not again.code_updated and not again.environment_changed


def test_deploy_through_s3(build, function_dir, aws, function):
    aws.s3().create_bucket(Bucket="artifacts")
    result = build(function_dir)
    deployed = deploy_package(result, function, aws.lambda_(), aws.s3(), "artifacts")
    assert deployed.s3_location == (
        f"s3://artifacts/devkit/lambda-package/{function}/{result.sha256}.zip"
    )
    conf = aws.lambda_().get_function_configuration(FunctionName=function)
    assert conf["CodeSha256"] == result.code_sha256


def test_deploy_to_missing_function_is_one_line(build, function_dir, aws):
    with pytest.raises(DeployError, match="^function nope not found: check the name"):
        deploy_package(build(function_dir), "nope", aws.lambda_())


def test_deploy_refuses_a_runtime_mismatch(build, function_dir, aws, function):
    result = build(function_dir, runtime="python3.11")
    with pytest.raises(
        DeployError, match="runs python3.12 but the zip targets python3.11"
    ):
        deploy_package(result, function, aws.lambda_())


def test_cli_builds_and_deploys(
    function_dir, wheelhouse, tmp_path, moto_url, function, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    rc = main(
        [
            "lambda-package",
            str(function_dir),
            "--runtime",
            "python3.12",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--deploy",
            function,
            "--endpoint-url",
            moto_url,
            "--region",
            "us-east-1",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    import json

    doc = json.loads(captured.out)
    assert doc["deploy"]["code_updated"] is True
    assert doc["output"] == str(tmp_path / "fn.zip")
    client = boto3.client("lambda", endpoint_url=moto_url, region_name="us-east-1")
    conf = client.get_function_configuration(FunctionName=function)
    assert conf["CodeSha256"] == doc["code_sha256"]
    assert "removed PYTHONPATH" in captured.err


def test_cli_checks_the_function_before_building(
    function_dir, wheelhouse, tmp_path, moto_url, function, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    rc = main(
        [
            "lambda-package",
            str(function_dir),
            "--runtime",
            "python3.12",
            "--arch",
            "arm64",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "--deploy",
            function,
            "--endpoint-url",
            moto_url,
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1
    assert err == (
        f"error: function {function} runs on x86_64 but the zip targets "
        "arm64: rebuild with --arch x86_64\n"
    )
    assert not (tmp_path / "fn.zip").exists()


def test_layer_is_published_once_and_attached(
    build, function_dir, aws, function, tmp_path
):
    client = aws.lambda_()
    other = client.publish_layer_version(
        LayerName=f"{function}-other", Content={"ZipFile": _empty_zip()}
    )["LayerVersionArn"]
    client.update_function_configuration(FunctionName=function, Layers=[other])
    result = build(function_dir, layer=True)
    first = deploy_package(result, function, client)
    assert first.layer_published
    assert first.layer_arn.endswith(f":layer:{function}-deps:1")
    layers = client.get_function_configuration(FunctionName=function)["Layers"]
    assert [x["Arn"] for x in layers] == [other, first.layer_arn]
    # Same bytes again: no new version, nothing to attach.
    again = deploy_package(build(function_dir, layer=True), function, client)
    assert not again.layer_published and again.layer_arn == first.layer_arn
    assert (
        len(client.list_layer_versions(LayerName=f"{function}-deps")["LayerVersions"])
        == 1
    )
    # New dependencies: version 2 replaces version 1 in place.
    (function_dir / "requirements.txt").write_text("purepkg==2.0\n")
    newer = deploy_package(build(function_dir, layer=True), function, client)
    assert newer.layer_published and newer.layer_arn.endswith(":2")
    layers = client.get_function_configuration(FunctionName=function)["Layers"]
    assert [x["Arn"] for x in layers] == [other, newer.layer_arn]


def _empty_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("python/x.py", "")
    return buf.getvalue()


def test_layer_goes_through_s3_with_a_bucket(build, function_dir, aws, function):
    aws.s3().create_bucket(Bucket="layers")
    result = build(function_dir, layer=True)
    deployed = deploy_package(
        result, function, aws.lambda_(), aws.s3(), "layers", layer_name="shared-deps"
    )
    assert deployed.layer_arn.endswith(":layer:shared-deps:1")
    key = f"devkit/lambda-package/layers/shared-deps/{result.layer.sha256}.zip"
    body = aws.s3().get_object(Bucket="layers", Key=key)["Body"].read()
    assert body == result.layer.output.read_bytes()
