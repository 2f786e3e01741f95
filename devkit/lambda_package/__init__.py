"""`devkit lambda-package`: reproducible Lambda zips with dependencies under lib/."""

from __future__ import annotations

from devkit.lambda_package.build import BuildOptions, BuildResult, build_package
from devkit.lambda_package.deploy import DeployResult, check_function, deploy_package
from devkit.lambda_package.install import InstallOptions
from devkit.lambda_package.target import Target, resolve_target

__all__ = [
    "BuildOptions",
    "BuildResult",
    "DeployResult",
    "InstallOptions",
    "Target",
    "build_package",
    "check_function",
    "deploy_package",
    "resolve_target",
]
