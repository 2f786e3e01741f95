"""Many URLs into S3: `devkit s3-stream --manifest` against the shell recipes.

    .venv/bin/python bench/s3_fanout.py              # 200 files of 1-64 MiB
    .venv/bin/python bench/s3_fanout.py --quick      # 40 files of 1-16 MiB
    .venv/bin/python bench/s3_fanout.py --files 100 --only devkit,s5cmd

Serves FILES bodies of --min-mib..--max-mib MiB from testing.http_source (in
its own process), each response paced to --rate per connection with a delay to
its first byte (a far server; it serves ranges), into testing.s3_discard in
its own process, shaped as a far S3 (--s3-rate per request, --s3-latency per
answer), one bucket per client. The clients:

- devkit s3-stream --manifest: its defaults (--jobs 4 within 128 MiB for
  the process), and --jobs 16 --max-memory 256MiB (the issue's bound),
- `xargs -P 8` of `curl | aws s3 cp -`,
- `s5cmd run` of a command file (s5cmd's batch mode; s5cmd cannot read a URL,
  so the recipe is `xargs -P 8 curl` to a folder, then `s5cmd run`),
- a shell loop of `curl | aws s3 cp -`, one file after another.

For each: wall time, CPU seconds of the whole process tree, and the peak of
the tree's summed RSS (sampled every 20 ms from /proc), after checking that
every object arrived with its size. The AWS CLI and s5cmd are
bench/s3_stream.py's pinned ones (installed into bench/.venvs/ once). Print
the load average with any figure you quote: the dev machine is shared.
"""

from __future__ import annotations

import argparse
import json
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
    PY,
    VENVS,
    _s5cmd_binary,
    client_env,
    ensure_venvs,
    s3_client,
    start_server,
)

MIB = 1 << 20
BUDGET = 256 * MIB  # the bound for the whole run
# The source in its own process (its threads would share the bench's GIL with
# the RSS sampler): one paced, ranged body per key.
SOURCE = """
import json, sys, threading
from testing.http_source import HttpSource
sizes, rate, delay = json.loads(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
with HttpSource() as web:
    for key, size in sizes.items():
        web.add("/" + key, size, rate=rate, first_byte_delay=delay)
    print(web.url(""), flush=True)
    threading.Event().wait()
"""
CLIENTS = ("devkit", "devkit256", "xargs", "s5cmd", "loop")


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


def check(s3: object, bucket: str, sizes: dict[str, int]) -> None:
    """Every key in the client's bucket, with its size."""
    listing = s3.list_objects_v2(Bucket=bucket)  # type: ignore[attr-defined]
    got = {o["Key"]: o["Size"] for o in listing.get("Contents", [])}
    if got != sizes:
        missing = sorted(k for k in sizes if got.get(k) != sizes[k])[:5]
        raise SystemExit(f"{bucket}: objects differ from the source (e.g. {missing})")


def commands(ep: str) -> dict[str, tuple[str, str]]:
    """client -> (label, bash command run in the temporary folder)."""
    aws = shlex.quote(str(VENVS / "awscli" / "bin" / "aws"))
    devkit = shlex.quote(str(ROOT / ".venv" / "bin" / "devkit"))

    def manifest(bucket: str) -> str:
        return (
            f"rm -f r.jsonl; {devkit} s3-stream --manifest m.jsonl s3://{bucket}/ "
            f"-q --endpoint-url {ep} --results r.jsonl"
        )

    def one(bucket: str) -> str:
        cp = f"{aws} s3 cp - s3://{bucket}/$1 --endpoint-url {ep}"
        return shlex.quote(
            f'curl -sSf -o - "$0" | {cp} --no-progress --only-show-errors'
        )

    s5cmd = shlex.quote(_s5cmd_binary())
    fetch = shlex.quote('curl -sSf -o "dl/$1" "$0"')
    return {
        "devkit": ("devkit s3-stream --manifest (4 jobs)", manifest("devkit")),
        "devkit256": (
            "devkit s3-stream --manifest --jobs 16 --max-memory 256MiB",
            manifest("devkit256") + " --jobs 16 --max-memory 256MiB",
        ),
        "xargs": (
            "xargs -P 8 of curl | aws s3 cp -",
            f"xargs -P 8 -n 2 sh -c {one('xargs')} < list",
        ),
        "s5cmd": (
            "xargs -P 8 curl to disk, then s5cmd run",
            f"rm -rf dl && mkdir dl && xargs -P 8 -n 2 sh -c {fetch} < list && "
            f"{s5cmd} --endpoint-url {ep} run s5cmd.txt && rm -rf dl",
        ),
        "loop": (
            "shell loop of curl | aws s3 cp -",
            f'while read u k; do sh -c {one("loop")} "$u" "$k"; done < list',
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--min-mib", type=int, default=1)
    parser.add_argument("--max-mib", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="40 files of 1-16 MiB")
    parser.add_argument("--rate", type=float, default=16.0, help="MiB/s per connection")
    parser.add_argument("--first-byte-delay", type=float, default=0.03, help="s")
    parser.add_argument("--s3-rate", type=float, default=60e6, help="B/s per request")
    parser.add_argument("--s3-latency", type=float, default=0.02, help="s per answer")
    parser.add_argument("--only", default=",".join(CLIENTS), help="comma-separated")
    args = parser.parse_args()
    if args.quick:
        args.files, args.max_mib = 40, 16
    only = [c for c in CLIENTS if c in args.only.split(",")]
    ensure_venvs([p for p in PEERS if p.name in ("awscli", "s5cmd")])
    rng = random.Random(14)
    sizes = {
        f"f{i:04d}": rng.randint(args.min_mib * MIB, args.max_mib * MIB)
        for i in range(args.files)
    }
    sink_cmd = [str(PY), "-m", "testing.s3_discard", "--port", "0", "--rate",
                str(args.s3_rate), "--latency", str(args.s3_latency)]  # fmt: skip
    source_cmd = [str(PY), "-c", SOURCE, json.dumps(sizes), str(args.rate * MIB),
                  str(args.first_byte_delay)]  # fmt: skip
    sink, port = start_server(sink_cmd)
    source, base = start_server(source_cmd)
    try:
        with tempfile.TemporaryDirectory() as d:
            rows = bench(args, only, sizes, base, f"http://127.0.0.1:{port}", Path(d))
    finally:
        for server in (sink, source):
            server.terminate()
            server.wait()
    report(rows, sizes)
    return 0


def bench(
    args: argparse.Namespace,
    only: list[str],
    sizes: dict[str, int],
    base: str,
    ep: str,
    tmp: Path,
) -> list[tuple[str, str, float, float, int]]:
    """Each client once, in order; (client, label, wall, cpu, peak) rows."""
    s3 = s3_client(ep)
    lines = [json.dumps({"url": f"{base}/{k}", "key": k}) for k in sizes]
    (tmp / "m.jsonl").write_text("\n".join(lines) + "\n")
    (tmp / "list").write_text("".join(f"{base}/{k} {k}\n" for k in sizes))
    (tmp / "s5cmd.txt").write_text(
        "".join(f"cp dl/{k} s3://s5cmd/{k}\n" for k in sizes)
    )
    env = client_env(tmp)
    total = sum(sizes.values())
    print(f"{len(sizes)} files, {total / MIB:,.0f} MiB in all; source paced to "
          f"{args.rate:g} MiB/s per connection, {args.first_byte_delay * 1000:g} ms "
          f"to first byte; S3 {args.s3_rate / 1e6:g} MB/s per request, "
          f"{args.s3_latency * 1000:g} ms; load average {os.getloadavg()[0]:.1f}",
          file=sys.stderr)  # fmt: skip
    rows = []
    cmds = commands(ep)
    for client in only:
        s3.create_bucket(Bucket=client)
        label, cmd = cmds[client]
        wall, cpu, peak = run(cmd, env, tmp)
        check(s3, client, sizes)
        rows.append((client, label, wall, cpu, peak))
        print(
            f"  {label}: {wall:.1f} s, load {os.getloadavg()[0]:.1f}", file=sys.stderr
        )
    return rows


def report(
    rows: list[tuple[str, str, float, float, int]], sizes: dict[str, int]
) -> None:
    """The table, then devkit against the fastest peer."""
    total = sum(sizes.values())
    print("| client | wall s | MiB/s | CPU s | peak RSS MiB (whole tree) |")
    print("|---|--:|--:|--:|--:|")
    for _, label, wall, cpu, peak in rows:
        rate = total / MIB / wall
        cell = label.replace("|", "\\|")
        print(f"| {cell} | {wall:.1f} | {rate:.1f} | {cpu:.1f} | {peak / MIB:.0f} |")
    ours = [r for r in rows if r[0].startswith("devkit")]
    peers = [r for r in rows if not r[0].startswith("devkit")]
    if ours and peers:
        best = min(ours, key=lambda r: r[2])
        fastest = min(peers, key=lambda r: r[2])
        within = "within" if best[4] <= BUDGET else "OVER"
        print(f"\n{best[1]}: {fastest[2] / best[2]:.2f}x the fastest peer "
              f"({fastest[1]}), peak {best[4] / MIB:.0f} MiB, {within} "
              f"{BUDGET // MIB} MiB")  # fmt: skip
    print(f"load average after the run: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
