"""`devkit sfn deploy`: the gatekeeper's Lambda and the machine, created or updated.

The zip is built by devkit.lambda_package's `build_package` and uploaded by its
`deploy_package`, the same code path as `devkit lambda-package --deploy`: a
second deploy with nothing changed builds the same bytes, sees the same
CodeSha256 and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from devkit.aws import AwsOptions
from devkit.errors import ConfigError
from devkit.lambda_package import (
    BuildOptions,
    BuildResult,
    InstallOptions,
    build_package,
    deploy_package,
)
from devkit.lambda_package.deploy import deploy_errors
from devkit.sfn.asl import load_definition
from devkit.sfn.scaffold import FUNCTION_ARN

FUNCTION_TIMEOUT = 30  # seconds; the machine gives each call 60


@dataclass(frozen=True)
class SfnDeployOptions:
    """What `devkit sfn deploy` was asked for."""

    directory: Path
    name: str
    role_arn: str | None
    runtime: str | None = None
    arch: str | None = None
    install: InstallOptions = InstallOptions()


@dataclass(frozen=True)
class SfnDeployResult:
    """What exists now and what this deploy changed."""

    function_arn: str
    function_created: bool
    code_updated: bool
    state_machine_arn: str
    state_machine_created: bool
    state_machine_updated: bool
    zip_path: str

    @property
    def changed(self) -> bool:
        """Whether anything in the account changed."""
        return (
            self.function_created
            or self.code_updated
            or self.state_machine_created
            or self.state_machine_updated
        )


def deploy_project(
    opts: SfnDeployOptions,
    aws: AwsOptions,
    on_status: Callable[[str], None] = lambda _msg: None,
) -> SfnDeployResult:
    """Build the zip, then create or update the function and the machine."""
    machine_file = opts.directory / "statemachine.asl.json"
    source = opts.directory / "gatekeeper"
    if not machine_file.is_file() or not source.is_dir():
        raise ConfigError(
            f"{opts.directory} has no statemachine.asl.json and gatekeeper/: "
            "make one with `devkit sfn new gatekeeper DIR`"
        )
    load_definition(machine_file)  # bad JSON fails here, before anything is built
    build_dir = opts.directory / "build"
    build_dir.mkdir(exist_ok=True)
    build = build_package(
        BuildOptions(
            src=source,
            output=build_dir / "gatekeeper.zip",
            runtime=opts.runtime,
            arch=opts.arch,
            install=opts.install,
        ),
        on_status=on_status,
    )
    function = f"{opts.name}-gatekeeper"
    lam = aws.lambda_()
    with deploy_errors(function):
        function_arn, created = _ensure_function(lam, function, build, opts, on_status)
    code_updated = False
    if not created:
        code_updated = deploy_package(
            build, function, lam, on_status=on_status
        ).code_updated
    text = machine_file.read_text(encoding="utf-8").replace(FUNCTION_ARN, function_arn)
    sfn = aws.client("stepfunctions")
    with deploy_errors(opts.name):
        machine_arn, m_created, m_updated = _ensure_machine(sfn, opts, text, on_status)
    return SfnDeployResult(
        function_arn,
        created,
        code_updated,
        machine_arn,
        m_created,
        m_updated,
        str(build.output),
    )


def _ensure_function(
    lam: Any,
    function: str,
    build: BuildResult,
    opts: SfnDeployOptions,
    on_status: Callable[[str], None],
) -> tuple[str, bool]:
    try:
        conf = lam.get_function_configuration(FunctionName=function)
        return str(conf["FunctionArn"]), False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    if not opts.role_arn:
        raise ConfigError(
            f"function {function} does not exist: pass --role-arn to create it"
        )
    on_status(f"creating function {function}")
    made = lam.create_function(
        FunctionName=function,
        Runtime=build.target.runtime,
        Architectures=[build.target.arch],
        Role=opts.role_arn,
        Handler="handler.handler",
        Code={"ZipFile": build.output.read_bytes()},
        Timeout=FUNCTION_TIMEOUT,
        Environment={"Variables": dict(build.environment)},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=function)
    return str(made["FunctionArn"]), True


def _find_machine(sfn: Any, name: str) -> str | None:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    return None


def _ensure_machine(
    sfn: Any, opts: SfnDeployOptions, text: str, on_status: Callable[[str], None]
) -> tuple[str, bool, bool]:
    arn = _find_machine(sfn, opts.name)
    if arn is None:
        if not opts.role_arn:
            raise ConfigError(
                f"state machine {opts.name} does not exist: "
                "pass --role-arn to create it"
            )
        on_status(f"creating state machine {opts.name}")
        made = sfn.create_state_machine(
            name=opts.name, definition=text, roleArn=opts.role_arn, type="STANDARD"
        )
        return str(made["stateMachineArn"]), True, False
    current = sfn.describe_state_machine(stateMachineArn=arn)
    same_definition = json.loads(current["definition"]) == json.loads(text)
    role = opts.role_arn or current["roleArn"]
    if same_definition and role == current["roleArn"]:
        return arn, False, False
    on_status(f"updating state machine {opts.name}")
    sfn.update_state_machine(stateMachineArn=arn, definition=text, roleArn=role)
    return arn, False, True
