"""Part sizing and checksum arithmetic for multipart uploads."""

from __future__ import annotations

import base64
import functools
import math
from dataclasses import dataclass

from devkit.errors import ConfigError

MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40


@dataclass(frozen=True)
class S3Limits:
    """S3's multipart limits; tests shrink them to exercise the edges cheaply."""

    min_part: int = 5 * MiB
    max_part: int = 5 * GiB
    max_parts: int = 10_000
    # 5 MiB x (3 in flight + 1 filling) = 20 MiB of buffers: with the ~64 MiB
    # that Python, boto3's S3 client and requests take, a stream of any size
    # peaks under 90 MB of RSS.
    default_part: int = 5 * MiB

    @property
    def max_object(self) -> int:
        return self.max_part * self.max_parts


# Growing parts double every eleventh of the part budget: 5 MiB parts reach
# 909 x 5 MiB x (2^11 - 1) = 8.9 TiB in 10,000 parts (the last tier is S3's
# 5 GiB maximum), so a stream of unknown size up to 5 TiB (S3's long-standing
# object limit) fits, and a 4.4 GiB stream never leaves 5 MiB parts. S3 now
# stores up to 10,000 x 5 GiB, but only a stream whose size is known up front
# (--expected-size) can use all of that.
GROWTH_TIERS = 11


@dataclass(frozen=True)
class PartPlan:
    """The size of every part: fixed when the total is known, growing when not."""

    first: int
    grows: bool
    limits: S3Limits
    steady: int = 0  # with a size hint: parts kept at `first` before growing

    def size(self, part_number: int) -> int:
        """The size of part `part_number` (1-based)."""
        if not self.grows:
            return self.first
        if part_number <= self.steady:
            return self.first
        budget = self.limits.max_parts - self.steady
        per_tier = max(1, budget // GROWTH_TIERS)
        tier = (part_number - self.steady - 1) // per_tier + (1 if self.steady else 0)
        return min(self.first << tier, self.limits.max_part)

    def capacity(self) -> int:
        """The largest stream this plan fits in the part budget."""
        return sum(self.size(n) for n in range(1, self.limits.max_parts + 1))


def plan_parts(
    size: int | None,
    part_size: int | None,
    limits: S3Limits = S3Limits(),
    hint: int | None = None,
) -> PartPlan:
    """Choose part sizes so the upload fits in the part budget; fail up front if not.

    `hint` (a stream's estimated size, never checked) sizes the parts so the
    estimate takes half the part budget; past it, parts grow as without one.
    """
    if part_size is not None and not limits.min_part <= part_size <= limits.max_part:
        raise ConfigError(
            f"part size {part_size} is outside S3's limits "
            f"({limits.min_part} to {limits.max_part} bytes)"
        )
    if size is not None:
        if size > limits.max_object:
            raise ConfigError(
                f"{size} bytes is larger than S3's largest object ({limits.max_object})"
            )
        unit = min(MiB, limits.min_part)
        needed = _round_up(math.ceil(size / limits.max_parts), unit)
        chosen = part_size or max(limits.default_part, needed)
        chosen = max(min(chosen, limits.max_part), limits.min_part)
        if math.ceil(size / chosen) > limits.max_parts:
            raise ConfigError(
                f"--part-size {chosen} needs more than {limits.max_parts} parts for "
                f"{size} bytes: use at least {needed} or leave it unset"
            )
        return PartPlan(first=chosen, grows=False, limits=limits)
    first = part_size or max(limits.default_part, limits.min_part)
    if hint is not None and part_size is None:
        half = max(1, limits.max_parts // 2)
        unit = min(MiB, limits.min_part)
        first = max(first, _round_up(math.ceil(hint / half), unit))
        first = min(first, limits.max_part)
        steady = min(half, max(1, math.ceil(hint / first)))
        return PartPlan(first=first, grows=True, limits=limits, steady=steady)
    return PartPlan(first=first, grows=part_size is None, limits=limits)


def _round_up(n: int, unit: int) -> int:
    return max(unit, -(-n // unit) * unit)


def b64_crc32(value: int) -> str:
    """CRC32 as S3 writes it: base64 of the big-endian 4 bytes."""
    return base64.b64encode(value.to_bytes(4, "big")).decode()


# CRC32 combination (zlib's crc32_combine, in GF(2)): the full-object CRC32
# is derived from the per-part CRCs the workers compute anyway, so the body
# is checksummed once, in parallel, and never re-read.
_CRC32_POLY = 0xEDB88320


def _gf2_times(matrix: tuple[int, ...], vector: int) -> int:
    total = 0
    i = 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(_gf2_times(matrix, matrix[n]) for n in range(32))


@functools.lru_cache(maxsize=64)
def _shift_operator(length: int) -> tuple[int, ...]:
    """The GF(2) matrix that advances a CRC32 over `length` zero bytes."""
    # Operator for one zero bit, then square up to one byte (8 bits).
    op: tuple[int, ...] = (_CRC32_POLY,) + tuple(1 << n for n in range(31))
    for _ in range(3):
        op = _gf2_square(op)
    result: tuple[int, ...] | None = None
    while length:
        if length & 1:
            result = op if result is None else tuple(_gf2_times(op, c) for c in result)
        length >>= 1
        if length:
            op = _gf2_square(op)
    assert result is not None
    return result


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """CRC32 of A+B from crc32(A), crc32(B) and len(B)."""
    if length2 == 0:
        return crc1
    return _gf2_times(_shift_operator(length2), crc1) ^ crc2
