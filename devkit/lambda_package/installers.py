"""The uv and pip command lines that install wheels for a Lambda target.

Both resolve with uv: uv evaluates environment markers (`platform_machine`,
`python_version`, ...) for the target, pip for the machine it runs on
(pypa/pip#6117). With `--installer pip`, uv writes the resolution for the
target as exact pins and pip installs those without resolving again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from devkit.errors import BuildError, ConfigError
from devkit.lambda_package.cachekey import local_wheel_names
from devkit.lambda_package.target import Target

if TYPE_CHECKING:
    from devkit.lambda_package.install import InstallOptions

# uv is the default: in bench/lambda_package.py (requests+pydantic+numpy,
# python3.12) a cold build took 5.4 s with uv against 11.5 s with pip.
INSTALLERS = ("uv", "pip")
# glibc minors uv's --python-platform can name: 2_17, 2_28, 2_31..2_40 since
# astral-sh/uv#9234 (November 2024), so in every uv pyproject.toml allows.
UV_GLIBC_MINORS = (17, 28, *range(31, 41))


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


def uv_bin() -> str:
    """The uv binary the `uv` package (a devkit dependency) ships."""
    import uv

    return str(uv.find_uv_bin())


def uv_platform(target: Target) -> str:
    """uv's --python-platform: the newest manylinux it names within the ceiling."""
    major, ceiling = target.glibc
    minor = max(m for m in UV_GLIBC_MINORS if m <= ceiling)
    return f"{target.machine}-manylinux_{major}_{minor}"


def uv_command(
    subcommand: Sequence[str],
    target: Target,
    opts: InstallOptions,
    local: Sequence[Path] = (),
) -> list[str]:
    """`uv pip install|compile ...` for the target, binary wheels only."""
    cmd = [
        uv_bin(),
        *subcommand,
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
    ]
    if opts.refresh:
        cmd.append("--refresh")
    else:
        # uv keeps its own copy of every wheel it saw, local ones included, and
        # would serve a wheel rebuilt under the same name and version from it.
        cmd += [f"--refresh-package={name}" for name in local_wheel_names(local)]
    return cmd + _index_options(opts)


def pip_command(target: Target, opts: InstallOptions, dest: Path) -> list[str]:
    """`pip install --target` for the target's tags, without resolving."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--target",
        str(dest),
        "--no-deps",  # uv resolved for the target; pip would for this machine
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
        *_index_options(opts),
    ]


def _index_options(opts: InstallOptions) -> list[str]:
    cmd = [f"--find-links={link}" for link in opts.find_links]
    if opts.no_index:
        cmd.append("--no-index")
    if opts.index_url:
        cmd.append(f"--index-url={opts.index_url}")
    return cmd


def run_installer(
    requirements: Path,
    target: Target,
    opts: InstallOptions,
    dest: Path,
    local: Sequence[Path] = (),
    locked: bool = False,
) -> None:
    """Install the requirements into dest; a failure is a one-line BuildError.

    `locked`: exact wheels with hashes, markers already evaluated for the
    target (a lock file's); installed as they are, nothing resolved.
    """
    exact = ["--no-deps", "--require-hashes"] if locked else []
    if opts.installer == "uv":
        install = ["pip", "install", "--target", str(dest), *exact]
        cmd = uv_command([*install, "-r", str(requirements)], target, opts, local)
        _run(cmd, target, opts)
        return
    if locked:
        cmd = [*pip_command(target, opts, dest), *exact, "-r", str(requirements)]
        _run(cmd, target, opts)
        return
    with tempfile.TemporaryDirectory(prefix="devkit-resolve-") as tmp:
        pins = Path(tmp) / "requirements.txt"
        compile_ = ["pip", "compile", "--no-header", "--no-annotate", "-o", str(pins)]
        _run(
            uv_command([*compile_, str(requirements)], target, opts, local),
            target,
            opts,
        )
        _run([*pip_command(target, opts, dest), "-r", str(pins)], target, opts)


def _run(cmd: list[str], target: Target, opts: InstallOptions) -> None:
    env = {
        **os.environ,
        "PIP_NO_COLOR": "1",
        "NO_COLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise BuildError(explain_failure(proc.stderr + proc.stdout, target, opts))


_NO_WHEEL = re.compile(
    r"Because (?:only )?(?P<pkg>[A-Za-z0-9_.\-]+?(?:==[^\s,]+)?)(?:[<>!~]=?\S+)?"
    r"(?: is available and \S+)? has no (?:usable )?wheels"
)
_NOT_FOUND = re.compile(r"Because (?P<pkg>[A-Za-z0-9_.\-]+) was not found in the")
_PIP_NO_DIST = re.compile(r"No matching distribution found for (?P<pkg>\S+)")


def explain_failure(
    output: str, target: Target, opts: InstallOptions | None = None
) -> str:
    """One line naming the package and the cause, from uv's or pip's output."""
    text = " ".join(output.split())
    hint = re.search(r"hint: (Wheels are available for .*?)(?: hint:|$)", text)
    if m := _NO_VERSION.search(text):
        return _no_such_version(m["pkg"], m["version"], text, opts)
    if m := _NO_WHEEL.search(text):
        if hint:
            extra = f"; {hint[1].rstrip('.')}"
        elif "building from source is disabled" in text:
            extra = f": {SDIST_REMEDY.format(pkg=m['pkg'])}"
        else:
            extra = ""
        return f"no wheel of {m['pkg']} for {target.describe()}{extra}"
    if m := _HASH.search(text):
        return (
            f"{m['uv'] or m['pip']} does not match the hash in the lock or "
            "requirements file: the file changed since it was locked; lock "
            "again if you expected the change"
        )
    if (m := _NOT_FOUND.search(text)) or (m := _PIP_NO_DIST.search(text)):
        return (
            f"no usable version of {m['pkg']} for {target.describe()}: "
            "check the name and version, and that it publishes binary wheels"
        )
    if "conflicting dependencies" in text or "requirements are unsatisfiable" in text:
        # uv 0.13 says `cause: ...`; 0.12 drew it after `╰─▶`.
        cause = re.search(r"(?:cause:|╰─▶) (.*?)(?: hint:|$)", text)
        return (
            f"conflicting requirements: {cause[1] if cause else _first_error(output)}"
        )
    return f"installing dependencies failed: {_first_error(output)}"


SDIST_REMEDY = (
    "it publishes only a source distribution; build a wheel (`pip wheel {pkg} "
    "--no-deps -w wheels/`, on Amazon Linux for compiled code) and pass "
    "--find-links wheels"
)
_NO_VERSION = re.compile(
    r"there is no version of (?P<pkg>[A-Za-z0-9_.\-]+)==(?P<version>[^\s,]+)"
)
_HASH = re.compile(
    r"(?:Hash mismatch for `(?P<uv>[^`]+)`)"
    r"|(?:DO NOT MATCH THE HASHES.*? (?P<pip>\S+==\S+) from)"
)


def _no_such_version(
    name: str, version: str, text: str, opts: InstallOptions | None
) -> str:
    known = available_versions(name, opts) if opts else []
    near = _near(known, version)
    listed = f": versions near it are {', '.join(near)}" if near else ""
    return f"{name} has no version {version}{listed}"


def available_versions(name: str, opts: InstallOptions) -> list[str]:
    """Versions of `name` in the local --find-links folders and the index."""
    wanted = canonicalize_name(name)
    found: set[str] = set()
    for link in opts.find_links:
        folder = Path(link.removeprefix("file://"))
        if "://" in link and not link.startswith("file://") or not folder.is_dir():
            continue
        for file in folder.iterdir():
            found.update(_file_version(file.name, wanted))
    if not opts.no_index:
        found.update(_index_versions(wanted, opts.index_url))
    return sorted(found, key=_version_key)


def _file_version(filename: str, wanted: str) -> list[str]:
    try:
        if filename.endswith(".whl"):
            name, version, *_ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return []
    return [str(version)] if name == wanted else []


def _index_versions(name: str, index_url: str | None) -> list[str]:
    # The index's JSON simple API (PEP 691), only on this failure path.
    import requests

    url = f"{(index_url or 'https://pypi.org/simple').rstrip('/')}/{name}/"
    try:
        resp = requests.get(
            url,
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            timeout=10,
        )
        versions = resp.json().get("versions", []) if resp.ok else []
    except (requests.RequestException, ValueError):
        return []
    return [str(v) for v in versions]


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _near(versions: Sequence[str], wanted: str, each_side: int = 3) -> list[str]:
    below = [v for v in versions if _version_key(v) < _version_key(wanted)]
    above = [v for v in versions if _version_key(v) > _version_key(wanted)]
    return below[-each_side:] + above[:each_side]


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
