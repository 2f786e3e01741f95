"""Upload a built zip to an existing function and fix its path environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from devkit.errors import DeployError
from devkit.lambda_package.build import DIRECT_UPLOAD_LIMIT, BuildResult
from devkit.lambda_package.pathsetup import merge_environment
from devkit.lambda_package.target import Target

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class DeployResult:
    """What changed on the function."""

    function: str
    code_updated: bool
    code_sha256: str
    environment_changed: bool
    note: str | None
    s3_location: str | None


def check_function(function: str, client: LambdaClient, target: Target) -> None:
    """Before building: the function exists and runs the runtime and arch targeted."""
    with _converted(function):
        conf = client.get_function_configuration(FunctionName=function)
        _check_target(target, function, conf.get("Runtime"), conf.get("Architectures"))


@contextmanager
def _converted(function: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "Error"), err.get("Message", str(exc))
        if code == "ResourceNotFoundException":
            raise DeployError(
                f"function {function} not found: check the name and --region"
            ) from exc
        raise DeployError(f"deploying {function} failed: {code}: {message}") from exc
    except (BotoCoreError, WaiterError) as exc:
        raise DeployError(f"deploying {function} failed: {exc}") from exc


def deploy_package(
    build: BuildResult,
    function: str,
    client: LambdaClient,
    s3: S3Client | None = None,
    s3_bucket: str | None = None,
    on_status: Callable[[str], None] = lambda _msg: None,
) -> DeployResult:
    """Update the function's code (unless unchanged) and merge its environment."""
    with _converted(function):
        return _deploy(build, function, client, s3, s3_bucket, on_status)


def _deploy(
    build: BuildResult,
    function: str,
    client: LambdaClient,
    s3: S3Client | None,
    s3_bucket: str | None,
    on_status: Callable[[str], None],
) -> DeployResult:
    conf = client.get_function_configuration(FunctionName=function)
    _check_target(
        build.target, function, conf.get("Runtime"), conf.get("Architectures")
    )
    location = None
    updated = conf.get("CodeSha256") != build.code_sha256
    if updated:
        if s3_bucket:
            location = _upload_to_s3(build, function, s3, s3_bucket, on_status)
            bucket, key = location.removeprefix("s3://").split("/", 1)
            resp = client.update_function_code(
                FunctionName=function, S3Bucket=bucket, S3Key=key
            )
        else:
            if build.zipped_size > DIRECT_UPLOAD_LIMIT:
                raise DeployError(
                    f"zip is {build.zipped_size / 1e6:.1f} MB, over the "
                    "50 MB direct upload limit: pass --s3-bucket"
                )
            on_status(f"uploading {build.zipped_size:,} bytes to {function}")
            resp = client.update_function_code(
                FunctionName=function, ZipFile=build.output.read_bytes()
            )
        if resp.get("CodeSha256") != build.code_sha256:
            raise DeployError(
                f"Lambda reports CodeSha256 {resp.get('CodeSha256')} for "
                f"{function}, expected {build.code_sha256}: deploy again"
            )
        client.get_waiter("function_updated_v2").wait(FunctionName=function)
    current = conf.get("Environment", {}).get("Variables", {})
    change = merge_environment(current, build.target)
    if change.changed:
        client.update_function_configuration(
            FunctionName=function, Environment={"Variables": change.variables}
        )
        client.get_waiter("function_updated_v2").wait(FunctionName=function)
    return DeployResult(
        function, updated, build.code_sha256, change.changed, change.note, location
    )


def _check_target(
    target: Target, function: str, runtime: str | None, arches: Sequence[str] | None
) -> None:
    if runtime and runtime != target.runtime:
        raise DeployError(
            f"function {function} runs {runtime} but the zip targets "
            f"{target.runtime}: rebuild with --runtime {runtime}"
        )
    arch = (arches or ["x86_64"])[0]
    if arch != target.arch:
        raise DeployError(
            f"function {function} runs on {arch} but the zip targets "
            f"{target.arch}: rebuild with --arch {arch}"
        )


def _upload_to_s3(
    build: BuildResult,
    function: str,
    s3: S3Client | None,
    bucket: str,
    on_status: Callable[[str], None],
) -> str:
    if s3 is None:
        raise DeployError("an S3 client is needed to deploy through --s3-bucket")
    key = f"devkit/lambda-package/{function}/{build.sha256}.zip"
    on_status(f"uploading {build.zipped_size:,} bytes to s3://{bucket}/{key}")
    s3.upload_file(str(build.output), bucket, key)
    return f"s3://{bucket}/{key}"
