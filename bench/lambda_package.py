"""Benchmark: devkit lambda-package beside `pip install -t lib` + `zip -r` and
`sam build`, on one sample function (requests, pydantic, numpy) for python3.12
x86_64.

    .venv/bin/python bench/lambda_package.py [--runs 3]

Uses the real package index. Installs aws-sam-cli into its own temporary venv
(or reuses DEVKIT_BENCH_SAM_VENV). There is no docker here, so `sam build`
runs without a container: it uses the local python3.12 and so builds for
this machine (x86_64, glibc 2.36), not for Lambda.

Cold = every cache empty (devkit's, uv's, pip's); rebuild = the same command
again with nothing changed. Each figure is the median of --runs runs; CPU
seconds and peak RSS cover the child process tree (os.wait4).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEVKIT = [str(ROOT / ".venv" / "bin" / "devkit")]
RUNTIME = "python3.12"

HANDLER = """\
import numpy
import pydantic
import requests


class Item(pydantic.BaseModel):
    name: str
    values: list[float]


def handler(event, context):
    item = Item(name="x", values=[1.0, 2.0, 3.0])
    return {"mean": float(numpy.mean(item.values)), "requests": requests.__version__}
"""
REQUIREMENTS = "requests>=2.31\npydantic>=2.5\nnumpy>=1.26\n"
TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: handler.handler
      Runtime: python3.12
      Architectures: [x86_64]
"""


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float


@dataclass
class Method:
    name: str
    build: Callable[[Path, dict[str, str]], Path]  # (workdir, env) -> zip
    lib_on_path: bool = True
    cold: list[Run] = field(default_factory=list)
    warm: list[Run] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    zip_size: int = 0
    unzipped: int = 0
    imports: str = "?"


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> Run:
    """Run cmd; wall time, CPU seconds and peak RSS of its process tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def find_python312() -> str:
    """A python3.12 that runs (a pyenv shim on PATH may not)."""
    pattern = os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")
    for exe in [shutil.which("python3.12"), *sorted(glob.glob(pattern))]:
        if exe and subprocess.run([exe, "-V"], capture_output=True).returncode == 0:
            return exe
    raise SystemExit("needs a python3.12 interpreter")


def sam_venv(py312: str, scratch: Path) -> Path:
    """A venv holding aws-sam-cli, outside devkit's own."""
    reuse = os.environ.get("DEVKIT_BENCH_SAM_VENV")
    if reuse and Path(reuse, "bin", "sam").exists():
        return Path(reuse)
    venv = scratch / "sam-venv"
    print("installing aws-sam-cli into a temporary venv ...", file=sys.stderr)
    subprocess.run([py312, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "aws-sam-cli"], check=True
    )
    return venv


def make_function(work: Path) -> Path:
    fn = work / "fn"
    fn.mkdir(parents=True)
    (fn / "handler.py").write_text(HANDLER)
    (fn / "requirements.txt").write_text(REQUIREMENTS)
    (work / "template.yaml").write_text(TEMPLATE)
    return fn


def devkit_build(installer: str) -> Callable[[Path, dict[str, str]], Path]:
    def build(work: Path, env: dict[str, str]) -> Path:
        out = work / "devkit.zip"
        cmd = [
            *DEVKIT,
            "lambda-package",
            "fn",
            "--runtime",
            RUNTIME,
            "-o",
            str(out),
            "--installer",
            installer,
            "-q",
        ]
        return _timed(cmd, env, work, out)

    return build


def recipe_build(py312: str) -> Callable[[Path, dict[str, str]], Path]:
    def build(work: Path, env: dict[str, str]) -> Path:
        script = (
            "set -e; rm -rf build recipe.zip; mkdir build; cp fn/*.py build/; "
            f"{py312} -m pip install -q -r fn/requirements.txt -t build/lib; "
            "cd build && zip -q -r ../recipe.zip ."
        )
        return _timed(["bash", "-c", script], env, work, work / "recipe.zip")

    return build


def sam_build(venv: Path) -> Callable[[Path, dict[str, str]], Path]:
    def build(work: Path, env: dict[str, str]) -> Path:
        # SAM's own zipper (what `sam package`/`sam deploy` upload).
        script = (
            "set -e; sam build -t template.yaml --build-dir .aws-sam/build; "
            f'{venv}/bin/python -c "from samcli.lib.package.utils import make_zip; '
            "make_zip('sam', '.aws-sam/build/Fn')\""
        )
        env = {**env, "PATH": f"{venv}/bin:{env['PATH']}", "SAM_CLI_TELEMETRY": "0"}
        return _timed(["bash", "-c", script], env, work, work / "sam.zip")

    return build


_last_run: list[Run] = []


def _timed(cmd: list[str], env: dict[str, str], work: Path, out: Path) -> Path:
    _last_run.append(measure(cmd, env, work))
    return out


def check_import(zip_path: Path, py312: str, lib_on_path: bool, scratch: Path) -> str:
    """Unpack the zip and call the handler with python3.12."""
    task = Path(tempfile.mkdtemp(dir=scratch))
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(task)
    paths = [str(task), str(task / "lib")] if lib_on_path else [str(task)]
    code = (
        f"import sys; sys.path[:0] = {paths!r}; import handler; "
        "print(handler.handler({}, None))"
    )
    proc = subprocess.run([py312, "-I", "-c", code], capture_output=True, text=True)
    shutil.rmtree(task)
    return "yes" if proc.returncode == 0 else "no: " + proc.stderr.strip()[-80:]


def run_method(
    method: Method, runs: int, base_env: dict[str, str], py312: str, scratch: Path
) -> None:
    for i in range(runs):
        slug = "".join(c if c.isalnum() else "-" for c in method.name)
        work = scratch / f"{slug}-{i}"
        make_function(work)
        caches = work / "caches"
        env = {
            **base_env,
            "DEVKIT_CACHE_DIR": str(caches / "devkit"),
            "UV_CACHE_DIR": str(caches / "uv"),
            "PIP_CACHE_DIR": str(caches / "pip"),
            "HOME": str(work / "home"),
        }
        out = method.build(work, env)
        method.cold.append(_last_run.pop())
        method.hashes.append(hashlib.sha256(out.read_bytes()).hexdigest())
        out = method.build(work, env)
        method.warm.append(_last_run.pop())
        method.hashes.append(hashlib.sha256(out.read_bytes()).hexdigest())
        if i == 0:
            method.zip_size = out.stat().st_size
            with zipfile.ZipFile(out) as zf:
                method.unzipped = sum(info.file_size for info in zf.infolist())
            method.imports = check_import(out, py312, method.lib_on_path, scratch)
        print(
            f"{method.name}: run {i + 1}/{runs} cold {method.cold[-1].wall:.1f}s "
            f"rebuild {method.warm[-1].wall:.1f}s",
            file=sys.stderr,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="comma-separated method names to run")
    args = parser.parse_args()
    py312 = find_python312()
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))
    }
    base_env["PATH"] = f"{Path(py312).parent}:{base_env['PATH']}"
    with tempfile.TemporaryDirectory(prefix="bench-lambda-") as tmp:
        scratch = Path(tmp)
        startup = statistics.median(
            measure([*DEVKIT, "--version"], base_env, scratch).wall for _ in range(5)
        )
        methods = [
            Method("devkit (uv)", devkit_build("uv")),
            Method("devkit --installer pip", devkit_build("pip")),
            Method("pip -t lib + zip -r", recipe_build(py312)),
        ]
        if not args.only or "sam" in args.only:
            methods.append(
                Method(
                    "sam build + SAM zipper",
                    sam_build(sam_venv(py312, scratch)),
                    lib_on_path=False,
                )
            )
        if args.only:
            wanted = args.only.split(",")
            methods = [m for m in methods if any(w in m.name for w in wanted)]
        for method in methods:
            run_method(method, args.runs, base_env, py312, scratch)
        print_table(methods, startup, args.runs)
    return 0


def print_table(methods: list[Method], startup: float, runs: int) -> None:
    def med(values: list[float]) -> str:
        return f"{statistics.median(values):.2f}"

    print(
        f"\n{RUNTIME} x86_64; medians of {runs} runs; devkit start-up "
        f"(`devkit --version`) {startup:.2f} s\n"
    )
    print(
        "| method | cold s | cold CPU s | cold peak RSS MB | rebuild s | "
        "zip MB | unzipped MB | distinct zips / builds | imports on 3.12 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for m in methods:
        print(
            f"| {m.name} | {med([r.wall for r in m.cold])} | "
            f"{med([r.cpu for r in m.cold])} | {med([r.rss_mb for r in m.cold]):>5} | "
            f"{med([r.wall for r in m.warm])} | {m.zip_size / 1e6:.1f} | "
            f"{m.unzipped / 1e6:.1f} | {len(set(m.hashes))} / {len(m.hashes)} | "
            f"{m.imports} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
