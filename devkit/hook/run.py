"""`devkit hook run`: gather the files to check, run the checks, sort the findings."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from devkit.errors import ConfigError
from devkit.globs import matcher
from devkit.hook import git
from devkit.hook.analyse import FileResult, FileSettings, analyse_batch, suppressed
from devkit.hook.cache import ResultCache, blob_id
from devkit.hook.config import CHECKS, HookConfig, parse_pyproject
from devkit.hook.declared import DEFAULT_REQUIREMENT_FILES, read_declared
from devkit.hook.findings import Finding
from devkit.hook.sources import (
    DiskSource,
    IndexSource,
    Source,
    files_on_disk,
    is_python,
    may_be_python,
)

if TYPE_CHECKING:
    from devkit.hook.checks.requirements_check import RequirementsCheck

# Below this much source, starting workers (~30 ms) costs more than it saves
# (checking runs at roughly 2-3 MB of source per CPU second).
PARALLEL_MIN_BYTES = 256 * 1024
# Fewer files than this (a usual commit) are read here before deciding whether
# to start workers; more are read by the workers, as they check them.
READ_AHEAD_FILES = 128


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
    # Files on disk may not be tracked: they count as the project's modules too.
    untracked = [i.path for i in items] if explicit else []
    judge = _Requirements(config, source, untracked, cache)
    # While worker processes check the files, this one gets the requirements
    # check ready (it would otherwise wait for them, then work alone).
    fresh, unchecked = _analyse_all(
        root, todo, settings, jobs, meanwhile=judge.prepare_all
    )
    if cache is not None:
        blobs = {i.path: i.blob for i in todo}
        for path in unchecked:
            blob = blobs[path]
            if blob is not None:
                cache.put(blob, path, None)  # not checked: never read again
        for result in fresh:
            blob = blobs[result.path]
            if blob is not None:
                cache.put(blob, result.path, result)
        cache.save()
    run = _collect(root, results + fresh, config, judge)
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
    root: Path,
    items: list[_Item],
    settings: FileSettings,
    jobs: int | None,
    meanwhile: Callable[[], None] = lambda: None,
) -> tuple[list[FileResult], list[str]]:
    """Every file's results, by worker processes for large runs, and the paths
    left unchecked (not Python after all, or a conflicted file now gone).

    Staged content is read where it is checked: each worker reads its own
    batches' blobs, so the workers start as soon as the blobs' sizes are
    known instead of after this process has read every file. `meanwhile`
    runs here while the workers work (not at all in a serial run).
    """
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if jobs <= 1 or len(items) < 2:
        return _check_items(root, items, settings)
    if len(items) < READ_AHEAD_FILES:
        _read(root, items)  # the sizes from the content: one git process, not two
    sizes = _sizes(root, items)
    if sum(sizes) < PARALLEL_MIN_BYTES:
        return _check_items(root, items, settings)
    # Imported here: a small commit never pays for the process pool.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    batches = _guided(sizes, jobs)
    fork = sys.platform == "linux"
    context = multiprocessing.get_context("fork") if fork else None
    global _FORKED_ITEMS
    _FORKED_ITEMS = items
    # Objects that exist before the fork are never garbage: freezing them keeps
    # the workers' collections short (pyflakes allocates heavily) and their
    # pages shared.
    gc.freeze()
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            n = len(batches)
            if fork:  # the workers already hold `items`: send indices only
                chunks = pool.map(_check_forked, [root] * n, batches, [settings] * n)
            else:
                chunks = pool.map(
                    _check_items,
                    [root] * n,
                    [[items[i] for i in batch] for batch in batches],
                    [settings] * n,
                    [False] * n,
                )
            meanwhile()  # every batch is submitted: the workers are busy
            results: list[FileResult] = []
            unchecked: list[str] = []
            for found, skipped in chunks:
                results += found
                unchecked += skipped
            return results, unchecked
    finally:
        gc.unfreeze()
        _FORKED_ITEMS = []


# The items of a parallel run, set before the workers fork so they inherit
# them instead of receiving them through a pipe.
_FORKED_ITEMS: list[_Item] = []


def _check_forked(
    root: Path, batch: list[int], settings: FileSettings
) -> tuple[list[FileResult], list[str]]:
    return _check_items(root, [_FORKED_ITEMS[i] for i in batch], settings, False)


def _check_items(
    root: Path, items: list[_Item], settings: FileSettings, split: bool = True
) -> tuple[list[FileResult], list[str]]:
    """Read the items not yet read (as staged), then check the Python files
    and ASL definitions among them; also the paths of the others.

    `split` as for `git.read_blobs`: False in a worker, whose peers keep the
    other cores busy.
    """
    _read(root, items, split)
    is_asl = matcher(settings.asl)
    files, unchecked = [], []
    for item in items:
        if item.data is not None and (
            is_asl(item.path) or is_python(item.path, item.data[:128])
        ):
            files.append((item.path, item.data))
        else:
            unchecked.append(item.path)
    return analyse_batch(files, settings), unchecked


def _read(root: Path, items: list[_Item], split: bool = True) -> None:
    """Fill in the staged content of the items not yet read."""
    unread = [i for i in items if i.data is None]
    if unread:
        entries = [git.IndexEntry(i.path, i.blob or "", i.blob is None) for i in unread]
        contents = IndexSource(root).contents(entries, split)
        for item, data in zip(unread, contents, strict=True):
            item.data = data


def _sizes(root: Path, items: list[_Item]) -> list[int]:
    """Each item's size in bytes, known without reading its content."""
    blobs = [i.blob for i in items if i.data is None and i.blob is not None]
    staged = iter(git.blob_sizes(root, blobs))
    sizes = []
    for item in items:
        if item.data is not None:
            sizes.append(len(item.data))
        elif item.blob is not None:
            sizes.append(next(staged))
        else:  # conflicted: checked as in the working tree
            try:
                sizes.append((root / item.path).stat().st_size)
            except OSError:
                sizes.append(0)
    return sizes


def _guided(sizes: list[int], jobs: int) -> list[list[int]]:
    """Indices in batches that shrink as the work left does, largest files first.

    Each batch holds about 1/(2 x jobs) of the bytes still unassigned, down to
    a floor: few round trips early, and small batches at the end so no worker
    idles long while another finishes ("guided" scheduling). Bytes predict CPU
    poorly (one 4.6 MB data module in moto checks in 0.04 s); the pool hands
    out the next batch to whichever worker is free, which evens that out.
    """
    order = sorted(range(len(sizes)), key=sizes.__getitem__, reverse=True)
    left = sum(sizes)
    batches: list[list[int]] = []
    batch: list[int] = []
    filled = 0
    for index in order:
        batch.append(index)
        filled += sizes[index]
        if filled >= max(left / (2 * jobs), _MIN_BATCH_BYTES):
            batches.append(batch)
            left -= filled
            batch, filled = [], 0
    if batch:
        batches.append(batch)
    return batches


# The smallest batch (but for the last): about 10 ms of checking.
_MIN_BATCH_BYTES = 24 * 1024


def _collect(
    root: Path, results: list[FileResult], config: HookConfig, judge: _Requirements
) -> RunResult:
    findings = [f for r in results for f in r.findings]
    summaries = [CheckSummary(check) for check in CHECKS]
    if config.runs("requirements"):
        req_findings, skipped = judge.judge(results)
        findings += req_findings
        summaries[CHECKS.index("requirements")].skipped = skipped
    noqa = {r.path: r.noqa for r in results}
    findings = sorted(f for f in findings if not suppressed(f, noqa[f.path]))
    for summary in summaries:
        if not config.runs(summary.check):
            summary.skipped = "skipped by [tool.devkit.hook] skip"
        summary.findings = sum(1 for f in findings if f.check == summary.check)
    return RunResult(root, findings, len(results), summaries, strict=config.asl_strict)


class _Requirements:
    """The requirements check: what the project declares, its own modules, a verdict.

    Made ready on demand, or early (`prepare_all`) while workers check files.
    """

    def __init__(
        self,
        config: HookConfig,
        source: Source,
        paths: list[str],
        cache: ResultCache | None,
    ) -> None:
        self._config, self._source, self._paths, self._cache = (
            config, source, paths, cache,
        )  # fmt: skip
        self._check: RequirementsCheck | None = None
        self._error: ConfigError | None = None
        self._ready = False

    def prepare_all(self) -> None:
        """Everything a verdict needs, the installed-distribution map included."""
        if not self._config.runs("requirements"):
            return
        self._prepare()
        if self._check is not None:
            from devkit.hook import distributions

            distributions.installed_map()

    def judge(self, results: list[FileResult]) -> tuple[list[Finding], str]:
        """The findings for the results' imports, and why the check was skipped."""
        if not any(r.imports for r in results):
            return [], ""
        self._prepare()
        if self._error is not None:
            raise self._error
        if self._check is None:
            names = " or ".join(
                (*DEFAULT_REQUIREMENT_FILES, "pyproject.toml", "setup.cfg")
            )
            return [], f"nothing declared: no {names} found"
        check = self._check
        return [f for r in results for f in check.check(r.path, r.imports)], ""

    def _prepare(self) -> None:
        if self._ready:
            return
        self._ready = True
        # Imported here: only a run with imports to judge needs them.
        from devkit.hook.checks.requirements_check import RequirementsCheck
        from devkit.hook.firstparty import LocalModules

        files = self._config.requirement_files
        try:
            declared = (
                self._cache.declared(self._source.read, files)
                if self._cache is not None
                else read_declared(self._source.read, files)
            )
        except ConfigError as exc:
            # Raised only if some import needs judging, as before workers.
            self._error = exc
            return
        if not declared.sources:
            return
        local = LocalModules(
            [*self._source.tracked_paths(), *self._paths], self._source.submodules()
        )
        self._check = RequirementsCheck(
            declared=declared,
            local=local,
            module_map=self._config.module_map,
            ignore_modules=self._config.ignore_modules,
        )
