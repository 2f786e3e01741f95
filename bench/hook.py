"""Benchmark `devkit hook` beside its peers on large real projects.

Copies a project into a temporary git repository and commits it: by default
Django's source distribution (`pip download django --no-binary :all:`, its
whole tree with tests/, about 2,800 files, declaring its own requirements in
pyproject.toml), then an installed moto (1,458 files and 492k lines, its
requirements written to requirements.txt). Then runs on the same files,
taking turns (one warm-up round, then --runs rounds; medians):

- `devkit hook run --all-files` cold: the result cache emptied before each run
- `devkit hook run --all-files` warm: the cache filled by the previous run
  (an unchanged tree, as in CI or after a `git pull` that touched little)
- single-process `pyflakes` over the tree
- `pre-commit run --all-files` with local hooks only (`repo: local`,
  `language: system`): pyflakes and pre-commit-hooks' debug-statement-hook
- `ruff check --select F,T100 --no-cache`, the speed ceiling (its cache off:
  ruff's own warm cache is a different measurement)

then times a commit of 10 changed files through the installed hook. Wall
time, CPU seconds (user + system of the whole process tree) and peak RSS (the
largest process of the tree) come from os.wait4 in a small launcher process
(so its own ~8 MiB is the floor of the RSS column). Not a test; not run by CI.

    .venv/bin/python bench/hook.py [--sdist NAME ...] [--package NAME ...] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
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
class Tool:
    """A command, extra environment, and what to do before each run of it."""

    cmd: list[str]
    env: dict[str, str] | None = None
    before: Callable[[], None] | None = None


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
    return measure_output(cmd, cwd, env)[0]


def interleaved(
    runs: int, tools: dict[str, Tool], cwd: Path, env: dict[str, str]
) -> dict[str, tuple[Sample, bytes]]:
    """One warm-up each, then `runs` rounds of every tool in turn; medians.

    Taking turns spreads the load of a shared machine evenly over the tools.
    Also returns each tool's last output, to compare findings.
    """
    samples: dict[str, list[Sample]] = {name: [] for name in tools}
    outputs: dict[str, bytes] = {}
    for round_ in range(runs + 1):
        for name, tool in tools.items():
            if tool.before:
                tool.before()
            tool_env = {**env, **(tool.env or {})}
            sample, outputs[name] = measure_output(tool.cmd, cwd, tool_env)
            if round_:
                samples[name].append(sample)
    return {name: (_median(found), outputs[name]) for name, found in samples.items()}


def measure_output(
    cmd: list[str], cwd: Path, env: dict[str, str]
) -> tuple[Sample, bytes]:
    """As `measure`, also returning the tool's stdout."""
    proc = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, *cmd],
        cwd=cwd, env=env, capture_output=True,
    )  # fmt: skip
    wall, cpu, rss_kib = proc.stderr.split()[-3:]
    sample = Sample(
        float(wall), float(cpu), int(rss_kib) / 1024, proc.returncode,
        proc.stdout.count(b"\n"),
    )  # fmt: skip
    return sample, proc.stdout


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


def make_repo_from_sdist(workdir: Path, name: str) -> tuple[Path, str, int, int]:
    """A repository holding a project's whole source distribution, as its git has it."""
    download = workdir / "download"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
         "--no-binary", ":all:", "-d", str(download), name],
        check=True,
    )  # fmt: skip
    [archive] = list(download.glob("*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(download, filter="data")
    [tree] = [p for p in download.iterdir() if p.is_dir()]
    repo = init_repo(workdir / "project")
    shutil.copytree(tree, repo, dirs_exist_ok=True)
    (repo / ".pre-commit-config.yaml").write_text(PRE_COMMIT_CONFIG.format(bin=BIN))
    commit_all(repo)
    files = [repo / p for p in git(repo, "ls-files", "*.py").stdout.splitlines()]
    lines = sum(f.read_bytes().count(b"\n") for f in files)
    return repo, tree.name, len(files), lines


def ten_file_commit(
    repo: Path, runs: int, env: dict[str, str], flagged: set[str]
) -> list[Sample]:
    """Commit 10 changed files through the installed hook, `runs` times."""
    install = [str(BIN / "devkit"), "hook", "install"]
    subprocess.run(install, cwd=repo, env=env, check=True, capture_output=True)
    # Files without findings, so the commit goes through the hook.
    tracked = git(repo, "ls-files", "*.py").stdout.splitlines()
    files = sorted(
        (repo / p for p in tracked if p not in flagged), key=lambda p: p.stat().st_size
    )
    chosen = files[len(files) // 2 : len(files) // 2 + 10]  # typical sizes, not tiny
    commits, hook_only = [], []
    for run in range(runs + 1):
        for path in chosen:
            with path.open("a") as handle:
                handle.write(f"# bench edit {run}\n")
        git(repo, "add", *[str(p) for p in chosen])
        # New content is not in the cache: each measurement starts without it.
        shutil.rmtree(env["DEVKIT_CACHE_DIR"], ignore_errors=True)
        hook = measure(
            [sys.executable, "-m", "devkit.cli.hook", "run", "-q"], repo, env
        )
        shutil.rmtree(env["DEVKIT_CACHE_DIR"], ignore_errors=True)
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
        "--sdist",
        action="append",
        help="project whose source distribution to download and copy (repeatable)",
    )
    parser.add_argument(
        "--package",
        action="append",
        help="installed package to copy (repeatable)",
    )
    parser.add_argument("--runs", type=int, default=5, help="measured runs per tool")
    args = parser.parse_args()
    if not args.sdist and not args.package:
        args.sdist, args.package = ["django"], ["moto"]
    for name in args.sdist or []:
        bench_project(name, args.runs, sdist=True)
    for name in args.package or []:
        bench_project(name, args.runs, sdist=False)
    return 0


def bench_project(name: str, runs: int, sdist: bool) -> None:
    """Print one table for a project: the tools, the cache and a 10-file commit."""
    with tempfile.TemporaryDirectory(prefix="devkit-bench-hook-") as tmp:
        work = Path(tmp)
        env = clean_env({"PRE_COMMIT_HOME": str(work / "pre-commit-cache")})
        # Every tool runs as installed, its bytecode compiled once (pip does at
        # install): without this a development shell's PYTHONDONTWRITEBYTECODE
        # would have an editable devkit compile its own source on every run.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if sdist:
            repo, label, n_files, n_lines = make_repo_from_sdist(work, name)
            target = "."
        else:
            repo, n_files, n_lines = make_repo(work, name)
            label, target = f"{name} {metadata.version(name)}", name
        load = os.getloadavg()[0]
        print(f"\n{label}: {n_files} files, {n_lines} lines; "
              f"{os.cpu_count()} CPUs; load average {load:.1f} before")  # fmt: skip
        cold_cache, warm_cache = work / "cache-cold", work / "cache-warm"
        devkit = [str(BIN / "devkit"), "hook", "run", "--all-files"]
        ruff = [str(BIN / "ruff"), "check", "--isolated", "--select", "F,T100",
                "--no-cache", "--output-format", "concise"]  # fmt: skip
        tools = {
            "devkit hook run --all-files, cold cache": Tool(
                devkit,
                {"DEVKIT_CACHE_DIR": str(cold_cache)},
                lambda: shutil.rmtree(cold_cache, ignore_errors=True),
            ),
            "devkit hook run --all-files, warm cache": Tool(
                devkit, {"DEVKIT_CACHE_DIR": str(warm_cache)}
            ),
            "pyflakes (one process)": Tool([str(BIN / "pyflakes"), target]),
            "pre-commit run --all-files (pyflakes + debug-statements)": Tool(
                [str(BIN / "pre-commit"), "run", "--all-files"]
            ),
            "ruff check --select F,T100 --no-cache": Tool([*ruff, target]),
        }  # fmt: skip
        results = interleaved(runs, tools, repo, env)
        cold_output = results["devkit hook run --all-files, cold cache"][1]
        flagged = {line.split(b":", 1)[0].decode() for line in cold_output.splitlines()}
        commit_env = {**env, "DEVKIT_CACHE_DIR": str(work / "cache-commit")}
        hook, commit = ten_file_commit(repo, runs, commit_env, flagged)

    cold = results["devkit hook run --all-files, cold cache"]
    warm = results["devkit hook run --all-files, warm cache"]
    same = "identical" if cold[1] == warm[1] else "DIFFERENT"
    baseline = results["pyflakes (one process)"][0].wall
    load = os.getloadavg()[0]
    print(f"medians of {runs} runs after a warm-up; load {load:.1f} after; "
          f"cold/warm findings {same}; warm is {cold[0].wall / warm[0].wall:.1f}x "
          "faster than cold\n")  # fmt: skip
    print("| tool | wall s | CPU s | peak RSS MiB | vs pyflakes | output lines |")
    print("|---|---|---|---|---|---|")
    for tool_name, (s, _) in results.items():
        print(f"| {tool_name} | {s.wall:.2f} | {s.cpu:.2f} | {s.rss_mib:.0f} "
              f"| {baseline / s.wall:.2f}x | {s.output_lines} |")  # fmt: skip
    ten = (("10 staged files: devkit hook run", hook),
           ("10 staged files: git commit through the hook", commit))  # fmt: skip
    for tool_name, s in ten:
        print(f"| {tool_name} | {s.wall:.3f} | {s.cpu:.3f} | {s.rss_mib:.0f} | | |")


if __name__ == "__main__":
    raise SystemExit(main())
