"""Replay the Lambda Python runtime's sys.path set-up on local folders.

Mirrors /var/runtime/bootstrap.py of the python3.11+ images (read from
public.ecr.aws/lambda/python and aws-lambda-python-runtime-interface-client):
the interpreter runs the bootstrap as a script, so sys.path starts with the
runtime folder and then PYTHONPATH; the layer paths and /var/lang's
site-packages are inserted only when PYTHONPATH is unset; LAMBDA_TASK_ROOT is
inserted at 0; site.addsitedir(LAMBDA_TASK_ROOT) runs the zip's .pth files.
Each real root is stood for by a folder: /var/task, /var/runtime, /opt.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOOTSTRAP = """
import importlib, json, os, site, sys

OPT = os.environ["REPLAY_OPT"]
VAR_LANG_SITE = os.environ["REPLAY_VAR_LANG_SITE"]


def is_pythonpath_set():
    return "PYTHONPATH" in os.environ


def get_opt_site_packages_directory():
    return "{}/python/lib/python{}.{}/site-packages".format(
        OPT, sys.version_info.major, sys.version_info.minor)


def get_opt_python_directory():
    return OPT + "/python"


def set_default_sys_path():
    if not is_pythonpath_set():
        sys.path.insert(0, VAR_LANG_SITE)
        sys.path.insert(0, get_opt_python_directory())
        sys.path.insert(0, get_opt_site_packages_directory())
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])


def add_default_site_directories():
    site.addsitedir(os.environ["LAMBDA_TASK_ROOT"])
    if not is_pythonpath_set():
        site.addsitedir(get_opt_site_packages_directory())
        site.addsitedir(get_opt_python_directory())


set_default_sys_path()
add_default_site_directories()
module, _, func = os.environ["_HANDLER"].rpartition(".")
result = getattr(importlib.import_module(module), func)({}, None)
print(json.dumps({"sys_path": sys.path, "result": result}))
"""


@dataclass(frozen=True)
class FakeLambda:
    """Folders standing for /var/task, /var/runtime and /opt."""

    task: Path
    runtime: Path
    opt: Path

    @classmethod
    def create(cls, root: Path) -> FakeLambda:
        """Make the three folders under root and write the bootstrap."""
        fake = cls(root / "var-task", root / "var-runtime", root / "opt")
        for folder in (fake.task, fake.runtime, fake.opt):
            folder.mkdir(parents=True, exist_ok=True)
        (fake.runtime / "bootstrap.py").write_text(BOOTSTRAP)
        return fake

    def layer_site_packages(self) -> Path:
        """The folder a layer's python/lib/python3.X/site-packages lands in."""
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return self.opt / "python" / "lib" / f"python{version}" / "site-packages"

    def translate(self, value: str) -> str:
        """Map real Lambda paths in a PYTHONPATH value onto the fake folders."""
        return (
            value.replace("/var/task", str(self.task))
            .replace("/var/runtime", str(self.runtime))
            .replace("/opt", str(self.opt))
        )

    def invoke(
        self,
        handler: str,
        environment: dict[str, str] | None = None,
        python: str = sys.executable,
    ) -> Any:
        """Start the runtime on the task folder, import handler, return its output."""
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LAMBDA_TASK_ROOT": str(self.task),
            "_HANDLER": handler,
            "REPLAY_OPT": str(self.opt),
            # The interpreter's own site-packages stands for /var/lang's,
            # where python3.11+ runtimes keep boto3.
            "REPLAY_VAR_LANG_SITE": sysconfig.get_paths()["purelib"],
        }
        for name, value in (environment or {}).items():
            env[name] = self.translate(value)
        proc = subprocess.run(
            [python, str(self.runtime / "bootstrap.py")],
            cwd=self.task,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"bootstrap failed: {proc.stderr.strip()}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def find_python(version: str) -> str | None:
    """A working `pythonX.Y`: on PATH, else under pyenv (its shims may not run)."""
    root = os.environ.get("PYENV_ROOT", "/root/.pyenv")
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    for exe in candidates:
        if exe and subprocess.run([exe, "-V"], capture_output=True).returncode == 0:
            return exe
    return None
