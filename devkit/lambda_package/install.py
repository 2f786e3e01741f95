"""Install the dependencies for the target into a content-keyed cache.

A cache entry is `<cache>/<key>/lib.zip` (the installed tree as compressed,
reproducible zip members) plus `meta.json`. It is built in a temporary folder
inside the cache and renamed into place, so a failed or interrupted build
never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from time import time as clock

from packaging.utils import canonicalize_name

from devkit.errors import BuildError, ConfigError
from devkit.lambda_package.cachekey import (
    RequirementsScan,
    local_digest,
    scan_requirements,
)
from devkit.lambda_package.check import check_installed
from devkit.lambda_package.files import collect_lib, lib_file_bytes
from devkit.lambda_package.installers import installer_version, run_installer
from devkit.lambda_package.pyc import compile_files
from devkit.lambda_package.target import Target
from devkit.lambda_package.zipwriter import ZipEntry, compress, read_entries, write_zip
from devkit.paths import cache_dir

# How long a cached resolution of unpinned requirements is reused.
RESOLUTION_TTL = 24 * 3600


@dataclass(frozen=True)
class InstallOptions:
    """How to install: which tool, from where, into which cache."""

    installer: str = "uv"
    find_links: Sequence[str] = ()
    no_index: bool = False
    index_url: str | None = None
    cache_dir: Path = field(default_factory=lambda: default_cache_dir())
    compile: bool = False
    refresh: bool = False


@dataclass(frozen=True)
class Dependencies:
    """A ready cache entry."""

    key: str
    path: Path
    cache_hit: bool
    installer: str

    @property
    def lib_zip(self) -> Path:
        """The compressed lib/ members."""
        return self.path / "lib.zip"


def default_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """lambda-package's folder under devkit's cache (devkit.paths.cache_dir)."""
    return cache_dir("lambda-package", environ)


def cache_key(scan: RequirementsScan, target: Target, opts: InstallOptions) -> str:
    """Hash of everything that decides what gets installed."""
    parts = {
        "requirements": hashlib.sha256(scan.content).hexdigest(),
        "local": local_digest([*scan.local, *_local_links(opts.find_links)]),
        "runtime": target.runtime,
        "arch": target.arch,
        "installer": opts.installer,
        "installer_version": installer_version(opts.installer),
        "find_links": list(opts.find_links),
        "no_index": opts.no_index,
        "index_url": opts.index_url,
        "compile": opts.compile,
        "layout": 3,  # bump when the entry format changes (3: RECORDs trimmed)
    }
    blob = json.dumps(parts, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def _local_links(links: Sequence[str]) -> list[Path]:
    paths = [
        Path(link.removeprefix("file://"))
        for link in links
        if "://" not in link or link.startswith("file://")
    ]
    return [p.resolve() for p in paths if p.exists()]


def ensure_dependencies(
    requirements: Path,
    target: Target,
    opts: InstallOptions,
    on_status: Callable[[str], None] = lambda _msg: None,
    locked: bool = False,
) -> Dependencies:
    """Return the cache entry for these requirements, installing on a miss."""
    scan = scan_requirements(requirements)
    key = cache_key(scan, target, opts)
    entry = opts.cache_dir / key
    reused = None if opts.refresh else _reusable(entry, clock())
    if reused is not None:
        if reused:
            on_status(reused)
        return Dependencies(key, entry, True, opts.installer)
    try:
        opts.cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create cache folder {opts.cache_dir}: {exc.strerror}"
        ) from exc
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=opts.cache_dir))
    try:
        on_status(
            f"installing dependencies for {target.describe()} with {opts.installer}"
        )
        _build_entry(requirements, scan, target, opts, work, locked)
        _replace_entry(work, entry)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Dependencies(key, entry, False, opts.installer)


def _reusable(entry: Path, now: float) -> str | None:
    """None to install again; else what to tell the user ("" for nothing).

    An entry whose resolution includes unpinned packages is reused for
    RESOLUTION_TTL, saying so, then resolved again: a newer release of an
    unpinned dependency must reach the zip some day without --refresh.
    """
    try:
        meta = json.loads((entry / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    unpinned = meta.get("unpinned", [])
    if not unpinned:
        return ""
    age = now - float(meta.get("resolved_at", 0))
    if not 0 <= age < RESOLUTION_TTL:
        return None
    names = ", ".join(unpinned[:3]) + (
        f" and {len(unpinned) - 3} more" if len(unpinned) > 3 else ""
    )
    return (
        f"dependencies cached: reused the resolution of {age / 3600:.0f} h ago "
        f"for unpinned {names}; pass --refresh to resolve again "
        f"(done automatically after {RESOLUTION_TTL // 3600} h)"
    )


def _replace_entry(work: Path, entry: Path) -> None:
    if entry.exists():  # --refresh or an expired resolution: swap it out
        old = Path(tempfile.mkdtemp(prefix=".old-", dir=entry.parent))
        try:
            os.rename(entry, old / "entry")
        except OSError:
            pass  # another build moved it first
        shutil.rmtree(old, ignore_errors=True)
    try:
        os.rename(work, entry)
    except OSError:
        if not (entry / "meta.json").is_file():
            raise
        # Another build filled the same entry first; both are identical.


def _build_entry(
    requirements: Path,
    scan: RequirementsScan,
    target: Target,
    opts: InstallOptions,
    work: Path,
    locked: bool,
) -> None:
    lib = work / "lib"
    local = [*scan.local, *_local_links(opts.find_links)]
    run_installer(requirements, target, opts, lib, local, locked)
    problems = check_installed(lib, target)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BuildError(f"{problems[0]}{more}: not usable on {target.describe()}")
    files = collect_lib(lib, ())
    if opts.compile:
        files += compile_files(files, target, work / "pyc")
        files.sort(key=lambda f: f.arcname.encode())
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        # zlib releases the GIL, so members compress in parallel.
        entries = list(
            pool.map(
                lambda f: compress(f.arcname, lib_file_bytes(f), f.executable), files
            )
        )
    with (work / "lib.zip").open("wb") as fh:
        write_zip(fh, entries, (0, 0x21))
    packages = sorted(p.name for p in lib.glob("*.dist-info"))
    meta = {
        "installer": opts.installer,
        "target": target.describe(),
        "packages": packages,
        "resolved_at": clock(),
        "unpinned": [
            name
            for name in (canonicalize_name(p.split("-")[0]) for p in packages)
            if name not in scan.pinned
        ],
    }
    (work / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(lib)


def load_entries(deps: Dependencies) -> list[ZipEntry]:
    """The cached lib/ members."""
    return read_entries(deps.lib_zip)
