"""Optional .pyc files compiled by the target's own Python version.

Hash-checked (PEP 552): the runtime validates each .pyc against its source's
hash instead of its timestamp, which is fixed at 1980 inside the zip. They
are compiled with the embedded file name the function will see on Lambda and
with a fixed hash seed, so the bytes repeat from build to build.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from devkit.errors import BuildError
from devkit.lambda_package.files import SourceFile
from devkit.lambda_package.target import Target

TASK_ROOT = "/var/task"

# Runs under the target interpreter: compiles each (source, dfile, cfile).
_COMPILER = """
import json, py_compile, sys
for src, dfile, cfile in json.load(sys.stdin):
    try:
        py_compile.compile(src, cfile=cfile, dfile=dfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    except py_compile.PyCompileError:
        pass  # not valid for this Python (e.g. a py2-only test file): ship source only
"""


def target_python(target: Target) -> str:
    """The interpreter matching the target's version, or a BuildError saying so."""
    exe = shutil.which(f"python{target.python_version}")
    if exe is None or not _runs(exe, target):
        raise BuildError(
            f"--compile needs python{target.python_version} on PATH "
            f"(.pyc files only load on the Python that wrote them): install it "
            "or drop --compile"
        )
    return exe


def _runs(exe: str, target: Target) -> bool:
    # A pyenv shim is on PATH even when its version is not selected, and fails.
    check = "import sys; print('%d.%d' % sys.version_info[:2])"
    proc = subprocess.run(
        [exe, "-c", check], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and proc.stdout.strip() == target.python_version


def compile_files(
    files: Sequence[SourceFile], target: Target, out: Path
) -> list[SourceFile]:
    """Compile the .py files among `files` into out/; return the .pyc as zip files."""
    tag = f"cpython-{target.python[0]}{target.python[1]}"
    jobs, results = [], []
    for f in files:
        if not f.arcname.endswith(".py"):
            continue
        folder, _, name = f.arcname.rpartition("/")
        arc = f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.{tag}.pyc"
        jobs.append((str(f.path), f"{TASK_ROOT}/{f.arcname}", str(out / arc)))
        results.append(SourceFile(arc, out / arc, False))
    if not jobs:
        return []
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # frozenset constants in stable order
    proc = subprocess.run(
        [target_python(target), "-c", _COMPILER],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BuildError(
            f"compiling .pyc with python{target.python_version} failed: {last}"
        )
    return [r for r in results if r.path.is_file()]
