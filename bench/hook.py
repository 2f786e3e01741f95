"""Benchmark `devkit hook` beside its peers on a large real project.

Copies an installed pure-Python package into a temporary git repository (by
default moto, 1,458 files and 492k lines, then pip, 441 files and 152k lines),
writes its declared requirements to requirements.txt, commits, and runs on the
same files, taking turns (one warm-up round, then --runs rounds; medians):

- `devkit hook run --all-files` (requirements, pyflakes and debugger checks)
- single-process `pyflakes` over the package
- `pre-commit run --all-files` with local hooks only (`repo: local`,
  `language: system`): pyflakes and pre-commit-hooks' debug-statement-hook
- `ruff check --select F --no-cache`, the speed ceiling

then times a commit of 10 changed files through the installed hook. Wall
time, CPU seconds (user + system of the whole process tree) and peak RSS (the
largest process of the tree) come from os.wait4 in a small launcher process
(so its own ~8 MiB is the floor of the RSS column). Not a test; not run by CI.

    .venv/bin/python bench/hook.py [--package NAME ...] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing.gitrepo import clean_env, commit_all, git, init_repo  # noqa: E402

BIN = Path(sys.executable).parent

PRE_COMMIT_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: pyflakes
        name: pyflakes
        entry: {bin}/pyflakes
        language: system
        types: [python]
      - id: debug-statements
        name: debug statements
        entry: {bin}/debug-statement-hook
        language: system
        types: [python]
"""


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mib: float
    returncode: int
    output_lines: int


# Linux counts a child's peak RSS from the memory of the process it was
# forked from, so the bench (tens of MB) would inflate every figure. This
# small launcher, started with `python -S`, spawns the tool itself and reports
# os.wait4's figures for it on stderr as "wall cpu maxrss_kib".
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
quiet = [(os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ, file_actions=quiet)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
cpu = usage.ru_utime + usage.ru_stime
sys.stderr.write(f"{wall} {cpu} {usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(cmd: list[str], cwd: Path, env: dict[str, str]) -> Sample:
    """Run `cmd` once; wall, CPU and peak RSS of its process tree."""
    proc = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *cmd],
        cwd=cwd, env=env, capture_output=True,
    )  # fmt: skip
    wall, cpu, rss_kib = proc.stderr.split()[-3:]
    return Sample(
        float(wall),
        float(cpu),
        int(rss_kib) / 1024,
        proc.returncode,
        proc.stdout.count(b"\n"),
    )


def interleaved(
    runs: int, tools: dict[str, list[str]], cwd: Path, env: dict[str, str]
) -> dict[str, Sample]:
    """One warm-up each, then `runs` rounds of every tool in turn; medians.

    Taking turns spreads the load of a shared machine evenly over the tools.
    """
    samples: dict[str, list[Sample]] = {name: [] for name in tools}
    for round_ in range(runs + 1):
        for name, cmd in tools.items():
            sample = measure(cmd, cwd, env)
            if round_:
                samples[name].append(sample)
    return {name: _median(found) for name, found in samples.items()}


def make_repo(workdir: Path, package: str) -> tuple[Path, int, int]:
    """A repository holding a copy of `package`, its requirements declared."""
    source = Path(__import__(package).__file__ or "").parent
    repo = init_repo(workdir / "project")
    shutil.copytree(
        source, repo / source.name, ignore=shutil.ignore_patterns("__pycache__")
    )
    requires = metadata.requires(package) or []
    (repo / "requirements.txt").write_text("".join(r + "\n" for r in requires))
    (repo / ".pre-commit-config.yaml").write_text(PRE_COMMIT_CONFIG.format(bin=BIN))
    commit_all(repo)
    files = list((repo / source.name).rglob("*.py"))
    lines = sum(f.read_bytes().count(b"\n") for f in files)
    return repo, len(files), lines


def ten_file_commit(
    repo: Path, package: str, runs: int, env: dict[str, str]
) -> list[Sample]:
    """Commit 10 changed files through the installed hook, `runs` times."""
    install = [str(BIN / "devkit"), "hook", "install"]
    subprocess.run(install, cwd=repo, env=env, check=True, capture_output=True)
    files = sorted((repo / package).rglob("*.py"), key=lambda p: p.stat().st_size)
    chosen = files[len(files) // 2 : len(files) // 2 + 10]  # typical sizes, not tiny
    commits, hook_only = [], []
    for run in range(runs + 1):
        for path in chosen:
            with path.open("a") as handle:
                handle.write(f"# bench edit {run}\n")
        git(repo, "add", *[str(p) for p in chosen])
        hook = measure(
            [sys.executable, "-m", "devkit.cli.hook", "run", "-q"], repo, env
        )
        commit = measure(["git", "commit", "-q", "-m", f"bench {run}"], repo, env)
        assert commit.returncode == 0, "the 10-file commit was refused"
        if run:  # the first is a warm-up
            hook_only.append(hook)
            commits.append(commit)
    lines = sum(p.read_bytes().count(b"\n") for p in chosen)
    print(f"10-file commit: {lines} lines in the changed files; ", end="")
    return [_median(hook_only), _median(commits)]


def _median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.wall for s in samples),
        statistics.median(s.cpu for s in samples),
        statistics.median(s.rss_mib for s in samples),
        samples[-1].returncode,
        samples[-1].output_lines,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--package",
        action="append",
        help="installed package to copy (repeatable; default: moto, then pip)",
    )
    parser.add_argument("--runs", type=int, default=5, help="measured runs per tool")
    args = parser.parse_args()
    for package in args.package or ["moto", "pip"]:
        bench_package(package, args.runs)
    return 0


def bench_package(package: str, runs: int) -> None:
    """Print one table for `package`: the four tools and the 10-file commit."""
    with tempfile.TemporaryDirectory(prefix="devkit-bench-hook-") as tmp:
        env = clean_env({"PRE_COMMIT_HOME": str(Path(tmp) / "pre-commit-cache")})
        repo, n_files, n_lines = make_repo(Path(tmp), package)
        version = metadata.version(package)
        load = os.getloadavg()[0]
        print(f"\n{package} {version}: {n_files} files, {n_lines} lines; "
              f"{os.cpu_count()} CPUs; load average {load:.1f} before")  # fmt: skip
        ruff = [str(BIN / "ruff"), "check", "--select", "F", "--no-cache"]
        tools = {
            "devkit hook run --all-files": [
                str(BIN / "devkit"), "hook", "run", "--all-files"],
            "pyflakes (one process)": [str(BIN / "pyflakes"), package],
            "pre-commit run --all-files (pyflakes + debug-statements)": [
                str(BIN / "pre-commit"), "run", "--all-files"],
            "ruff check --select F --no-cache": [
                *ruff, "--output-format", "concise", package],
        }  # fmt: skip
        results = interleaved(runs, tools, repo, env)
        hook, commit = ten_file_commit(repo, package, max(runs, 5), env)

    baseline = results["pyflakes (one process)"].wall
    load = os.getloadavg()[0]
    print(f"medians of {runs} runs after a warm-up; load {load:.1f} after\n")
    print("| tool | wall s | CPU s | peak RSS MiB | vs pyflakes | output lines |")
    print("|---|---|---|---|---|---|")
    for name, s in results.items():
        print(f"| {name} | {s.wall:.2f} | {s.cpu:.2f} | {s.rss_mib:.0f} "
              f"| {baseline / s.wall:.2f}x | {s.output_lines} |")  # fmt: skip
    ten = (("10 staged files: devkit hook run", hook),
           ("10 staged files: git commit through the hook", commit))  # fmt: skip
    for name, s in ten:
        print(f"| {name} | {s.wall:.3f} | {s.cpu:.3f} | {s.rss_mib:.0f} | | |")


if __name__ == "__main__":
    raise SystemExit(main())
