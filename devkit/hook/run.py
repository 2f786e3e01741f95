"""`devkit hook run`: gather the files to check, run the checks, sort the findings."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from devkit.errors import ConfigError
from devkit.globs import matcher
from devkit.hook import git
from devkit.hook.analyse import FileResult, FileSettings, analyse_batch, suppressed
from devkit.hook.cache import ResultCache, blob_id
from devkit.hook.config import CHECKS, HookConfig, parse_pyproject
from devkit.hook.declared import DEFAULT_REQUIREMENT_FILES, Declared, read_declared
from devkit.hook.findings import Finding
from devkit.hook.sources import (
    DiskSource,
    IndexSource,
    Source,
    files_on_disk,
    is_python,
    may_be_python,
)

# Below this much source, starting workers (~30 ms) costs more than it saves
# (checking runs at roughly 2-3 MB of source per CPU second).
PARALLEL_MIN_BYTES = 256 * 1024


@dataclass
class CheckSummary:
    """One line per check for stderr."""

    check: str
    findings: int = 0
    skipped: str = ""  # why the check did not run


@dataclass
class RunResult:
    """Sorted findings plus what was checked."""

    root: Path
    findings: list[Finding]
    files: int
    summaries: list[CheckSummary] = field(default_factory=list)
    cached: int = 0  # files whose per-file results came from the cache
    strict: bool = False  # warnings fail the run too ([tool.devkit.hook] asl-strict)

    @property
    def ok(self) -> bool:
        """True when nothing was found but warnings (and those are allowed)."""
        return all(f.warning and not self.strict for f in self.findings)


def run_hook(
    paths: Iterable[str] = (),
    all_files: bool = False,
    cwd: str | Path | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    cache_root: Path | None = None,
) -> RunResult:
    """Check the staged Python files (or all tracked ones, or `paths` on disk).

    Per-file results are kept in the user cache folder (see devkit.hook.cache)
    unless `use_cache` is False; `cache_root` overrides where.
    """
    root = git.repo_root(cwd)
    explicit = list(paths)
    if explicit and all_files:
        raise ConfigError("pass either --all-files or paths, not both")
    source: Source
    index: IndexSource | None = None
    found: list[tuple[str, str | None, bytes | None]]  # path, blob id, content
    if explicit:
        source = DiskSource(root)
        on_disk = files_on_disk(root, explicit, Path(cwd or os.getcwd()))
        found = [(p, blob_id(data), data) for p, data in on_disk]
    else:
        source = index = IndexSource(root)
        found = [
            (e.path, None if e.conflicted else e.blob, None)
            for e in index.candidates(all_files)
        ]
    config = parse_pyproject(source.read("pyproject.toml"))
    wanted = _selector(config)
    items = [_Item(*f) for f in found if wanted(f[0])]
    settings = _settings(config, [i.path for i in items])
    cache = ResultCache(settings, cache_root) if use_cache else None
    results, todo = _from_cache(cache, items)
    if index is not None and todo:
        entries = [git.IndexEntry(i.path, i.blob or "", i.blob is None) for i in todo]
        for item, data in zip(todo, index.contents(entries), strict=True):
            item.data = data
    files = []
    is_asl = matcher(settings.asl)
    for item in todo:
        if item.data is not None and (
            is_asl(item.path) or is_python(item.path, item.data[:128])
        ):
            files.append((item.path, item.data))
        elif cache is not None and item.blob is not None:
            cache.put(item.blob, item.path, None)  # not checked: never read again
    fresh = _analyse_all(files, settings, jobs)
    if cache is not None:
        blobs = {i.path: i.blob for i in todo}
        for result in fresh:
            blob = blobs[result.path]
            if blob is not None:
                cache.put(blob, result.path, result)
        cache.save()
    run = _collect(root, results + fresh, config, source, cache)
    run.cached = len(results)
    return run


@dataclass
class _Item:
    """A file to check: its path, blob id (None: conflicted), content once read."""

    path: str
    blob: str | None
    data: bytes | None = None


def _from_cache(
    cache: ResultCache | None, items: list[_Item]
) -> tuple[list[FileResult], list[_Item]]:
    """Results the cache holds, and the items still to check."""
    if cache is None:
        return [], items
    results, todo = [], []
    for item in items:
        found, result = (
            (False, None) if item.blob is None else cache.get(item.blob, item.path)
        )
        if not found:
            todo.append(item)
        elif result is not None:
            results.append(result)
    return results, todo


def _selector(config: HookConfig) -> Callable[[str], bool]:
    """A test of a path: Python by its name or an ASL definition, not excluded."""
    excluded, asl = matcher(config.exclude), matcher(config.asl_globs())
    return lambda path: (may_be_python(path) or asl(path)) and not excluded(path)


def _settings(config: HookConfig, paths: list[str]) -> FileSettings:
    allowed = (
        {p: config.debugger_allowed(p) for p in paths} if config.allow_debugger else {}
    )
    return FileSettings(
        asl=config.asl_globs(),
        builtins=config.builtins,
        pyflakes=config.runs("pyflakes"),
        debugger=config.runs("debugger"),
        imports=config.runs("requirements"),
        allowed_debuggers={p: names for p, names in allowed.items() if names},
    )


def _analyse_all(
    files: list[tuple[str, bytes]], settings: FileSettings, jobs: int | None
) -> list[FileResult]:
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    total = sum(len(data) for _, data in files)
    if jobs <= 1 or len(files) < 2 or total < PARALLEL_MIN_BYTES:
        return analyse_batch(files, settings)
    # Imported here: a small commit never pays for the process pool.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Many small batches: bytes predict CPU poorly (one 4.6 MB data module in
    # moto checks in 0.04 s), so the pool balances the rest as it goes.
    batches = _balanced([len(data) for _, data in files], jobs * 16)
    fork = sys.platform == "linux"
    context = multiprocessing.get_context("fork") if fork else None
    global _FORKED_FILES
    _FORKED_FILES = files
    # Objects that exist before the fork are never garbage: freezing them keeps
    # the workers' collections short (pyflakes allocates heavily) and their
    # pages shared.
    gc.freeze()
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            if fork:  # the workers already hold `files`: send indices only
                chunks = pool.map(_analyse_forked, batches, [settings] * len(batches))
            else:
                chunks = pool.map(
                    analyse_batch,
                    [[files[i] for i in batch] for batch in batches],
                    [settings] * len(batches),
                )
            return [result for chunk in chunks for result in chunk]
    finally:
        gc.unfreeze()
        _FORKED_FILES = []


# The files of a parallel run, set before the workers fork so they inherit
# them instead of receiving megabytes of source through a pipe.
_FORKED_FILES: list[tuple[str, bytes]] = []


def _analyse_forked(batch: list[int], settings: FileSettings) -> list[FileResult]:
    return analyse_batch([_FORKED_FILES[i] for i in batch], settings)


def _balanced(sizes: list[int], count: int) -> list[list[int]]:
    """Indices in `count` batches of similar total size, largest files first."""
    # Largest first into the lightest batch, so no worker idles at the end.
    batches: list[list[int]] = [[] for _ in range(count)]
    totals = [0] * count
    for index in sorted(range(len(sizes)), key=sizes.__getitem__, reverse=True):
        lightest = totals.index(min(totals))
        batches[lightest].append(index)
        totals[lightest] += sizes[index]
    return [batch for batch in batches if batch]


def _collect(
    root: Path,
    results: list[FileResult],
    config: HookConfig,
    source: Source,
    cache: ResultCache | None,
) -> RunResult:
    findings = [f for r in results for f in r.findings]
    summaries = [CheckSummary(check) for check in CHECKS]
    if config.runs("requirements"):
        req_findings, skipped = _requirements(results, config, source, cache)
        findings += req_findings
        summaries[CHECKS.index("requirements")].skipped = skipped
    noqa = {r.path: r.noqa for r in results}
    findings = sorted(f for f in findings if not suppressed(f, noqa[f.path]))
    for summary in summaries:
        if not config.runs(summary.check):
            summary.skipped = "skipped by [tool.devkit.hook] skip"
        summary.findings = sum(1 for f in findings if f.check == summary.check)
    return RunResult(root, findings, len(results), summaries, strict=config.asl_strict)


def _requirements(
    results: list[FileResult],
    config: HookConfig,
    source: Source,
    cache: ResultCache | None,
) -> tuple[list[Finding], str]:
    if not any(r.imports for r in results):
        return [], ""
    # Imported here: only a run with imports to judge needs them.
    from devkit.hook.checks.requirements_check import RequirementsCheck
    from devkit.hook.firstparty import LocalModules

    declared: Declared = (
        cache.declared(source.read, config.requirement_files)
        if cache is not None
        else read_declared(source.read, config.requirement_files)
    )
    if not declared.sources:
        names = " or ".join((*DEFAULT_REQUIREMENT_FILES, "pyproject.toml", "setup.cfg"))
        return [], f"nothing declared: no {names} found"
    local = LocalModules(
        [*source.tracked_paths(), *(r.path for r in results)], source.submodules()
    )
    check = RequirementsCheck(
        declared=declared,
        local=local,
        module_map=config.module_map,
        ignore_modules=config.ignore_modules,
    )
    return [f for r in results for f in check.check(r.path, r.imports)], ""
