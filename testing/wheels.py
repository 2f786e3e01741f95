"""Build small wheels on disk for hermetic lambda-package tests.

The wheels are written as zip files directly (no build backend, no network):
pure-Python ones and platform-tagged ones with fake extension modules.
"""

from __future__ import annotations

import base64
import hashlib
import struct
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
    generator: str = "devkit-tests",
    compressed_tag_line: bool = False,
) -> Path:
    """Write `name-version-tag.whl` holding `files` (path -> content) into folder.

    `tag` may be a compressed set (`cp312-cp312-a.b`, `py2.py3-none-any`): the
    file name keeps it, and the WHEEL file lists one `Tag:` line per expanded
    tag, as setuptools and hatchling write, or the set on one line when
    `compressed_tag_line` is set, as maturin writes.
    """
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
        f"Generator: {generator}",
        f"Root-Is-Purelib: {'true' if tag.endswith('-any') else 'false'}",
        *(f"Tag: {t}" for t in ([tag] if compressed_tag_line else _expand_tags(tag))),
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


def fake_extension(arch: str, glibc: str | None = None) -> bytes:
    """A minimal ELF shared object for `arch`, needing GLIBC_<glibc> if given.

    Only the parts devkit reads are real: the ELF header, and a
    .gnu.version_r section (with its string table) naming the glibc version.
    """
    machine = {"x86_64": 62, "aarch64": 183}[arch]
    header = bytearray(64)
    header[0:4] = b"\x7fELF"
    header[4] = 2  # 64-bit
    header[5] = 1  # little-endian
    header[6] = 1  # ELF version
    header[16:18] = (3).to_bytes(2, "little")  # ET_DYN
    header[18:20] = machine.to_bytes(2, "little")
    if glibc is None:
        return bytes(header)
    strtab = b"\0libc.so.6\0GLIBC_" + glibc.encode() + b"\0"
    strtab += b"\0" * (-len(strtab) % 8)
    verneed_at = 64 + len(strtab)
    verneed = struct.pack("<HHIII", 1, 1, 1, 16, 0)
    verneed += struct.pack("<IHHII", 0, 0, 2, 11, 0)  # name: "GLIBC_..." at 11
    shoff = verneed_at + len(verneed)
    sections = struct.pack("<IIQQQQIIQQ", *([0] * 10))
    sections += struct.pack("<IIQQQQIIQQ", 0, 3, 0, 0, 64, len(strtab), 0, 0, 1, 0)
    sections += struct.pack(
        "<IIQQQQIIQQ", 0, 0x6FFFFFFE, 0, 0, verneed_at, len(verneed), 1, 1, 8, 0
    )
    struct.pack_into("<Q", header, 0x28, shoff)
    struct.pack_into("<HHH", header, 0x3A, 64, 3, 0)
    return bytes(header) + strtab + verneed + sections


def build_ext_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    py: str,
    arch: str,
    glibc: str = "2_17",
    elf_arch: str | None = None,
    needs_glibc: str | None = None,
) -> Path:
    """A platform wheel with a fake `_ext` module for CPython `py` (e.g. "312").

    `elf_arch` makes the module lie about its machine, `needs_glibc` makes it
    require a GLIBC_x.y symbol version, whatever the wheel's tag says.
    """
    pkg = name.replace("-", "_")
    so = f"{pkg}/_ext.cpython-{py}-{elf_arch or arch}-linux-gnu.so"
    return build_wheel(
        folder,
        name,
        version,
        {
            f"{pkg}/__init__.py": f"VERSION = {version!r}\n",
            so: fake_extension(elf_arch or arch, needs_glibc),
        },
        tag=f"cp{py}-cp{py}-manylinux_{glibc}_{arch}",
    )


# How each build backend lays out a wheel, as read from wheels on PyPI:
# (generator, tag set for CPython `{py}` on `{arch}`, one compressed Tag: line?,
# extension module path, extra files).
WHEEL_SHAPES: dict[str, tuple[str, str, bool, str, tuple[str, ...]]] = {
    # maturin (pydantic-core, orjson, jiter, rpds-py): the platform set on one line.
    "maturin": (
        "maturin (1.9.6)",
        "cp{py}-cp{py}-manylinux_2_17_{arch}.manylinux2014_{arch}",
        True,
        "{pkg}/_{pkg}.cpython-{py}-{arch}-linux-gnu.so",
        (),
    ),
    # setuptools + auditwheel repair (numpy, psycopg2-binary): one line per tag,
    # vendored libraries in <pkg>.libs/.
    "setuptools": (
        "setuptools (75.8.0)",
        "cp{py}-cp{py}-manylinux_2_17_{arch}.manylinux2014_{arch}",
        False,
        "{pkg}/_speedups.cpython-{py}-{arch}-linux-gnu.so",
        ("{pkg}.libs/libz-a1b2c3d4.so.1.3.1",),
    ),
    # hatchling universal wheel: py2.py3-none-any, pure Python.
    "hatchling": ("hatchling 1.27.0", "py2.py3-none-any", False, "", ()),
    # scikit-build-core with the stable ABI (abi3), one line per tag.
    "scikit-build": (
        "scikit-build-core 0.11.1",
        "cp39-abi3-manylinux_2_17_{arch}.manylinux2014_{arch}",
        False,
        "{pkg}/_core.abi3.so",
        (),
    ),
}


def build_shaped_wheel(
    folder: Path, shape: str, name: str, version: str, *, py: str, arch: str
) -> Path:
    """A wheel laid out as the build backend `shape` writes it (WHEEL_SHAPES)."""
    generator, tag, one_line, ext, extras = WHEEL_SHAPES[shape]
    pkg = name.replace("-", "_")
    files: dict[str, bytes | str] = {f"{pkg}/__init__.py": f"VERSION = {version!r}\n"}
    for path in [ext, *extras]:
        if path:
            files[path.format(pkg=pkg, py=py, arch=arch)] = fake_extension(arch, "2.17")
    return build_wheel(
        folder,
        name,
        version,
        files,
        tag=tag.format(py=py, arch=arch),
        generator=generator,
        compressed_tag_line=one_line,
    )


def build_sdist(folder: Path, name: str, version: str) -> Path:
    """`name-version.tar.gz`: a source distribution only, as some packages ship."""
    import io
    import tarfile

    base = f"{name.replace('-', '_')}-{version}"
    members = {
        f"{base}/PKG-INFO": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ),
        f"{base}/pyproject.toml": (
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
            '[build-system]\nrequires = ["hatchling"]\n'
            'build-backend = "hatchling.build"\n'
        ),
        f"{base}/{name.replace('-', '_')}/__init__.py": "",
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for arcname, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
