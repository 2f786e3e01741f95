"""`devkit sfn deploy` and `devkit sfn wait` against moto's server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json

import boto3
import pytest

from devkit.cli import main
from devkit.errors import ExitCode


def deploy(capsys, target, *args):
    rc = main(["sfn", "deploy", str(target), "--no-index", "--json", "-q", *args])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if out else None), err


@pytest.fixture
def project(tmp_path):
    target = tmp_path / "pipeline"
    assert main(["sfn", "new", "gatekeeper", str(target), "-q"]) == 0
    return target


def test_deploy_creates_then_changes_nothing(project, sfn_server, capsys):
    rc, first, _ = deploy(capsys, project, "--role-arn", sfn_server)
    [fn] = first["functions"]
    assert rc == 0 and fn["created"] and first["state_machine_created"]
    assert fn["name"] == "pipeline-gatekeeper"
    lam, sfn = boto3.client("lambda"), boto3.client("stepfunctions")
    conf = lam.get_function_configuration(FunctionName="pipeline-gatekeeper")
    zip_bytes = (project / "build" / "gatekeeper.zip").read_bytes()
    assert (
        conf["CodeSha256"]
        == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    )
    assert conf["Handler"] == "handler.handler"
    machine = sfn.describe_state_machine(stateMachineArn=first["state_machine_arn"])
    definition = json.loads(machine["definition"])
    assert definition["States"]["Gatekeeper"]["Resource"] == conf["FunctionArn"]
    assert "${" not in machine["definition"]
    local = json.loads((project / "statemachine.asl.json").read_text())
    local["States"]["Gatekeeper"]["Resource"] = conf["FunctionArn"]
    assert definition == local

    rc, second, _ = deploy(capsys, project)  # no --role-arn needed to update
    assert rc == 0 and second["changed"] is False
    again = lam.get_function_configuration(FunctionName="pipeline-gatekeeper")
    assert (again["CodeSha256"], again["LastModified"]) == (
        conf["CodeSha256"],
        conf["LastModified"],
    )

    handler = project / "gatekeeper" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    doc = json.loads((project / "statemachine.asl.json").read_text())
    doc["TimeoutSeconds"] += 60
    (project / "statemachine.asl.json").write_text(json.dumps(doc))
    rc, third, _ = deploy(capsys, project)
    [fn] = third["functions"]
    assert rc == 0 and fn["code_updated"] and third["state_machine_updated"]
    assert not fn["created"] and not third["state_machine_created"]


def test_deploy_says_what_the_build_warns_of(project, sfn_server, capsys):
    # A lib/ in the function's folder is left out of the zip, as
    # `devkit lambda-package` warns; sfn deploy says so too, naming the function.
    (project / "gatekeeper" / "lib").mkdir()
    rc, made, err = deploy(capsys, project, "--role-arn", sfn_server)
    assert rc == 0
    [fn] = made["functions"]
    [warning] = fn["warnings"]
    assert "lib is left out: lib/ holds the installed requirements" in warning
    assert err == f"warning: pipeline-gatekeeper: {warning}\n"


def test_deploy_through_an_s3_bucket(project, sfn_server, capsys, monkeypatch):
    # Above Lambda's 50 MB direct upload a zip must go through S3, as with
    # `lambda-package --s3-bucket`: for the create and for each update.
    # (The limit is lowered here so this small zip is over it.)
    monkeypatch.setattr("devkit.lambda_package.deploy.DIRECT_UPLOAD_LIMIT", 100)
    rc, _, err = deploy(capsys, project, "--role-arn", sfn_server)
    assert rc != 0 and "over the 50 MB direct upload limit: pass --s3-bucket" in err
    assert len(err.splitlines()) == 1
    with pytest.raises(boto3.client("lambda").exceptions.ResourceNotFoundException):
        boto3.client("lambda").get_function(FunctionName="pipeline-gatekeeper")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="zips")
    rc, made, err = deploy(
        capsys, project, "--role-arn", sfn_server, "--s3-bucket", "zips"
    )
    assert rc == 0, err
    handler = project / "gatekeeper" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    rc, again, err = deploy(capsys, project, "--s3-bucket", "zips")
    assert rc == 0 and again["functions"][0]["code_updated"], err
    lam = boto3.client("lambda")
    conf = lam.get_function_configuration(FunctionName="pipeline-gatekeeper")
    zip_bytes = (project / "build" / "gatekeeper.zip").read_bytes()
    sha = hashlib.sha256(zip_bytes)
    assert conf["CodeSha256"] == base64.b64encode(sha.digest()).decode()
    listed = s3.list_objects_v2(Bucket="zips", Prefix="devkit/lambda-package/")
    keys = sorted(o["Key"] for o in listed["Contents"])
    assert len(keys) == 2  # the first zip and the changed one, by content
    key = f"devkit/lambda-package/pipeline-gatekeeper/{sha.hexdigest()}.zip"
    assert key in keys
    assert s3.get_object(Bucket="zips", Key=key)["Body"].read() == zip_bytes


def test_first_deploy_without_role_says_what_to_pass(project, sfn_server, capsys):
    rc, _, err = deploy(capsys, project)
    assert rc == 2 and "pass --role-arn" in err and len(err.splitlines()) == 1


def test_deploy_of_a_folder_without_a_project(tmp_path, sfn_server, capsys):
    rc, _, err = deploy(capsys, tmp_path)
    assert rc == 2 and "devkit sfn new gatekeeper" in err


def start(definition, role, name="m", execution_input=None):
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=role
    )
    return sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"],
        input=json.dumps(execution_input or {}),
    )["executionArn"]


def wait(capsys, arn, *args):
    rc = main(["sfn", "wait", arn, *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_wait_succeeded_prints_the_output(sfn_server, capsys):
    arn = start(
        {
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}},
        },
        sfn_server,
    )
    rc, out, _ = wait(capsys, arn)
    assert rc == 0 and json.loads(out) == {"ok": 1}
    rc, out, _ = wait(capsys, arn, "--json")
    assert rc == 0 and json.loads(out)["status"] == "SUCCEEDED"


def test_wait_failed(sfn_server, capsys):
    arn = start(
        {
            "StartAt": "F",
            "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "why"}},
        },
        sfn_server,
    )
    rc, out, err = wait(capsys, arn)
    assert rc == ExitCode.EXECUTION_FAILED == 20
    assert out == "" and err == "error: execution FAILED: Boom: why\n"


def test_wait_timed_out(sfn_server, capsys):
    arn = start(
        {
            "StartAt": "W",
            "TimeoutSeconds": 1,
            "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}},
        },
        sfn_server,
    )
    rc, _, err = wait(capsys, arn)
    assert rc == ExitCode.EXECUTION_TIMED_OUT == 21 and "TIMED_OUT" in err


def test_wait_aborted_and_timeout(sfn_server, capsys):
    arn = start(
        {
            "StartAt": "W",
            "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}},
        },
        sfn_server,
    )
    rc, _, err = wait(capsys, arn, "--timeout", "0.2")
    assert rc == ExitCode.WAIT_TIMEOUT == 23 and "still RUNNING" in err
    boto3.client("stepfunctions").stop_execution(executionArn=arn)
    rc, _, err = wait(capsys, arn)
    assert rc == ExitCode.EXECUTION_ABORTED == 22 and "ABORTED" in err


def test_wait_on_an_unknown_execution(sfn_server, capsys):
    arn = "arn:aws:states:us-east-1:123456789012:execution:nope:nope"
    rc, _, err = wait(capsys, arn)
    assert rc == 2 and err.startswith("error: ExecutionDoesNotExist")
    rc, _, err = wait(capsys, "")
    assert rc == 2 and err == "error: '' is not an execution ARN " + (
        "(arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)\n"
    )


def test_deployed_gatekeeper_runs_and_is_waited_on(project, sfn_server, capsys):
    rc, made, _ = deploy(capsys, project, "--role-arn", sfn_server)
    assert rc == 0
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=made["state_machine_arn"], input=json.dumps({"prefix": "out/"})
    )["executionArn"]
    # moto's Lambda without docker echoes the event back: "ready" at once.
    rc, out, err = wait(capsys, arn, "--timeout", "60")
    assert rc == 0, err
    assert json.loads(out)["prefix"] == "out/"
    events = sfn.get_execution_history(executionArn=arn)["events"]
    assert [e["type"] for e in events][:3] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
    ]


def test_backoff_polls_less_often_over_time():
    from devkit.sfn.wait import Backoff, wait_for_execution

    class Fake:
        def __init__(self):
            self.calls = 0

        def describe_execution(self, executionArn):
            self.calls += 1
            return {
                "status": "RUNNING" if self.calls < 6 else "SUCCEEDED",
                "output": "{}",
            }

    slept, now = [], [0.0]

    def sleep(s):
        slept.append(s)
        now[0] += s

    arn = "arn:aws:states:us-east-1:123456789012:execution:m:run"
    desc = wait_for_execution(
        Fake(), arn, backoff=Backoff(1, 2, 5), sleep=sleep, clock=lambda: now[0]
    )
    assert desc["status"] == "SUCCEEDED" and slept == [1, 2, 4, 5, 5]
