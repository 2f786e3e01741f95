"""The memory budget: part size and connections on each side, chosen to fit.

`--max-memory` bounds the whole process, not just the buffers: what Python,
boto3 and requests already hold when the first byte is due (measured, not
guessed) is subtracted first, then a margin for what each connection costs
besides its buffer (thread stacks touched, TLS state, botocore's per-request
objects). What is left is divided into part-sized buffers: the upload's pool
(S3 connections + 1, one filling) and, when the source serves ranges, one per
source connection.
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
# requests objects (measured: under 1 MiB each), plus a fixed margin for
# what the first requests allocate (TLS context, endpoint resolution).
PER_CONNECTION = MiB
MARGIN = 4 * MiB
# Beyond these more connections stopped helping in the WAN benchmark (the
# CPU, not the network, was the limit) and only cost memory and threads.
MAX_S3_CONNECTIONS = 10
MAX_SOURCE_CONNECTIONS = 8
# Without ranged reads a fast source is limited by one S3 connection's speed:
# the budget buys S3 connections. With them it is split between both sides.
_FALLBACK_RESIDENT = 64 * MiB
FALLBACK_S3_CONNECTIONS = 3  # where /proc is missing (not Linux)


@dataclass(frozen=True)
class Tuning:
    """What the budget bought."""

    budget: int
    part_size: int
    s3_connections: int
    source_connections: int  # 1: one sequential stream

    @property
    def buffers(self) -> int:
        """The most bytes of part buffers this tuning can hold at once."""
        return self.part_size * (self.s3_connections + 1 + self.extra_source)

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
        spare = max(0, buffers - (s3 + 1))
        source = min(spare, MAX_SOURCE_CONNECTIONS, s3 + 2) if ranged else 1
        return Tuning(budget, part_size, s3, source if source >= 2 else 1)
    if buffers < 2 and not explicit:
        # A library call in a process already past the default budget (a
        # handler holding data, a test runner): the budget cannot be kept,
        # so do what devkit did before it had one, not fail.
        return Tuning(budget, part_size, FALLBACK_S3_CONNECTIONS, 1)
    if buffers < 2:
        need = resident + MARGIN + 2 * per_buffer
        raise ConfigError(
            f"--max-memory {_mib(budget)} leaves no room for two {_mib(part_size)} "
            f"parts beside the {_mib(resident)} this process already uses: "
            f"give at least {_mib(need)}"
        )
    if not ranged or buffers < 4:
        return Tuning(budget, part_size, min(buffers - 1, MAX_S3_CONNECTIONS), 1)
    # Both sides: the source gets about 60 % (a far server gives a connection
    # 10-50 MB/s, S3 a request 40-100 MB/s), the S3 side the rest, at least
    # two so one part's latency hides behind another's transfer.
    source = min(MAX_SOURCE_CONNECTIONS, max(2, buffers * 3 // 5))
    source = max(2, min(source, buffers - 3))  # S3 keeps two where it can
    s3 = min(MAX_S3_CONNECTIONS, buffers - source - 1)
    return Tuning(budget, part_size, max(1, s3), source)


def _mib(n: int) -> str:
    return f"{n / MiB:.0f}MiB"
