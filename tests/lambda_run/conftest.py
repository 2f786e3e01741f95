from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from devkit.lambda_package import BuildOptions, InstallOptions, build_package
from devkit.lambda_package.target import resolve_target
from devkit.lambda_run import RunOptions, run_zip
from devkit.lambda_run.runtime import ensure_runtime, select_python
from testing.wheels import build_wheel

# Only python3.11 is sure to be on the machines that run the tests.
RUNTIME = "python3.11"

HANDLER = """\
import importlib, os, sys


def handler(event, context):
    origins = {}
    for name in ("boto3", "layermod", "purepkg", "app"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            origins[name] = None
        else:
            origins[name] = getattr(module, "WHERE", None) or (
                "stub" if getattr(module, "DEVKIT_STUB", False) else "?"
            )
    return {
        "event": event,
        "origins": origins,
        "greeting": os.environ.get("GREETING"),
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "left_ms": context.get_remaining_time_in_millis(),
        "sys_path": sys.path,
        "env": {k: os.environ.get(k) for k in (
            "LAMBDA_TASK_ROOT", "_HANDLER", "AWS_EXECUTION_ENV", "AWS_REGION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "PYTHONPATH", "_DEVKIT_OPT",
            "_X_AMZN_TRACE_ID")},
    }
"""


@pytest.fixture(scope="session")
def runtime_cache(shared_cache_dir) -> Path:
    """lambda-run's runtime folder, installed once from the package index by uv.

    Shared by the xdist workers (the entry is renamed into place, so a race
    leaves one copy). This is the path users take; it needs the index, as
    setting up .venv does.
    """
    # What DEVKIT_CACHE_DIR=shared_cache_dir gives, for tests that go
    # through lambda-package --run-check.
    cache = shared_cache_dir / "lambda-run"
    python = select_python(resolve_target(RUNTIME, "x86_64"), None)
    ensure_runtime(python, cache)
    return cache


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    w = tmp_path_factory.mktemp("wheels")
    build_wheel(w, "purepkg", "1.0", {"purepkg/__init__.py": "WHERE = 'lib'\n"})
    build_wheel(w, "boto3", "99.0", {"boto3/__init__.py": "WHERE = 'lib'\n"})
    return w


@pytest.fixture
def make_function(tmp_path):
    """A function folder: handler.py (HANDLER unless given) plus extra files."""

    def make(name="fn", handler=HANDLER, files=None, requirements=None):
        src = tmp_path / name
        src.mkdir()
        (src / "handler.py").write_text(handler)
        (src / "app").mkdir()
        (src / "app" / "__init__.py").write_text("WHERE = 'task'\n")
        for rel, text in (files or {}).items():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_text(text)
        if requirements:
            (src / "requirements.txt").write_text(requirements)
        return src

    return make


@pytest.fixture
def build(wheelhouse, tmp_path):
    """Build a zip with lambda-package from the local wheels only."""

    def run(src: Path, **kwargs) -> Path:
        install = InstallOptions(
            find_links=(str(wheelhouse),), no_index=True, cache_dir=tmp_path / "deps"
        )
        kwargs.setdefault("runtime", RUNTIME)
        kwargs.setdefault("output", tmp_path / f"{src.name}.zip")
        return build_package(BuildOptions(src=src, install=install, **kwargs)).output

    return run


@pytest.fixture
def invoke(runtime_cache):
    """run_zip with the shared runtime cache; keyword arguments go to RunOptions."""

    def run(zip_path: Path, **kwargs):
        return run_zip(RunOptions(zip_path=zip_path, cache_dir=runtime_cache, **kwargs))

    return run


@pytest.fixture
def make_layer(tmp_path):
    """A layer zip, as users upload them (python/... inside)."""

    def make(files: dict[str, str], name: str = "layer.zip") -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as zf:
            for rel, text in files.items():
                zf.writestr(rel, text)
        return path

    return make
