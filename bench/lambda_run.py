"""Benchmark: a cold `devkit lambda-run` of the requests+pydantic+numpy zip,
beside the floor, `python -c 'import handler'` in an unpacked copy.

    .venv/bin/python bench/lambda_run.py [--runs 5]

Builds the zip with `devkit lambda-package` for python3.11 x86_64 from the
real package index (skips, saying so, when the index cannot be reached).
Every invocation is a new process, so each is a cold start; the runtime
folder (awslambdaric) is installed once first, and that first install is
timed on its own row. Wall time, CPU seconds and peak RSS cover the whole
process tree (os.wait4); init is what lambda-run reports (process start to
the runtime's first /next) and, for the floor, the wall time of the import.
No peer runs here: `sam local invoke` needs docker.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import lambda_package as lambda_package_bench  # bench/lambda_package.py

ROOT = Path(__file__).resolve().parent.parent
DEVKIT = str(ROOT / ".venv" / "bin" / "devkit")
RUNTIME = "python3.11"

# The same requests + pydantic + numpy function bench/lambda_package.py builds.
HANDLER, REQUIREMENTS = lambda_package_bench.HANDLER, lambda_package_bench.REQUIREMENTS
# The floor: the handler's import in a bare interpreter, lib/ through the .pth.
FLOOR = "import site; site.addsitedir('.'); import handler"


@dataclass
class Row:
    name: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    init_ms: list[float] = field(default_factory=list)


def measure(
    cmd: list[str], env: dict[str, str], cwd: Path
) -> tuple[float, float, float, str]:
    """Wall s, CPU s, peak RSS MB of the process tree, and its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(
            f"failed ({proc.returncode}): {' '.join(cmd)}\n{out[-1000:]}{err[-2000:]}"
        )
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def build_zip(work: Path, env: dict[str, str]) -> Path:
    src = work / "fn"
    src.mkdir()
    (src / "handler.py").write_text(HANDLER)
    (src / "requirements.txt").write_text(REQUIREMENTS)
    out = work / "fn.zip"
    proc = subprocess.run(
        [
            DEVKIT,
            "lambda-package",
            str(src),
            "--runtime",
            RUNTIME,
            "-o",
            str(out),
            "-q",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        print(
            "skipped: could not build the sample zip (is the package index "
            f"reachable?): {proc.stderr.strip()[-300:]}"
        )
        raise SystemExit(0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = subprocess.run(
        [
            sys.executable,
            "-c",
            "from devkit.lambda_run.runtime import find_python; "
            "print(find_python('3.11').path)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="devkit-bench-lr-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "DEVKIT_CACHE_DIR": str(work / "cache")}
        zip_path = build_zip(work, env)
        unpacked = work / "unpacked"
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(unpacked)
        # The .pth finds lib/ through LAMBDA_TASK_ROOT, as on Lambda.
        floor_env = {**env, "LAMBDA_TASK_ROOT": str(unpacked)}
        run_cmd = [DEVKIT, "lambda-run", str(zip_path), "--json", "-q"]
        first = Row("devkit lambda-run, runtime not yet cached (once)")
        wall, cpu, rss, out = measure(run_cmd, env, work)
        first.wall.append(wall), first.cpu.append(cpu), first.rss.append(rss)
        first.init_ms.append(json.loads(out)["init_ms"])
        result = json.loads(out)["result"]
        devkit = Row("devkit lambda-run (cold invocation)")
        floor = Row("python -S -c 'import handler' (unpacked copy)")
        for _ in range(args.runs):  # interleaved, so load falls on both alike
            wall, cpu, rss, out = measure(run_cmd, env, work)
            doc = json.loads(out)
            assert doc["status"] == "response", doc
            devkit.wall.append(wall), devkit.cpu.append(cpu), devkit.rss.append(rss)
            devkit.init_ms.append(doc["init_ms"])
            wall, cpu, rss, _ = measure(
                [python, "-S", "-c", FLOOR], floor_env, unpacked
            )
            floor.wall.append(wall), floor.cpu.append(cpu), floor.rss.append(rss)
            floor.init_ms.append(wall * 1000)
    load = os.getloadavg()
    print(f"result: {result}")
    print(
        f"{RUNTIME} via {python}; medians of {args.runs} runs; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print()
    print("| method | wall s | CPU s | peak RSS MB | init ms |")
    print("|---|---|---|---|---|")
    for row in (devkit, floor, first):
        med = statistics.median
        print(
            f"| {row.name} | {med(row.wall):.2f} | {med(row.cpu):.2f} "
            f"| {med(row.rss):.1f} | {med(row.init_ms):.0f} |"
        )


if __name__ == "__main__":
    main()
