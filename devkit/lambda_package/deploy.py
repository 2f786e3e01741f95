"""Upload a built zip to an existing function and fix its path environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    layer_arn: str | None = None  # the layer version attached, with --layer
    layer_published: bool = False  # False: the latest version had this content


def check_function(function: str, client: LambdaClient, target: Target) -> None:
    """Before building: the function exists and runs the runtime and arch targeted."""
    with _converted(function):
        conf = client.get_function_configuration(FunctionName=function)
        _check_target(target, function, conf.get("Runtime"), conf.get("Architectures"))


@contextmanager
def deploy_errors(what: str, *, not_found: str | None = None) -> Iterator[None]:
    """Turn AWS's errors while deploying `what` into one-line DeployErrors.

    `not_found`, when given, is the message for ResourceNotFoundException
    (lambda-package names the function to check); `devkit sfn deploy` shares
    this, where a missing resource is created instead and needs no message.
    """
    try:
        yield
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "Error"), err.get("Message", str(exc))
        if not_found is not None and code == "ResourceNotFoundException":
            raise DeployError(not_found) from exc
        raise DeployError(f"deploying {what} failed: {code}: {message}") from exc
    except (BotoCoreError, WaiterError) as exc:
        raise DeployError(f"deploying {what} failed: {exc}") from exc


def _converted(function: str) -> AbstractContextManager[None]:
    missing = f"function {function} not found: check the name and --region"
    return deploy_errors(function, not_found=missing)


def deploy_package(
    build: BuildResult,
    function: str,
    client: LambdaClient,
    s3: S3Client | None = None,
    s3_bucket: str | None = None,
    on_status: Callable[[str], None] = lambda _msg: None,
    layer_name: str | None = None,
) -> DeployResult:
    """Update the function's code (unless unchanged) and merge its environment.

    With a layer zip, publish it as a version of layer_name (default
    `<function>-deps`) unless the latest version has the same bytes, and
    attach that version in place of any other version of the same layer.
    """
    with _converted(function):
        layer = None
        if build.layer is not None:
            layer = publish_layer(
                build,
                layer_name or f"{function}-deps",
                client,
                s3,
                s3_bucket,
                on_status,
            )
        return _deploy(build, function, client, s3, s3_bucket, on_status, layer)


# In the version's description: the layer's content hash (names, modes, CRCs,
# so another zlib's bytes for the same files still match), to skip reuploads.
LAYER_MARK = "devkit content-sha256 "


def publish_layer(
    build: BuildResult,
    name: str,
    client: LambdaClient,
    s3: S3Client | None,
    s3_bucket: str | None,
    on_status: Callable[[str], None],
) -> tuple[str, bool]:
    """The ARN of a layer version holding build.layer, and whether it is new."""
    layer = build.layer
    assert layer is not None
    versions = client.list_layer_versions(LayerName=name).get("LayerVersions", [])
    latest = max(versions, key=lambda v: v.get("Version", 0), default=None)
    if latest and latest.get("Description") == LAYER_MARK + layer.content_sha256:
        return latest["LayerVersionArn"], False
    content = _zip_code(
        layer.output,
        layer.zipped_size,
        f"devkit/lambda-package/layers/{name}/{layer.sha256}.zip",
        f"publishing {layer.zipped_size:,} bytes as layer {name}",
        s3,
        s3_bucket,
        on_status,
    )
    resp = client.publish_layer_version(
        LayerName=name,
        Description=LAYER_MARK + layer.content_sha256,
        Content=content,  # type: ignore[arg-type]
        CompatibleRuntimes=[build.target.runtime],  # type: ignore[list-item]
        CompatibleArchitectures=[build.target.arch],  # type: ignore[list-item]
    )
    got = resp.get("Content", {}).get("CodeSha256")
    if got != layer.code_sha256:
        raise DeployError(
            f"Lambda reports CodeSha256 {got} for layer {name}, expected "
            f"{layer.code_sha256}: deploy again"
        )
    return resp["LayerVersionArn"], True


def _attach(current: Sequence[str], arn: str) -> list[str]:
    # Replace any version of the same layer in place; else add it last.
    base = arn.rsplit(":", 1)[0] + ":"
    if any(a.startswith(base) for a in current):
        return [arn if a.startswith(base) else a for a in current]
    return [*current, arn]


def _deploy(
    build: BuildResult,
    function: str,
    client: LambdaClient,
    s3: S3Client | None,
    s3_bucket: str | None,
    on_status: Callable[[str], None],
    layer: tuple[str, bool] | None = None,
) -> DeployResult:
    conf = client.get_function_configuration(FunctionName=function)
    _check_target(
        build.target, function, conf.get("Runtime"), conf.get("Architectures")
    )
    location = None
    updated = conf.get("CodeSha256") != build.code_sha256
    if updated:
        code = function_code(build, function, s3, s3_bucket, on_status)
        if "S3Key" in code:
            location = f"s3://{code['S3Bucket']}/{code['S3Key']}"
        resp = client.update_function_code(FunctionName=function, **code)
        if resp.get("CodeSha256") != build.code_sha256:
            raise DeployError(
                f"Lambda reports CodeSha256 {resp.get('CodeSha256')} for "
                f"{function}, expected {build.code_sha256}: deploy again"
            )
        client.get_waiter("function_updated_v2").wait(FunctionName=function)
    current = conf.get("Environment", {}).get("Variables", {})
    change = merge_environment(current, build.target)
    update: dict[str, object] = {}
    if change.changed:
        update["Environment"] = {"Variables": change.variables}
    attached = [x["Arn"] for x in conf.get("Layers", [])]
    if layer and _attach(attached, layer[0]) != attached:
        update["Layers"] = _attach(attached, layer[0])
    if update:
        client.update_function_configuration(FunctionName=function, **update)  # type: ignore[arg-type]
        client.get_waiter("function_updated_v2").wait(FunctionName=function)
    return DeployResult(
        function,
        updated,
        build.code_sha256,
        change.changed,
        change.note,
        location,
        layer[0] if layer else None,
        layer[1] if layer else False,
    )


def _check_direct(name: str, size: int) -> None:
    if size > DIRECT_UPLOAD_LIMIT:
        raise DeployError(
            f"{name} is {size / 1e6:.1f} MB, over the 50 MB direct upload "
            "limit: pass --s3-bucket"
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


def function_code(
    build: BuildResult,
    function: str,
    s3: S3Client | None,
    s3_bucket: str | None,
    on_status: Callable[[str], None],
) -> dict[str, Any]:
    """The function zip as Lambda's Code: uploaded through s3_bucket, or inline
    (refused over the 50 MB direct upload limit)."""
    return _zip_code(
        build.output,
        build.zipped_size,
        f"devkit/lambda-package/{function}/{build.sha256}.zip",
        f"uploading {build.zipped_size:,} bytes to {function}",
        s3,
        s3_bucket,
        on_status,
    )


def _zip_code(
    path: Path,
    size: int,
    key: str,
    inline_status: str,
    s3: S3Client | None,
    s3_bucket: str | None,
    on_status: Callable[[str], None],
) -> dict[str, Any]:
    if s3_bucket:
        _put(s3, s3_bucket, key, path, size, on_status)
        return {"S3Bucket": s3_bucket, "S3Key": key}
    _check_direct(path.name, size)
    on_status(inline_status)
    return {"ZipFile": path.read_bytes()}


def _put(
    s3: S3Client | None,
    bucket: str,
    key: str,
    path: Path,
    size: int,
    on_status: Callable[[str], None],
) -> None:
    if s3 is None:
        raise DeployError("an S3 client is needed to deploy through --s3-bucket")
    on_status(f"uploading {size:,} bytes to s3://{bucket}/{key}")
    s3.upload_file(str(path), bucket, key)
