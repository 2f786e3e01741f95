"""A wheel of the devkit that is running, for the zip of a fanout project's function.

The `devkit` on PyPI is another project, so a requirements file cannot name
this one. `devkit sfn deploy` packs the running devkit instead: the files of
the `devkit` package it imports (a source tree behind an editable install or
site-packages alike) and the metadata of its installed distribution (name,
version, Requires-Dist, entry points), written with lambda-package's zip
writer. Same devkit, same bytes: the zip built from it is reproducible, and
lambda-package's cache key (which hashes local wheels) changes when devkit's
code does.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

import devkit
from devkit.errors import BuildError, ConfigError, WriteError
from devkit.fileio import atomic_write
from devkit.lambda_package.zipwriter import ZipEntry, compress, dos_timestamp, write_zip

WHEEL = "Wheel-Version: 1.0\nGenerator: devkit sfn deploy\nRoot-Is-Purelib: true\n"
PINNED_MTIME = 315_532_800  # 1980-01-01T00:00:00Z, the zip epoch
_SKIP = ("__pycache__",)  # and dotfiles: caches, never the package's
_SKIP_SUFFIXES = (".pyc", ".pyo")


def package_folder() -> Path:
    """The folder of the `devkit` package this process imported."""
    return Path(devkit.__file__).resolve().parent


def running_distribution() -> metadata.Distribution:
    """The installed distribution whose `devkit` package is the running one."""
    try:
        dist = metadata.distribution("devkit")
    except metadata.PackageNotFoundError:
        raise ConfigError(
            f"devkit at {package_folder()} is not installed (no metadata): "
            "install it (`pip install .` in its source tree) and deploy again"
        ) from None
    if _package_of(dist) != package_folder():
        raise ConfigError(
            f"the installed devkit distribution is not the running devkit "
            f"({package_folder()}): reinstall devkit in this environment"
        )
    return dist


def _package_of(dist: metadata.Distribution) -> Path | None:
    # A regular install lists devkit/__init__.py; an editable one records its
    # source tree in direct_url.json (PEP 610).
    for file in dist.files or ():
        if file.as_posix() == "devkit/__init__.py":
            return Path(str(dist.locate_file(file))).resolve().parent
    try:
        url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    except ValueError:
        return None
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    return (Path(unquote(parsed.path)) / "devkit").resolve()


def wheel_entries() -> tuple[str, list[ZipEntry]]:
    """The wheel's file name and its members, sorted as the zip writer wants."""
    dist = running_distribution()
    version = dist.version
    info = f"devkit-{version}.dist-info"
    files: dict[str, bytes] = {}
    root = package_folder()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIP and not d.startswith(".")
        )
        for name in filenames:
            if name.startswith(".") or name.endswith(_SKIP_SUFFIXES):
                continue
            path = Path(dirpath, name)
            rel = path.relative_to(root.parent).as_posix()
            files[rel] = path.read_bytes()
    meta = dist.read_text("METADATA")
    if not meta:
        raise BuildError(f"devkit {version}'s METADATA is missing: reinstall devkit")
    files[f"{info}/METADATA"] = meta.encode()
    files[f"{info}/WHEEL"] = (WHEEL + "Tag: py3-none-any\n").encode()
    entry_points = dist.read_text("entry_points.txt")
    if entry_points:
        files[f"{info}/entry_points.txt"] = entry_points.encode()
    record = [f"{rel},{_hash(data)},{len(data)}" for rel, data in sorted(files.items())]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    entries = [compress(rel, data, False) for rel, data in files.items()]
    entries.sort(key=lambda e: e.arcname.encode())
    return f"devkit-{version}-py3-none-any.whl", entries


def _hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def write_devkit_wheel(cache: Path) -> Path:
    """The running devkit's wheel, at cache/<its sha256>/devkit-VERSION-....whl.

    Content-addressed, so the path (which the installer records in the
    installed dist-info) is the same for the same devkit, and its
    modification time is pinned to 1980 (uv's record of a local wheel notes
    it): two builds of the same devkit install byte-identical files.
    """
    name, entries = wheel_entries()
    buf = io.BytesIO()
    # The fixed 1980 stamp, whatever SOURCE_DATE_EPOCH says: same devkit, same wheel.
    write_zip(buf, entries, dos_timestamp({}))
    data = buf.getvalue()
    path = cache / hashlib.sha256(data).hexdigest()[:32] / name
    try:
        if not (path.is_file() and path.read_bytes() == data):
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data)
        os.utime(path, (PINNED_MTIME, PINNED_MTIME))
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
