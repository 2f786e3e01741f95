"""`devkit sfn deploy`: a project's functions and its machine, created or updated.

One path for every kind of project: each handler folder (gatekeeper/,
stream/, or both for `sfn new fanout --wait-for`) is a function. Each zip is
built by devkit.lambda_package's `build_package` and uploaded by its
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
from devkit.fileio import atomic_write
from devkit.lambda_package import (
    BuildOptions,
    BuildResult,
    InstallOptions,
    build_package,
    deploy_package,
)
from devkit.lambda_package.deploy import deploy_errors, function_code
from devkit.sfn.asl import load_definition
from devkit.sfn.devkit_wheel import write_devkit_wheel
from devkit.sfn.scaffold import FUNCTION_ARN as GATEKEEPER_ARN
from devkit.sfn.scaffold.fanout import FUNCTION_ARN as STREAM_ARN


@dataclass(frozen=True)
class ProjectFunction:
    """A function a project's folder holds and its machine names by placeholder."""

    folder: str  # the handler's folder in the project, and the name's suffix
    placeholder: str  # ${...FunctionArn} in statemachine.asl.json
    timeout: int  # seconds
    memory: int | None  # MB; None: Lambda's default
    needs_devkit: bool  # devkit (this one, as a wheel) goes into its lib/


FUNCTIONS = (
    # The gatekeeper's machine gives each call 60 s.
    ProjectFunction("gatekeeper", GATEKEEPER_ARN, 30, None, False),
    # A child's Task allows Lambda's 15 minutes; 1 GB gives the streams a
    # 768 MiB budget (3/4 of it) and Lambda's CPU and network share with it.
    ProjectFunction("stream", STREAM_ARN, 900, 1024, True),
)


@dataclass(frozen=True)
class SfnDeployOptions:
    """What `devkit sfn deploy` was asked for."""

    directory: Path
    name: str
    role_arn: str | None
    runtime: str | None = None
    arch: str | None = None
    install: InstallOptions = InstallOptions()
    s3_bucket: str | None = None  # zips go through it (needed above 50 MB)


@dataclass(frozen=True)
class FunctionDeployed:
    """One function: what exists now and what this deploy changed."""

    name: str
    arn: str
    created: bool
    code_updated: bool
    zip_path: str
    code_sha256: str
    warnings: list[str]  # the build's, as `devkit lambda-package` gives them


@dataclass(frozen=True)
class SfnDeployResult:
    """What exists now and what this deploy changed."""

    functions: list[FunctionDeployed]
    state_machine_arn: str
    state_machine_created: bool
    state_machine_updated: bool

    @property
    def changed(self) -> bool:
        """Whether anything in the account changed."""
        return (
            any(f.created or f.code_updated for f in self.functions)
            or self.state_machine_created
            or self.state_machine_updated
        )

    def to_json(self) -> dict[str, Any]:
        """The --json document."""
        return {
            "functions": [f.__dict__ for f in self.functions],
            "state_machine_arn": self.state_machine_arn,
            "state_machine_created": self.state_machine_created,
            "state_machine_updated": self.state_machine_updated,
            "changed": self.changed,
        }


def project_functions(directory: Path) -> list[ProjectFunction]:
    """The functions of the project in directory: one per handler folder.

    A gatekeeper project has gatekeeper/, a fanout one stream/, a fanout with
    --wait-for both; every placeholder the machine names needs its folder.
    """
    machine_file = directory / "statemachine.asl.json"
    found = [f for f in FUNCTIONS if (directory / f.folder).is_dir()]
    if not machine_file.is_file() or not found:
        raise ConfigError(
            f"{directory} has no statemachine.asl.json with gatekeeper/ or stream/: "
            "make one with `devkit sfn new gatekeeper DIR` or "
            "`devkit sfn new fanout DIR`"
        )
    load_definition(machine_file)  # bad JSON fails here, before anything is built
    text = machine_file.read_text(encoding="utf-8")
    for f in FUNCTIONS:
        if f.placeholder in text and f not in found:
            raise ConfigError(
                f"{machine_file} names {f.placeholder} but {directory / f.folder}/ "
                "is missing: restore the handler's folder"
            )
    return found


def deploy_project(
    opts: SfnDeployOptions,
    aws: AwsOptions,
    on_status: Callable[[str], None] = lambda _msg: None,
) -> SfnDeployResult:
    """Build each function's zip, create or update them, then the machine."""
    functions = project_functions(opts.directory)
    build_dir = opts.directory / "build"
    build_dir.mkdir(exist_ok=True)
    lam = aws.lambda_()
    s3 = aws.s3() if opts.s3_bucket else None
    text = (opts.directory / "statemachine.asl.json").read_text(encoding="utf-8")
    deployed = []
    for spec in functions:
        build = _build(spec, opts, build_dir, on_status)
        made = _deploy_function(lam, s3, spec, build, opts, on_status)
        deployed.append(made)
        text = text.replace(spec.placeholder, made.arn)
    sfn = aws.client("stepfunctions")
    with deploy_errors(opts.name):
        machine_arn, m_created, m_updated = _ensure_machine(sfn, opts, text, on_status)
    return SfnDeployResult(deployed, machine_arn, m_created, m_updated)


def _build(
    spec: ProjectFunction,
    opts: SfnDeployOptions,
    build_dir: Path,
    on_status: Callable[[str], None],
) -> BuildResult:
    source = opts.directory / spec.folder
    requirements = None
    if spec.needs_devkit:
        requirements = with_devkit(source, build_dir, opts.install)
    return build_package(
        BuildOptions(
            src=source,
            output=build_dir / f"{spec.folder}.zip",
            requirements=requirements,
            runtime=opts.runtime,
            arch=opts.arch,
            install=opts.install,
            pins_sdk=spec.needs_devkit,
        ),
        on_status=on_status,
    )


def with_devkit(source: Path, build_dir: Path, install: InstallOptions) -> Path:
    """build/<folder>-requirements.txt: the folder's requirements plus this devkit.

    The wheel goes into lambda-package's cache under its content hash, so the
    requirement (and the path uv records in the installed dist-info) is the
    same for every project deployed by the same devkit: the zip is
    reproducible to the byte across folders and rebuilds.
    """
    wheel = write_devkit_wheel(install.cache_dir / "devkit-wheels")
    lines = [
        "# Written by `devkit sfn deploy`: the devkit that deployed (the `devkit`",
        "# on PyPI is another project), then the handler folder's requirements.",
        f"devkit @ {wheel.as_uri()}",
    ]
    own = source / "requirements.txt"
    if own.is_file():
        lines.append(f"-r {own.resolve()}")
    path = build_dir / f"{source.name}-requirements.txt"
    text = "\n".join(lines) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic_write(path, text.encode("utf-8"))
    return path


def _deploy_function(
    lam: Any,
    s3: Any,
    spec: ProjectFunction,
    build: BuildResult,
    opts: SfnDeployOptions,
    on_status: Callable[[str], None],
) -> FunctionDeployed:
    function = f"{opts.name}-{spec.folder}"
    with deploy_errors(function):
        arn, created = _ensure_function(lam, s3, function, spec, build, opts, on_status)
    code_updated = False
    if not created:
        code_updated = deploy_package(
            build, function, lam, s3, opts.s3_bucket, on_status=on_status
        ).code_updated
    return FunctionDeployed(
        function,
        arn,
        created,
        code_updated,
        str(build.output),
        build.code_sha256,
        build.warnings,
    )


def _ensure_function(
    lam: Any,
    s3: Any,
    function: str,
    spec: ProjectFunction,
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
    code = function_code(build, function, s3, opts.s3_bucket, on_status)
    on_status(f"creating function {function}")
    extra: dict[str, Any] = {"MemorySize": spec.memory} if spec.memory else {}
    made = lam.create_function(
        FunctionName=function,
        Runtime=build.target.runtime,
        Architectures=[build.target.arch],
        Role=opts.role_arn,
        Handler="handler.handler",
        Code=code,
        Timeout=spec.timeout,
        Environment={"Variables": dict(build.environment)},
        **extra,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=function)
    return str(made["FunctionArn"]), True


def find_machine(sfn: Any, name: str) -> str | None:
    """The ARN of the state machine called name, or None."""
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    return None


def _ensure_machine(
    sfn: Any, opts: SfnDeployOptions, text: str, on_status: Callable[[str], None]
) -> tuple[str, bool, bool]:
    arn = find_machine(sfn, opts.name)
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
