"""A reproducible zip writer: same entries in, same bytes out, on any machine.

Written by hand rather than with zipfile so that every header field is fixed:
sorted names, one timestamp, modes 0644/0755, no directory entries, no extra
fields, DEFLATE at a fixed level. Compressed entries can be reused as they
are, which lets an unchanged rebuild copy the cached dependencies' bytes.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from devkit.errors import BuildError

LEVEL = 6  # zlib's default: 19.2 MB for the sample in 6 s; 9 saves 1% at 2x time
DOS_EPOCH = (1980, 1, 1, 0, 0, 0)
DEFLATE = 8
VERSION = 20  # 2.0: DEFLATE
MADE_BY_UNIX = (3 << 8) | VERSION  # the high byte says external_attr holds a mode
UTF8_NAME = 0x800


class _LocalHeader(NamedTuple):
    # The fields of APPNOTE.TXT 4.3.7, in order; packed by _LOCAL.
    signature: int
    version_needed: int
    flags: int
    method: int
    mod_time: int
    mod_date: int
    crc32: int
    compressed_size: int
    size: int
    name_length: int
    extra_length: int


class _CentralHeader(NamedTuple):
    # APPNOTE.TXT 4.3.12; packed by _CENTRAL.
    signature: int
    version_made_by: int
    version_needed: int
    flags: int
    method: int
    mod_time: int
    mod_date: int
    crc32: int
    compressed_size: int
    size: int
    name_length: int
    extra_length: int
    comment_length: int
    disk_start: int
    internal_attr: int
    external_attr: int
    local_header_offset: int


class _End(NamedTuple):
    # APPNOTE.TXT 4.3.16; packed by _END.
    signature: int
    disk: int
    central_disk: int
    disk_entries: int
    total_entries: int
    central_size: int
    central_offset: int
    comment_length: int


_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")


@dataclass(frozen=True)
class ZipEntry:
    """One compressed member: everything the headers need, plus its bytes."""

    arcname: str
    mode: int
    crc: int
    size: int
    data: bytes  # raw DEFLATE stream


def compress(arcname: str, content: bytes, executable: bool) -> ZipEntry:
    """Deflate one file's content at the fixed level."""
    comp = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    data = comp.compress(content) + comp.flush()
    mode = 0o755 if executable else 0o644
    return ZipEntry(arcname, mode, zlib.crc32(content), len(content), data)


def dos_timestamp(environ: Mapping[str, str]) -> tuple[int, int]:
    """(time, date) in DOS format: SOURCE_DATE_EPOCH if set, else 1980-01-01."""
    fields: tuple[int, ...] = DOS_EPOCH
    raw = environ.get("SOURCE_DATE_EPOCH")
    if raw:
        try:
            parts = time.gmtime(int(raw))[:6]
        except (ValueError, OverflowError) as exc:
            raise BuildError(f"SOURCE_DATE_EPOCH={raw!r} is not a Unix time") from exc
        fields = max(DOS_EPOCH, min(tuple(parts), (2107, 12, 31, 23, 59, 58)))
    year, month, day, hour, minute, second = fields
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (
        month << 5
    ) | day


def write_zip(
    out: BinaryIO,
    entries: Iterable[ZipEntry],
    stamp: tuple[int, int],
    comment: bytes = b"",
) -> int:
    """Write entries (already sorted) as a zip to out; return the entry count."""
    central = bytearray()
    count = offset = 0
    dos_time, dos_date = stamp
    for entry in entries:
        name = entry.arcname.encode()
        flags = 0 if name.isascii() else UTF8_NAME
        local = _LocalHeader(
            signature=0x04034B50,
            version_needed=VERSION,
            flags=flags,
            method=DEFLATE,
            mod_time=dos_time,
            mod_date=dos_date,
            crc32=entry.crc,
            compressed_size=len(entry.data),
            size=entry.size,
            name_length=len(name),
            extra_length=0,
        )
        out.write(_LOCAL.pack(*local))
        out.write(name)
        out.write(entry.data)
        central += _CENTRAL.pack(
            *_CentralHeader(
                signature=0x02014B50,
                version_made_by=MADE_BY_UNIX,
                version_needed=VERSION,
                flags=flags,
                method=DEFLATE,
                mod_time=dos_time,
                mod_date=dos_date,
                crc32=entry.crc,
                compressed_size=len(entry.data),
                size=entry.size,
                name_length=len(name),
                extra_length=0,
                comment_length=0,
                disk_start=0,
                internal_attr=0,
                external_attr=(0o100000 | entry.mode) << 16,  # a regular file
                local_header_offset=offset,
            )
        )
        central += name
        offset += _LOCAL.size + len(name) + len(entry.data)
        count += 1
    if count > 0xFFFF or offset + len(central) > 0xFFFFFFFF:
        raise BuildError(
            "package too large for a plain zip (over 65535 files or 4 GiB)"
        )
    out.write(central)
    end = _End(0x06054B50, 0, 0, count, count, len(central), offset, len(comment))
    out.write(_END.pack(*end) + comment)
    return count


def read_entries(path: Path) -> list[ZipEntry]:
    """Load the members of a zip this module wrote, compressed bytes as they are."""
    entries = []
    blob = path.read_bytes()
    end = _End._make(_END.unpack_from(blob, blob.rfind(b"PK\x05\x06")))
    pos = end.central_offset
    for _ in range(end.total_entries):
        header = _CentralHeader._make(_CENTRAL.unpack_from(blob, pos))
        name_at = pos + _CENTRAL.size
        name = blob[name_at : name_at + header.name_length].decode()
        data_at = header.local_header_offset + _LOCAL.size + header.name_length
        data = blob[data_at : data_at + header.compressed_size]
        mode = (header.external_attr >> 16) & 0o777
        entries.append(ZipEntry(name, mode, header.crc32, header.size, data))
        pos = name_at + header.name_length
    return entries
