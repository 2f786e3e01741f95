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
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from time import time as clock

from packaging.utils import canonicalize_name

from devkit.errors import BuildError, ConfigError
from devkit.lambda_package.cachekey import (
    RequirementsScan,
    local_digest,
    local_wheel_names,
    scan_requirements,
)
from devkit.lambda_package.check import check_installed
from devkit.lambda_package.files import collect_lib
from devkit.lambda_package.pyc import compile_files
from devkit.lambda_package.target import Target
from devkit.lambda_package.zipwriter import ZipEntry, compress, read_entries, write_zip
from devkit.paths import cache_dir

# uv is the default: in bench/lambda_package.py (requests+pydantic+numpy,
# python3.12) a cold build took 5.4 s with uv against 11.5 s with pip, and uv
# evaluates environment markers for the target Python where pip uses the host's.
INSTALLERS = ("uv", "pip")
# glibc minors uv's --python-platform can name (uv 0.13: 2_17, 2_28, 2_31..2_40).
UV_GLIBC_MINORS = (17, 28, *range(31, 41))
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


def installer_version(installer: str) -> str:
    """The installer's version, read from package metadata (no subprocess)."""
    if installer not in INSTALLERS:
        raise ConfigError(f"unknown installer {installer!r}: use uv or pip")
    try:
        return metadata.version(installer)
    except metadata.PackageNotFoundError as exc:
        other = "pip" if installer == "uv" else "uv"
        raise BuildError(
            f"{installer} is not installed next to devkit: install it or pass "
            f"--installer {other}"
        ) from exc


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
        "layout": 2,  # bump when the entry format changes
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
        _build_entry(requirements, scan, target, opts, work)
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
) -> None:
    lib = work / "lib"
    local = [*scan.local, *_local_links(opts.find_links)]
    run_installer(requirements, target, opts, lib, local)
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
                lambda f: compress(f.arcname, f.path.read_bytes(), f.executable), files
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


def installer_command(
    requirements: Path,
    target: Target,
    opts: InstallOptions,
    dest: Path,
    local: Sequence[Path] = (),
) -> list[str]:
    """The uv or pip command line that installs binary wheels for target."""
    if opts.installer == "uv":
        import uv  # the PyPI package ships the binary

        cmd = [
            uv.find_uv_bin(),
            "pip",
            "install",
            "--target",
            str(dest),
            "--python-platform",
            uv_platform(target),
            "--python-version",
            target.python_version,
            "--python",
            sys.executable,
            "--only-binary",
            ":all:",
            "--no-progress",
            "--quiet",
            "-r",
            str(requirements),
        ]
    else:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--target",
            str(dest),
            "--python-version",
            target.python_version,
            "--implementation",
            "cp",
            *(f"--platform={tag}" for tag in target.platform_tags()),
            f"--abi={target.abi}",
            "--abi=abi3",
            "--abi=none",
            "--only-binary=:all:",
            "--no-compile",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "-r",
            str(requirements),
        ]
    if opts.installer == "uv":
        cmd += _uv_refresh(opts, local)
    cmd += [f"--find-links={link}" for link in opts.find_links]
    if opts.no_index:
        cmd.append("--no-index")
    if opts.index_url:
        cmd.append(f"--index-url={opts.index_url}")
    return cmd


def _uv_refresh(opts: InstallOptions, local: Sequence[Path]) -> list[str]:
    # uv keeps its own copy of every wheel it saw, local ones included, and
    # serves a wheel rebuilt under the same name and version from it.
    if opts.refresh:
        return ["--refresh"]
    return [f"--refresh-package={name}" for name in local_wheel_names(local)]


def uv_platform(target: Target) -> str:
    """uv's --python-platform: the newest manylinux it names within the ceiling."""
    major, ceiling = target.glibc
    minor = max(m for m in UV_GLIBC_MINORS if m <= ceiling)
    return f"{target.machine}-manylinux_{major}_{minor}"


def run_installer(
    requirements: Path,
    target: Target,
    opts: InstallOptions,
    dest: Path,
    local: Sequence[Path] = (),
) -> None:
    """Run the installer; turn its failure into a one-line BuildError."""
    cmd = installer_command(requirements, target, opts, dest, local)
    env = {
        **os.environ,
        "PIP_NO_COLOR": "1",
        "NO_COLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise BuildError(explain_failure(proc.stderr + proc.stdout, target))


_NO_WHEEL = re.compile(
    r"Because (?:only )?(?P<pkg>[A-Za-z0-9_.\-]+?(?:==[^\s,]+)?)(?:[<>!~]=?\S+)?"
    r"(?: is available and \S+)? has no (?:usable )?wheels"
)
_NOT_FOUND = re.compile(r"Because (?P<pkg>[A-Za-z0-9_.\-]+) was not found in the")
_PIP_NO_DIST = re.compile(r"No matching distribution found for (?P<pkg>\S+)")


def explain_failure(output: str, target: Target) -> str:
    """One line naming the package and the cause, from uv's or pip's output."""
    text = " ".join(output.split())
    hint = re.search(r"hint: (Wheels are available for .*?)(?: hint:|$)", text)
    if m := _NO_WHEEL.search(text):
        extra = f"; {hint[1].rstrip('.')}" if hint else ""
        return f"no wheel of {m['pkg']} for {target.describe()}{extra}"
    if (m := _NOT_FOUND.search(text)) or (m := _PIP_NO_DIST.search(text)):
        return (
            f"no usable version of {m['pkg']} for {target.describe()}: "
            "check the name and version, and that it publishes binary wheels"
        )
    if "conflicting dependencies" in text or "requirements are unsatisfiable" in text:
        cause = re.search(r"cause: (.*?)(?: hint:|$)", text)
        return (
            f"conflicting requirements: {cause[1] if cause else _first_error(output)}"
        )
    return f"installing dependencies failed: {_first_error(output)}"


def _first_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.lower().startswith("error:"):
            rest = line.split(":", 1)[1].strip()
            cause = next(
                (c for c in lines[i + 1 : i + 3] if c.startswith("cause:")), ""
            )
            return f"{rest} {cause}".strip()
    return lines[-1] if lines else "no output"


def load_entries(deps: Dependencies) -> list[ZipEntry]:
    """The cached lib/ members."""
    return read_entries(deps.lib_zip)
