"""Read a Lambda zip: which runtime it targets, and its files with their modes."""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from devkit.errors import ConfigError
from devkit.lambda_package.check import check_shared_object, glibc_versions
from devkit.lambda_package.marker import read_comment
from devkit.lambda_package.target import Target, resolve_target

_SO_TAG = re.compile(r"\.cpython-3(\d+)-(x86_64|aarch64)-linux")
_PYC_TAG = re.compile(r"__pycache__/[^/]+\.cpython-3(\d+)\.pyc$")
_ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}


def open_zip(path: Path, what: str = "zip") -> zipfile.ZipFile:
    """The zip, or a ConfigError naming what is wrong with it."""
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} {path} not found: pass a built .zip") from exc
    except IsADirectoryError as exc:
        raise ConfigError(
            f"{what} {path} is a folder: build it first with `devkit lambda-package`"
        ) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConfigError(f"{what} {path} is not a readable zip: {exc}") from exc


def zip_target(zf: zipfile.ZipFile, runtime: str | None) -> Target:
    """The runtime recorded by lambda-package, else read from compiled files.

    --runtime must agree with what the zip says: a zip built for 3.12 run
    on 3.13 is not what Lambda would run.
    """
    recorded = read_comment(zf.comment) or _inferred(zf.namelist())
    if runtime is None:
        if recorded is None:
            raise ConfigError(
                f"{zf.filename} does not say which Python it is for (no devkit "
                "marker, no compiled modules): pass --runtime python3.X"
            )
        return recorded
    given = resolve_target(runtime, recorded.arch if recorded else None)
    if recorded is not None and recorded.runtime != runtime:
        raise ConfigError(
            f"{zf.filename} was built for {recorded.runtime}, not {runtime}: "
            f"rebuild with --runtime {runtime} or drop --runtime"
        )
    return given


def _inferred(names: Iterable[str]) -> Target | None:
    versions: set[str] = set()
    arches: set[str] = set()
    for name in names:
        if m := _SO_TAG.search(name):
            versions.add(m[1])
            arches.add(_ARCH[m[2]])
        elif m := _PYC_TAG.search(name):
            versions.add(m[1])
    if len(versions) != 1 or len(arches) > 1:
        return None  # none, or mixed: the user must say
    return resolve_target(f"python3.{versions.pop()}", arches.pop() if arches else None)


def extract(zf: zipfile.ZipFile, dest: Path) -> int:
    """Unpack with the modes stored in the zip; return the unzipped size."""
    infos = zf.infolist()
    for info in infos:
        parts = PurePosixPath(info.filename).parts
        if info.filename.startswith("/") or ".." in parts or "\\" in info.filename:
            raise ConfigError(
                f"{zf.filename}: member {info.filename!r} would land outside "
                "the task folder: rebuild the zip"
            )
    files = [i for i in infos if not i.is_dir()]
    folders = {dest / i.filename for i in infos if i.is_dir()}
    folders |= {(dest / i.filename).parent for i in files}
    for folder in sorted(folders):
        folder.mkdir(parents=True, exist_ok=True)
    # zlib and file writes release the GIL: numpy's 1,300 files unpack in
    # about a third of the time on two cores.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        list(pool.map(lambda info: _write(zf, info, dest), files))
    return sum(i.file_size for i in files)


def _write(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> None:
    target = dest / info.filename
    with zf.open(info) as src, open(target, "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
    mode = (info.external_attr >> 16) & 0o777
    # Lambda runs what the zip says; a zip without Unix modes gets 0644.
    os.chmod(target, mode if info.create_system == 3 and mode else 0o644)


def host_glibc() -> tuple[int, int] | None:
    """The glibc this machine has, or None (musl, or not Linux)."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        return None
    m = re.match(r"glibc (\d+)\.(\d+)", text)
    return (int(m[1]), int(m[2])) if m else None


def shared_objects(folders: Iterable[Path]) -> list[Path]:
    """Every ELF shared object under the folders, sorted."""
    found = []
    for folder in folders:
        for path in folder.rglob("*.so*"):
            if path.is_file() and re.search(r"\.so(\.\d+)*$", path.name):
                mode = path.stat().st_mode
                if stat.S_ISREG(mode):
                    found.append(path)
    return sorted(found)


def check_host(folders: Iterable[Path], target: Target) -> list[str]:
    """Refuse modules this host cannot load; return warnings about Lambda."""
    folders = list(folders)
    glibc = host_glibc()
    warnings: list[str] = []
    for so in shared_objects(folders):
        rel = _relative(so, folders)
        data = so.read_bytes()
        needed = max(glibc_versions(data), default=None)
        if glibc and needed and needed > glibc:
            raise ConfigError(
                f"{rel} needs GLIBC_{needed[0]}.{needed[1]}, this machine has "
                f"{glibc[0]}.{glibc[1]}: it would fail here but maybe not on "
                "Lambda; run on a newer host"
            )
        warnings += [
            f"{rel}: {problem} (on Lambda: Runtime.ImportModuleError)"
            for problem in check_shared_object(so, target)
        ]
    return warnings


def _relative(path: Path, folders: list[Path]) -> str:
    for folder in folders:
        if folder in path.parents:
            return f"{folder.name}/{path.relative_to(folder).as_posix()}"
    return str(path)
