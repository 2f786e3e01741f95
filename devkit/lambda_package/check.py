"""Check installed wheels and extension modules against the Lambda target.

Two sources of truth, both read from the files themselves: the tags in each
`*.dist-info/WHEEL`, and each shared object's file name and ELF header
(machine, and the GLIBC_x.y symbol versions it needs).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from packaging import tags

from devkit.lambda_package.target import Target

ELF_MACHINES = {62: "x86_64", 183: "aarch64"}
SHT_GNU_VERNEED = 0x6FFFFFFE
_EXT_SUFFIX = re.compile(
    r"\.cpython-(\d+)(?:t)?-([A-Za-z0-9_]+)-([a-z]+)(?:-[a-z]+)?\.so$"
)
_GLIBC = re.compile(rb"^GLIBC_(\d+)\.(\d+)")


@dataclass(frozen=True)
class Problem:
    """One thing in lib/ that cannot run on the target."""

    package: str
    detail: str

    def __str__(self) -> str:
        return f"{self.package}: {self.detail}"


def check_installed(lib: Path, target: Target) -> list[Problem]:
    """Every wheel tag and shared object under lib/ checked against target."""
    owners = _file_owners(lib)
    problems = [
        p
        for info in sorted(lib.glob("*.dist-info"))
        for p in _check_wheel(info, target)
    ]
    for so in sorted(lib.rglob("*.so*")):
        if so.is_file() and re.search(r"\.so(\.\d+)*$", so.name):
            rel = so.relative_to(lib).as_posix()
            owner = owners.get(rel, rel.split("/")[0])
            problems += [
                Problem(owner, f"{rel}: {d}") for d in check_shared_object(so, target)
            ]
    return problems


def _file_owners(lib: Path) -> dict[str, str]:
    # RECORD maps each installed file to its distribution, for error messages.
    owners: dict[str, str] = {}
    for record in lib.glob("*.dist-info/RECORD"):
        name = record.parent.name.split("-")[0]
        for line in record.read_text(errors="replace").splitlines():
            owners[line.split(",")[0]] = name
    return owners


def _check_wheel(info: Path, target: Target) -> list[Problem]:
    wheel = info / "WHEEL"
    if not wheel.is_file():
        return []
    tags = [
        line.split(":", 1)[1].strip()
        for line in wheel.read_text(errors="replace").splitlines()
        if line.startswith("Tag:")
    ]
    if not tags or any(tag_supported(tag, target) for tag in tags):
        return []
    name = info.name.removesuffix(".dist-info")
    return [Problem(name, f"wheel tags {', '.join(tags)}")]


def tag_supported(tag: str, target: Target) -> bool:
    """Whether a `py-abi-platform` tag, compressed sets too, runs on the target.

    A compressed set (`cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64`,
    `py2.py3-none-any`) runs when any of the tags it stands for does.
    """
    try:
        expanded = tags.parse_tag(tag)
    except ValueError:
        return False
    return any(t in target.tag_rank for t in expanded)


def check_shared_object(path: Path, target: Target) -> list[str]:
    """What is wrong with one .so for the target; empty when it fits."""
    problems: list[str] = []
    match = _EXT_SUFFIX.search(path.name)
    if match:
        version, machine, system = match.groups()
        if version != f"{target.python[0]}{target.python[1]}":
            problems.append(
                f"built for CPython {version[0]}.{version[1:]}, "
                f"target is {target.python_version}"
            )
        if system != "linux" or machine != target.machine:
            problems.append(
                f"built for {machine}-{system}, target is {target.machine}-linux"
            )
    elif path.name.endswith((".darwin.so",)) or "-darwin" in path.name:
        problems.append("built for macOS")
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        return problems + ["not a Linux (ELF) shared object"]
    machine = _elf_machine(data)
    if machine != target.machine:
        problems.append(f"ELF machine is {machine}, target is {target.machine}")
        return problems
    needed = max(glibc_versions(data), default=None)
    if needed and needed > target.glibc:
        problems.append(
            f"needs GLIBC_{needed[0]}.{needed[1]}"  # the target names the ceiling
        )
    return problems


def _elf_machine(data: bytes) -> str:
    if len(data) < 20 or data[4] != 2 or data[5] != 1:
        return "not 64-bit little-endian"
    code = struct.unpack_from("<H", data, 18)[0]
    return ELF_MACHINES.get(code, f"e_machine {code}")


def glibc_versions(data: bytes) -> list[tuple[int, int]]:
    """The GLIBC_x.y versions a 64-bit little-endian ELF file requires."""
    if len(data) < 64:
        return []
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
        for i in range(shnum)
        if shoff + (i + 1) * shentsize <= len(data)
    ]
    found: list[tuple[int, int]] = []
    for sec in sections:
        if sec[1] != SHT_GNU_VERNEED or sec[6] >= len(sections):
            continue
        strtab = sections[sec[6]][4]
        found += _verneed_names(data, sec[4], sec[7], strtab)
    return found


def _verneed_names(
    data: bytes, offset: int, count: int, strtab: int
) -> list[tuple[int, int]]:
    found = []
    for _ in range(count):
        _, cnt, _, aux, nxt = struct.unpack_from("<HHIII", data, offset)
        aux_off = offset + aux
        for _ in range(cnt):
            _, _, _, name, aux_next = struct.unpack_from("<IHHII", data, aux_off)
            start = strtab + name
            text = data[start : data.index(b"\0", start)]
            match = _GLIBC.match(text)
            if match:
                found.append((int(match[1]), int(match[2])))
            if not aux_next:
                break
            aux_off += aux_next
        if not nxt:
            break
        offset += nxt
    return found
