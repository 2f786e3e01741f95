"""Many URLs into S3: `devkit s3-stream --manifest` against the shell recipes.

    .venv/bin/python bench/s3_fanout.py [--files 40] [--max-mib 16] [--rate MiB/s]

Serves FILES bodies of 1..MAX_MIB MiB (each response paced to --rate per
connection, as a far server) from testing.http_source, into moto's S3 server
(both in this process, on 127.0.0.1), with:

- devkit s3-stream --manifest (its default --jobs 4, and --jobs 8),
- a shell loop of `curl | aws s3 cp -`, one file after another,
- `xargs -P 8` of the same.

For each: wall time, CPU seconds of the whole process tree, and the peak of
the tree's summed RSS (sampled every 20 ms from /proc), after checking that
every object arrived with its size. The AWS CLI is bench/s3_stream.py's
pinned one (installed into bench/.venvs/ once). Print the load average with
any figure you quote: the dev machine is shared.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from s3_stream import (  # noqa: E402
    PEERS,
    VENVS,
    client_env,
    ensure_venvs,
)

from testing.http_source import HttpSource  # noqa: E402
from testing.s3_server import S3Server  # noqa: E402

MIB = 1 << 20
BUCKET = "fanout"


def tree_rss(root: int) -> int:
    """Summed RSS in bytes of `root` and every descendant now."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run(cmd: str, env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Run a shell command: (wall s, CPU s of the tree, peak tree RSS bytes)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", cmd],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:80]}... failed ({proc.returncode}): {err[-400:]!r}")
    return wall, cpu, peak


def check_and_empty(s3: object, sizes: dict[str, int]) -> None:
    """Every key there with its size; then the bucket is emptied for the next."""
    listing = s3.list_objects_v2(Bucket=BUCKET)  # type: ignore[attr-defined]
    got = {o["Key"]: o["Size"] for o in listing.get("Contents", [])}
    if got != sizes:
        missing = sorted(set(sizes) - set(got))[:5]
        raise SystemExit(f"objects differ from the source (missing e.g. {missing})")
    for key in got:
        s3.delete_object(Bucket=BUCKET, Key=key)  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--max-mib", type=int, default=16)
    parser.add_argument("--rate", type=float, default=16.0, help="MiB/s per connection")
    args = parser.parse_args()
    ensure_venvs([p for p in PEERS if p.name == "awscli"])
    aws = VENVS / "awscli" / "bin" / "aws"
    rng = random.Random(14)
    sizes = {
        f"f{i:04d}": rng.randint(MIB, args.max_mib * MIB) for i in range(args.files)
    }
    with S3Server() as server, HttpSource() as web, tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ep = server.endpoint_url
        s3 = server.client()
        s3.create_bucket(Bucket=BUCKET)
        for key, size in sizes.items():
            web.add(f"/{key}", size, rate=args.rate * MIB)
        lines = [f'{{"url": "{web.url("/" + k)}", "key": "{k}"}}' for k in sizes]
        (tmp / "m.jsonl").write_text("\n".join(lines) + "\n")
        (tmp / "list").write_text("".join(f"{web.url('/' + k)} {k}\n" for k in sizes))
        env = client_env(tmp)
        devkit = shlex.quote(str(ROOT / ".venv" / "bin" / "devkit"))
        manifest = f"{devkit} s3-stream --manifest m.jsonl s3://{BUCKET}/ -q "
        manifest += f"--endpoint-url {ep} --results r.jsonl"
        cp = f"{shlex.quote(str(aws))} s3 cp - s3://{BUCKET}/$1 --endpoint-url {ep}"
        cp += " --no-progress --only-show-errors"
        one = f'curl -sSf -o - "$0" | {cp}'
        xargs = f"xargs -P 8 -n 2 sh -c {shlex.quote(one)} < list"
        loop = f'while read u k; do sh -c {shlex.quote(one)} "$u" "$k"; done < list'
        commands = [
            ("devkit --manifest (--jobs 4)", f"rm -f r.jsonl; {manifest}"),
            ("devkit --manifest --jobs 8", f"rm -f r.jsonl; {manifest} --jobs 8"),
            ("xargs -P 8 curl | aws s3 cp -", xargs),
            ("loop: curl | aws s3 cp -", loop),
        ]
        total = sum(sizes.values())
        print(f"{args.files} files, {total / MIB:.0f} MiB in all, source paced to "
              f"{args.rate:g} MiB/s per connection; load average "
              f"{os.getloadavg()[0]:.1f}", file=sys.stderr)  # fmt: skip
        rows = []
        for label, cmd in commands:
            wall, cpu, peak = run(cmd, env, tmp)
            check_and_empty(s3, sizes)
            rows.append((label, wall, cpu, peak))
            print(f"  {label}: {wall:.1f} s", file=sys.stderr)
    print("| client | wall s | MiB/s | CPU s | peak RSS MiB (whole tree) |")
    print("|---|--:|--:|--:|--:|")
    for label, wall, cpu, peak in rows:
        rate = total / MIB / wall
        print(f"| {label} | {wall:.1f} | {rate:.1f} | {cpu:.1f} | {peak / MIB:.0f} |")
    print(f"\nload average after the run: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
