"""AwsOptions: lean botocore sessions that resolve endpoints as botocore does."""

from __future__ import annotations

import subprocess
import sys

import botocore.session
import pytest

from devkit.aws import AwsOptions
from devkit.errors import ConfigError


@pytest.mark.parametrize(
    ("region", "endpoint"),
    [
        ("us-east-1", "https://s3.amazonaws.com"),
        ("eu-west-3", "https://s3.eu-west-3.amazonaws.com"),
        ("cn-north-1", "https://s3.cn-north-1.amazonaws.com.cn"),
        ("us-gov-west-1", "https://s3.us-gov-west-1.amazonaws.com"),
    ],
)
def test_the_lean_s3_client_resolves_endpoints_like_botocore(
    monkeypatch, region, endpoint
):
    # endpoints.json is cut down to S3 and the credential services: the
    # client must still sign for and address the same endpoint, partition by
    # partition, as one made from botocore's full data.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "t")
    options = AwsOptions(region=region)
    lean = options.s3(options.session("s3"))
    full = botocore.session.Session().create_client("s3", region_name=region)
    assert lean.meta.endpoint_url == full.meta.endpoint_url == endpoint
    assert lean.meta.region_name == full.meta.region_name
    assert lean.meta.partition == full.meta.partition
    # How S3 requests are signed there (SigV2 presigning in the regions the
    # endpoints data lists with "s3" signatures, else SigV4) is the same too.
    urls = [
        client.generate_presigned_url(
            "get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60
        )
        for client in (lean, full)
    ]
    assert [_shape(u) for u in urls] == [_shape(urls[1])] * 2


def _shape(url):
    base, _, query = url.partition("?")
    return base, sorted(p.split("=")[0] for p in query.split("&"))


def test_the_lean_loader_keeps_the_credential_services_endpoints():
    loader = AwsOptions().session("s3").get_component("data_loader")
    services = {
        name
        for partition in loader.load_data("endpoints")["partitions"]
        for name in partition["services"]
    }
    assert {"s3", "sts", "sso"} <= services
    assert "ec2" not in services  # the rest is what it saves


def test_an_unknown_profile_is_a_config_error(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    with pytest.raises(ConfigError, match="AWS profile 'nope' not found"):
        AwsOptions(profile="nope").session("s3")


def test_one_command_loads_neither_other_commands_nor_rich_nor_boto3():
    # What s3-stream's --max-memory counts: nothing another command needs.
    probe = (
        "import sys\n"
        "from devkit.cli import main\n"
        "main(['s3-stream', '--help'])\n"
        "loaded = [m for m in ('devkit.cli.play', 'devkit.cli.sfn', "
        "'devkit.cli.lambda_package', 'boto3', 'rich.console') if m in sys.modules]\n"
        "sys.stderr.write(repr(loaded))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert proc.stderr.endswith("[]"), proc.stderr
