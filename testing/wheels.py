"""Build small wheels on disk for hermetic lambda-package tests.

The wheels are written as zip files directly (no build backend, no network):
pure-Python ones and platform-tagged ones with fake extension modules.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(
    folder: Path,
    name: str,
    version: str,
    files: Mapping[str, bytes | str],
    *,
    tag: str = "py3-none-any",
    requires: Sequence[str] = (),
) -> Path:
    """Write `name-version-tag.whl` holding `files` (path -> content) into folder."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {req}" for req in requires),
    ]
    wheel_meta = [
        "Wheel-Version: 1.0",
        "Generator: devkit-tests",
        f"Root-Is-Purelib: {'true' if tag.endswith('-any') else 'false'}",
        *(f"Tag: {t}" for t in _expand_tags(tag)),
    ]
    entries: dict[str, bytes] = {
        path: content.encode() if isinstance(content, str) else content
        for path, content in files.items()
    }
    entries[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    entries[f"{info}/WHEEL"] = ("\n".join(wheel_meta) + "\n").encode()
    record = [f"{p},{_record_hash(d)},{len(d)}" for p, d in entries.items()]
    record.append(f"{info}/RECORD,,")
    entries[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in entries.items():
            zf.writestr(arcname, data)
    return path


def _expand_tags(tag: str) -> list[str]:
    # A compressed tag set "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"
    # expands to one Tag line per platform, as real wheels list them.
    py, abi, plats = tag.split("-")
    return [
        f"{p}-{a}-{pl}"
        for p in py.split(".")
        for a in abi.split(".")
        for pl in plats.split(".")
    ]


def fake_extension(arch: str) -> bytes:
    """Bytes that start like an ELF shared object for `arch` (x86_64 or aarch64)."""
    machine = {"x86_64": 62, "aarch64": 183}[arch]
    header = bytearray(64)
    header[0:4] = b"\x7fELF"
    header[4] = 2  # 64-bit
    header[5] = 1  # little-endian
    header[6] = 1  # ELF version
    header[16:18] = (3).to_bytes(2, "little")  # ET_DYN
    header[18:20] = machine.to_bytes(2, "little")
    return bytes(header)


def build_ext_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    py: str,
    arch: str,
    glibc: str = "2_17",
    elf_arch: str | None = None,
) -> Path:
    """A platform wheel with a fake `_ext` module for CPython `py` (e.g. "312")."""
    pkg = name.replace("-", "_")
    so = f"{pkg}/_ext.cpython-{py}-{elf_arch or arch}-linux-gnu.so"
    return build_wheel(
        folder,
        name,
        version,
        {
            f"{pkg}/__init__.py": f"VERSION = {version!r}\n",
            so: fake_extension(elf_arch or arch),
        },
        tag=f"cp{py}-cp{py}-manylinux_{glibc}_{arch}",
    )
