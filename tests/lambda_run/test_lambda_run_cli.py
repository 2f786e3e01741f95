"""The command: stdout, stderr, exit codes, refusals."""

from __future__ import annotations

import json
import platform
import zipfile

import pytest

from devkit.cli import main
from testing.wheels import fake_extension


@pytest.fixture
def cli(runtime_cache):
    def run(*args):
        return main(["lambda-run", *map(str, args), "--cache-dir", str(runtime_cache)])

    return run


def test_result_on_stdout_and_report_on_stderr(
    build, make_function, cli, capsys, tmp_path
):
    src = make_function(
        "echo",
        "def handler(event, context):\n    print('log line')\n    return event\n",
    )
    event = tmp_path / "event.json"
    event.write_text('{"id": 1}')
    assert cli(build(src), "--event", event) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"id": 1}
    assert "log line" in err
    report = err.strip().splitlines()[-1]
    assert report.startswith("REPORT RequestId: ")
    assert "\tDuration: " in report and "\tInit Duration: " in report
    assert "\tMax Memory Used: " in report and "Memory Size: 128 MB" in report


def test_json_document_and_exit_codes(build, make_function, cli, capsys):
    raising = make_function("raising", "def handler(e, c):\n    raise KeyError('k')\n")
    assert cli(build(raising), "--json", "-q") == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "error" and doc["error"]["errorType"] == "KeyError"
    assert {"init_ms", "duration_ms", "max_memory_mb", "runtime_api"} <= doc.keys()
    slow = make_function(
        "slow", "import time\n\ndef handler(e, c):\n    time.sleep(30)\n"
    )
    assert cli(build(slow), "--timeout", "0.3", "--json", "-q") == 9
    assert json.loads(capsys.readouterr().out)["status"] == "timeout"
    crash = make_function("crash", "import os\n\ndef handler(e, c):\n    os._exit(9)\n")
    assert cli(build(crash), "--json", "-q") == 10
    assert json.loads(capsys.readouterr().out)["status"] == "crash"
    broken = make_function("broken", "import nothere\n")
    assert cli(build(broken), "-q") == 1
    out = json.loads(capsys.readouterr().out)
    assert out["errorType"] == "Runtime.ImportModuleError"


def test_event_from_stdin_and_bad_event(build, make_function, cli, capsys, monkeypatch):
    import io

    src = make_function("echo", "def handler(event, context):\n    return event\n")
    zip_path = build(src)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"[1, 2]")))
    assert cli(zip_path, "--event", "-", "-q") == 0
    assert json.loads(capsys.readouterr().out) == [1, 2]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"{oops")))
    assert cli(zip_path, "--event", "-") == 2
    assert capsys.readouterr().err.startswith("error: event stdin is not JSON")


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.skipif(platform.machine() != "x86_64", reason="checks an x86_64 host")
def test_refusals_are_one_line(build, make_function, cli, capsys, tmp_path):
    src = make_function()
    arm = build(src, arch="arm64", output=tmp_path / "arm.zip")
    assert cli(arm) == 2
    assert "targets arm64 and this machine is x86_64" in _one_line_error(capsys)
    x86 = build(src)
    assert cli(x86, "--runtime", "python3.12") == 2
    assert "built for python3.11, not python3.12" in _one_line_error(capsys)
    other = tmp_path / "python3.99"
    other.write_text('#!/bin/sh\necho 3.99; echo x86_64; echo "$0"\n')
    other.chmod(0o755)
    assert cli(x86, "--python", other) == 2
    assert "is Python 3.99, the zip targets python3.11" in _one_line_error(capsys)
    assert cli(tmp_path / "nope.zip") == 2
    assert "not found" in _one_line_error(capsys)
    assert cli(x86, "--env", "AWS_REGION=eu-west-1") == 2
    assert "AWS_REGION is reserved" in _one_line_error(capsys)


def test_a_module_needing_a_newer_glibc_than_the_host_is_refused(cli, capsys, tmp_path):
    path = tmp_path / "future.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("handler.py", "def handler(e, c):\n    pass\n")
        zf.writestr(
            "lib/fut/_ext.cpython-311-x86_64-linux-gnu.so",
            fake_extension("x86_64", "2.99"),
        )
    assert cli(path) == 2
    line = _one_line_error(capsys)
    assert "task/lib/fut/_ext.cpython-311-x86_64-linux-gnu.so needs GLIBC_2.99" in line


def test_a_zip_without_a_target_needs_runtime(cli, capsys, tmp_path):
    path = tmp_path / "plain.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("lambda_function.py", "def lambda_handler(e, c):\n    return 5\n")
    assert cli(path) == 2
    assert "pass --runtime python3.X" in _one_line_error(capsys)
    assert cli(path, "--runtime", "python3.11", "-q") == 0
    assert capsys.readouterr().out.strip() == "5"


@pytest.fixture
def package(runtime_cache, wheelhouse, tmp_path, monkeypatch):
    """`devkit lambda-package` with the local wheels and the shared runtime."""
    monkeypatch.setenv("DEVKIT_CACHE_DIR", str(runtime_cache.parent))

    def run(src, *args):
        argv = ["lambda-package", str(src), "--runtime", "python3.11", "--no-index"]
        argv += ["--find-links", str(wheelhouse), "--cache-dir", str(tmp_path / "deps")]
        return main([*argv, "-o", str(tmp_path / "out.zip"), *map(str, args)])

    return run


def test_run_check_fails_a_build_whose_handler_cannot_import(
    package, make_function, capsys, tmp_path
):
    src = make_function("broken", "import purepkg\n\ndef handler(e, c):\n    pass\n")
    assert package(src, "--run-check") == 1
    err = capsys.readouterr().err
    assert (
        "error: --run-check: handler.handler did not initialise "
        "(Runtime.ImportModuleError: Unable to import module 'handler': "
        "No module named 'purepkg')" in err
    )
    assert not (tmp_path / "out.zip").exists()
    (src / "requirements.txt").write_text("purepkg==1.0\n")
    assert package(src, "--run-check") == 0
    assert (tmp_path / "out.zip").is_file()


def test_run_check_with_an_event_and_json(package, make_function, capsys, tmp_path):
    src = make_function("echo", "def handler(event, context):\n    return event['n']\n")
    event = tmp_path / "event.json"
    event.write_text('{"n": 3}')
    assert package(src, f"--run-check={event}", "--json", "-q") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["run_check"]["status"] == "response"
    assert doc["run_check"]["handler"] == "handler.handler"
    # The default event {} makes this handler raise: a warning, not a failure.
    assert package(src, "--run-check", "-q") == 0
    err = capsys.readouterr().err
    assert (
        "run-check: handler.handler imported, but the invocation ended in error" in err
    )
    assert "KeyError" in err


def test_a_member_outside_the_task_folder_is_refused(cli, capsys, tmp_path):
    path = tmp_path / "slip.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("handler.py", "def handler(e, c):\n    pass\n")
        zf.writestr("../escaped.py", "X = 1\n")
    assert cli(path, "--runtime", "python3.11") == 2
    assert "member '../escaped.py' would land outside" in _one_line_error(capsys)
    assert not (tmp_path / "escaped.py").exists()


def test_run_check_runs_before_deploy_uploads(package, make_function, capsys):
    # moto's Lambda API on 127.0.0.1: a broken build must never reach it.
    import io
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        lam = boto3.client("lambda", region_name="us-east-1", endpoint_url=url)
        iam = boto3.client("iam", region_name="us-east-1", endpoint_url=url)
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("handler.py", "def handler(e, c):\n    return 0\n")
        lam.create_function(
            FunctionName="orders",
            Runtime="python3.11",
            Role=role["Arn"],
            Handler="handler.handler",
            Code={"ZipFile": buf.getvalue()},
        )
        before = lam.get_function(FunctionName="orders")["Configuration"]["CodeSha256"]
        src = make_function(
            "broken", "import purepkg\n\ndef handler(e, c):\n    pass\n"
        )
        deploy = ["--deploy", "orders", "--endpoint-url", url, "--region", "us-east-1"]
        assert package(src, "--run-check", *deploy) == 1
        assert "Runtime.ImportModuleError" in capsys.readouterr().err
        after = lam.get_function(FunctionName="orders")["Configuration"]["CodeSha256"]
        assert after == before
        (src / "requirements.txt").write_text("purepkg==1.0\n")
        assert package(src, "--run-check", *deploy, "-q") == 0
        assert "deployed     orders: code updated" in capsys.readouterr().out
    finally:
        server.stop()


CREDENTIALS_HANDLER = """\
import os


def handler(event, context):
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    return {name: os.environ.get(name) for name in names}
"""
NONE = dict.fromkeys(
    ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
)


def test_aws_credentials_reach_the_function_only_when_asked(
    build, make_function, cli, capsys, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "local-token")
    zip_path = build(make_function("creds", CREDENTIALS_HANDLER))
    assert cli(zip_path, "-q") == 0
    assert json.loads(capsys.readouterr().out) == NONE  # none by default
    assert cli(zip_path, "--aws-credentials") == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {
        "AWS_ACCESS_KEY_ID": "AKIDLOCAL",
        "AWS_SECRET_ACCESS_KEY": "local-secret",
        "AWS_SESSION_TOKEN": "local-token",
    }
    assert "local-secret" not in err and "local-token" not in err


def test_aws_credentials_of_a_profile_or_none_found(
    build, make_function, cli, capsys, monkeypatch, tmp_path
):
    for name in NONE:
        monkeypatch.delenv(name, raising=False)
    shared = tmp_path / "credentials"
    shared.write_text("[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = s\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    zip_path = build(make_function("creds", CREDENTIALS_HANDLER))
    assert cli(zip_path, "-q", "--aws-credentials", "--profile", "dev") == 0
    assert json.loads(capsys.readouterr().out) == {
        "AWS_ACCESS_KEY_ID": "AKIDDEV",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_SESSION_TOKEN": None,
    }
    # The default profile has none: one line, and the function never runs.
    assert cli(zip_path, "-q", "--aws-credentials") == 2
    assert "no AWS credentials found" in _one_line_error(capsys)


RUNTIME_BOTO3_HANDLER = """\
import os

import boto3


def handler(event, context):
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    return {"stub": getattr(boto3, "DEVKIT_STUB", False), "buckets": names}
"""


def test_with_aws_credentials_the_runtime_boto3_is_real(
    build, make_function, cli, capsys
):
    # The zip bundles no boto3: it uses the runtime's, as on Lambda. Without
    # credentials that is the stand-in; with them a real boto3 (devkit's own
    # version, installed into the runtime folder once) that reaches moto.
    from testing.s3_server import S3Server

    zip_path = build(make_function("real", RUNTIME_BOTO3_HANDLER))
    with S3Server() as server:
        server.client().create_bucket(Bucket="seen-from-the-function")
        endpoint = f"AWS_ENDPOINT_URL={server.endpoint_url}"
        assert cli(zip_path, "-q", "--env", endpoint) == 1
        assert "stand-in, which calls no AWS" in capsys.readouterr().out
        assert cli(zip_path, "-q", "--env", endpoint, "--aws-credentials") == 0
        seen = json.loads(capsys.readouterr().out)
    # (moto keeps one state per process: other tests' buckets may show too)
    assert seen["stub"] is False and "seen-from-the-function" in seen["buckets"]
