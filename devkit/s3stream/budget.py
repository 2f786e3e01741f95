"""The memory budget: part size and connections on each side, chosen to fit.

`--max-memory` bounds the whole process, not just the buffers: what Python,
botocore and requests already hold when the first byte is due (measured, not
guessed) is subtracted first, then a margin for what each connection costs
besides its buffer (thread stacks touched, TLS state, botocore's per-request
objects). What is left is divided into buffers: the upload's pool of parts
(S3 connections + 1, one filling) and, when the source serves ranges, one
range buffer per source connection (part-sized where the budget has room,
down to 1 MiB where it is tight).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from devkit.errors import ConfigError

MiB = 1 << 20
DEFAULT_BUDGET = 128 * MiB
# In Lambda the budget follows the function's memory and leaves this share
# for the handler's own data and the runtime (never less than 32 MiB).
LAMBDA_SHARE = 0.75
LAMBDA_ROOM = 32 * MiB
# Besides its buffer, each connection's thread, socket and botocore or
# requests objects, plus a fixed margin for what the first requests allocate
# (TLS context, endpoint resolution). Measured peak RSS less resident size
# less buffers: 1-4 MiB in all, at 3 to 26 connections; 1 MiB each (the
# earlier guess) left 15 MiB of the default budget unused.
PER_CONNECTION = 256 << 10
MARGIN = 4 * MiB
# S3 paces each request (40-100 MB/s, 10-40 ms before it answers), so where
# S3 is the limit throughput grows with every connection the budget buys
# (measured, fast source into a 60 MB/s, 20 ms S3: 6, 10 and 14 connections
# streamed 384 MiB in 1.8-1.9, 1.4-1.6 and 1.2-1.3 s); where the CPU is (loopback)
# idle connections cost nothing. The cap only bounds threads: the default
# budget buys about 14.
MAX_S3_CONNECTIONS = 16
MAX_SOURCE_CONNECTIONS = 8
# The smallest source range (ranged.DECIDE_AFTER): smaller ones cost more in
# requests than they win.
MIN_RANGE = MiB
RANGE_ALIGN = 64 << 10
# Without ranged reads a fast source is limited by one S3 connection's speed:
# the budget buys S3 connections. With them it is split between both sides.
_FALLBACK_RESIDENT = 64 * MiB
FALLBACK_S3_CONNECTIONS = 3  # where /proc is missing (not Linux)
# An S3 endpoint that answers CreateMultipartUpload within NEAR_S3 seconds on
# the wire is on this host or its LAN (AWS's S3 answers in 10-100 ms). Nothing
# near paces a request (a connection's rate is its window over its round
# trip), so connections beyond a few only add requests, and each request
# costs the CPU about 3 ms (botocore, HTTP, the server): there the budget buys
# NEAR_PART parts on fewer connections. Measured, 384 MiB from a loopback
# source into a loopback S3 at the default budget: 5 MiB x 14 connections
# streamed in 0.49-0.59 s, 8 MiB x 8 in 0.39-0.45, 16 MiB x 3 in 0.36-0.43.
# Far S3, and AWS's S3 at any distance, paces each request, so per byte of
# budget the smallest parts on the most connections carry the most: 5 MiB,
# as chosen above.
NEAR_S3 = 0.005
NEAR_PART = 16 * MiB
NEAR_CONNECTIONS = 3  # at least this many NEAR_PART parts in flight, or no change
NEAR_MIN_PARTS = 4  # smaller objects save too few requests to matter


@dataclass(frozen=True)
class Tuning:
    """What the budget bought."""

    budget: int
    part_size: int
    s3_connections: int
    source_connections: int  # 1: one sequential stream
    source_range: int  # bytes per range request (and buffer) on the source side

    @property
    def buffers(self) -> int:
        """The most bytes of part and range buffers this tuning can hold at once."""
        parts = self.part_size * (self.s3_connections + 1)
        return parts + self.source_range * self.extra_source

    @property
    def extra_source(self) -> int:
        return self.source_connections if self.source_connections > 1 else 0


def default_budget(env: Mapping[str, str] | None = None) -> int:
    """128 MiB, or in a Lambda function a share of the function's memory."""
    env = os.environ if env is None else env
    lambda_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if lambda_mb.isdigit() and int(lambda_mb) > 0:
        total = int(lambda_mb) * MiB
        return max(total - max(LAMBDA_ROOM, int(total * (1 - LAMBDA_SHARE))), 0)
    return DEFAULT_BUDGET


def resident_bytes() -> int:
    """This process's resident size now (what imports already cost).

    Freed heap goes back to the OS first: loading botocore's models leaves
    megabytes of parsed JSON freed but still mapped, which would otherwise
    be counted (and held) as if it were live.
    """
    release_free_heap()
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return _FALLBACK_RESIDENT


def release_free_heap() -> None:
    """glibc's malloc_trim(0): return free heap pages to the OS (elsewhere: nothing)."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def choose(
    budget: int,
    part_size: int,
    *,
    resident: int,
    ranged: bool,
    concurrency: int | None = None,
    explicit: bool = True,
) -> Tuning:
    """Split `budget` into part buffers for each side; fail if one part cannot fit.

    `part_size` is the plan's first part (already within S3's limits and the
    10,000-part budget); `concurrency` is the user's --concurrency, which wins
    over the budget; `explicit` is False for the default budget, which a
    process already larger than it cannot keep (then: 3 connections, as
    before budgets). The source side gets connections only when it can read
    ranges, and never more than the S3 side can drain plus two.
    """
    free = budget - resident - MARGIN
    per_buffer = part_size + PER_CONNECTION
    buffers = free // per_buffer
    if concurrency is not None:
        s3 = concurrency
        spare = max(0, free - (s3 + 1) * per_buffer)
        source, chunk = _source_side(spare, part_size, s3 + 2) if ranged else (1, 0)
        return Tuning(budget, part_size, s3, source, chunk or part_size)
    if buffers < 2 and not explicit:
        # A library call in a process already past the default budget (a
        # handler holding data, a test runner): the budget cannot be kept,
        # so do what devkit did before it had one, not fail.
        return Tuning(budget, part_size, FALLBACK_S3_CONNECTIONS, 1, part_size)
    if buffers < 2:
        need = resident + MARGIN + 2 * per_buffer
        raise ConfigError(
            f"--max-memory {_mib(budget)} leaves no room for two {_mib(part_size)} "
            f"parts beside the {_mib(resident)} this process already uses: "
            f"give at least {_mib(need)}"
        )
    sequential = Tuning(
        budget, part_size, min(buffers - 1, MAX_S3_CONNECTIONS), 1, part_size
    )
    if not ranged:
        return sequential
    # Both sides: the source gets about 60 % (a far server gives a connection
    # 10-50 MB/s, S3 a request 40-100 MB/s), the S3 side the rest, never
    # less than two part buffers (one on the wire while the next fills).
    source_memory = min(
        free * 3 // 5, MAX_SOURCE_CONNECTIONS * per_buffer, free - 2 * per_buffer
    )
    source, chunk = _source_side(source_memory, part_size, MAX_SOURCE_CONNECTIONS)
    if source < 2:
        return sequential
    s3_buffers = (free - source * (chunk + PER_CONNECTION)) // per_buffer
    s3 = min(MAX_S3_CONNECTIONS, s3_buffers - 1)
    return Tuning(budget, part_size, s3, source, chunk)


def near_s3(
    tuning: Tuning, resident: int, answered_in: float, endpoint: str
) -> Tuning | None:
    """Larger parts on fewer connections where S3 answered as a near server does.

    Never for AWS's own endpoints: AWS's guidance for S3 at any distance is
    many requests in parallel, and S3 Express One Zone answers in
    single-digit milliseconds (an EC2 instance may see standard S3 nearly
    as fast). Only for a sequential source (a slow one read in ranges has
    given most of the budget to its own side, and is the limit anyway), and
    where the budget buys NEAR_CONNECTIONS such parts besides the one
    filling. Asked before an object's first part (of NEAR_MIN_PARTS large
    parts or more), so every part of an upload has one size: R2 refuses
    parts of different sizes.
    """
    if (
        answered_in >= NEAR_S3
        or is_aws(endpoint)
        or tuning.source_connections > 1
        or tuning.part_size >= NEAR_PART  # a large object's parts already are
    ):
        return None
    buffers = (tuning.budget - resident - MARGIN) // (NEAR_PART + PER_CONNECTION)
    if buffers < NEAR_CONNECTIONS + 1:
        return None
    s3 = min(buffers - 1, MAX_S3_CONNECTIONS)
    return Tuning(tuning.budget, NEAR_PART, s3, 1, NEAR_PART)


def is_aws(endpoint: str) -> bool:
    """True for an AWS endpoint URL (any partition), not an S3-compatible server."""
    from urllib.parse import urlsplit

    host = (urlsplit(endpoint).hostname or "").rstrip(".").lower()
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


def _source_side(memory: int, part_size: int, most: int) -> tuple[int, int]:
    """Source connections and range size that fit `memory` (1: no ranges).

    Connections first, up to `most`, ranges shrinking down to MIN_RANGE
    before a connection is dropped: a range costs its first-byte wait once,
    so per byte of memory, several small ranges in flight carry more than
    a few large ones (the best range is about sqrt(rate x wait x
    PER_CONNECTION): 1-2 MiB for 10-50 MB/s and 10-80 ms). With room, ranges
    are part-sized, as before.
    """
    connections = min(
        most, MAX_SOURCE_CONNECTIONS, memory // (MIN_RANGE + PER_CONNECTION)
    )
    if connections < 2:
        return 1, 0
    chunk = min(part_size, memory // connections - PER_CONNECTION)
    return connections, chunk // RANGE_ALIGN * RANGE_ALIGN


def _mib(n: int) -> str:
    return f"{n / MiB:.0f}MiB"
