"""Latency of `devkit play-verify` beside hand-written equivalents, on the stand-in.

Each run is a fresh process doing what a server-side check does: refresh the
access token from the stored refresh token, then GET
purchases.subscriptionsv2 for one token. Google is never contacted: the
stand-in (testing/fake_google.py) serves both on 127.0.0.1, and when it can
(root, util-linux `unshare`), the script re-runs itself in a new network
namespace that has only loopback.

    .venv/bin/python bench/play.py [--runs 5] [--batch 200] [--latency-ms 0]

Rows: devkit; the same two HTTP calls with plain requests; google-auth's
AuthorizedSession without devkit; `gcloud auth application-default
print-access-token` piped into curl, when gcloud is installed (oauth2l is on
none of PyPI, npm or Debian, so it is not run). Wall time is measured here;
CPU (user+sys) and peak RSS come from GNU time (/usr/bin/time, wait4 of the
command, including the children it waited for; RSS is the largest single
process), or from os.wait4 without it; medians of --runs runs after one
warm-up.

A second table compares a batch (`play-verify --tokens FILE`: one process, one
access token, --concurrency 8) with one process per token, in tokens per
second; --latency-ms makes each API answer of the stand-in take that long,
as Google's do (it does not delay the single-token rows).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devkit.play.auth import AuthOptions, authorize  # noqa: E402
from testing.fake_google import PACKAGE, FakeGoogle, ScriptedBrowser  # noqa: E402

PY = sys.executable
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
TOKEN = "active-token"

REQUESTS_RECIPE = """
import json, sys, requests
creds = json.load(open(sys.argv[1]))
token = requests.post(creds["token_uri"], data={
    "grant_type": "refresh_token", "refresh_token": creds["refresh_token"],
    "client_id": creds["client_id"], "client_secret": creds["client_secret"],
}, timeout=30)
token.raise_for_status()
url = (sys.argv[2] + "/androidpublisher/v3/applications/" + sys.argv[3]
       + "/purchases/subscriptionsv2/tokens/" + sys.argv[4])
bearer = {"Authorization": "Bearer " + token.json()["access_token"]}
doc = requests.get(url, headers=bearer, timeout=30)
doc.raise_for_status()
state = doc.json()["subscriptionState"].removeprefix("SUBSCRIPTION_STATE_")
sys.exit(0 if state in ("ACTIVE", "IN_GRACE_PERIOD") else 1)
"""

GOOGLE_AUTH_RECIPE = """
import json, sys
from google.oauth2.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession
c = json.load(open(sys.argv[1]))
creds = Credentials(None, refresh_token=c["refresh_token"], token_uri=c["token_uri"],
                    client_id=c["client_id"], client_secret=c["client_secret"],
                    scopes=c["scopes"])
url = (sys.argv[2] + "/androidpublisher/v3/applications/" + sys.argv[3]
       + "/purchases/subscriptionsv2/tokens/" + sys.argv[4])
doc = AuthorizedSession(creds).get(url, timeout=30)
doc.raise_for_status()
sys.exit(0 if doc.json()["subscriptionState"] == "SUBSCRIPTION_STATE_ACTIVE" else 1)
"""


def isolate() -> bool:
    """Re-run in a namespace with only loopback; False when inside or impossible."""
    if os.environ.get("DEVKIT_BENCH_NETNS") or not shutil.which("unshare"):
        return False
    env = dict(os.environ, DEVKIT_BENCH_NETNS="1")
    script = 'ip link set lo up 2>/dev/null; exec "$0" "$@"'
    argv = ["unshare", "-n", "sh", "-c", script, PY, *sys.argv]
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        return False
    raise SystemExit(subprocess.run(argv, env=env).returncode)


def measure(
    argv: list[str], env: dict[str, str], runs: int
) -> tuple[float, float, float]:
    """Median wall s, median CPU s, max peak RSS MiB of `runs` runs after a warm-up."""
    walls, cpus, rss = [], [], []
    for i in range(runs + 1):
        wall, cpu, peak = _one_run(argv, env)
        if i == 0:
            continue  # warm-up: page cache, .pyc files
        walls.append(wall)
        cpus.append(cpu)
        rss.append(peak)
    return statistics.median(walls), statistics.median(cpus), max(rss)


def _one_run(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    # A child forked from this (large) process inherits its RSS high-water mark,
    # so the tiny GNU time forks the command and reports its wait4 figures.
    with tempfile.NamedTemporaryFile("r") as report:
        launcher = [TIME, "-q", "-o", report.name, "-f", "%U %S %M"] if TIME else []
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*launcher, *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err = proc.stderr.read() if proc.stderr else b""
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(
                f"{argv[:3]} failed: {err.decode(errors='replace')[-400:]}"
            )
        if not TIME:
            return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
        user, system, kib = report.read().split()[-3:]
        return wall, float(user) + float(system), int(kib) / 1024


def make_credentials(google: FakeGoogle, folder: Path) -> Path:
    """Run the real play-auth flow once with a scripted browser."""
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the stand-in is http on loopback
    client = google.client_file(folder / "client.json", google.add_client())
    browser = ScriptedBrowser()
    result = authorize(
        AuthOptions(client_secrets=client, output=folder / "creds.json"), opener=browser
    )
    browser.wait()
    return result.path


def rows(
    google: FakeGoogle, creds: Path, folder: Path, isolated: bool
) -> list[tuple[str, list[str], dict[str, str]]]:
    env = dict(os.environ)
    args = [str(creds), google.url, PACKAGE, TOKEN]
    devkit = str(Path(PY).with_name("devkit"))
    table = [
        ("python -c pass (interpreter start)", [PY, "-c", "pass"], env),
        (
            "devkit play-verify",
            [
                devkit,
                "play-verify",
                PACKAGE,
                TOKEN,
                "--credentials",
                str(creds),
                "--api-endpoint",
                google.url,
            ],
            env,
        ),
        ("requests recipe (hand-written)", [PY, "-c", REQUESTS_RECIPE, *args], env),
        (
            "google-auth AuthorizedSession recipe",
            [PY, "-c", GOOGLE_AUTH_RECIPE, *args],
            env,
        ),
    ]
    gcloud, curl = shutil.which("gcloud"), shutil.which("curl")
    if gcloud and curl and isolated:
        gc_env = dict(
            env,
            CLOUDSDK_CONFIG=str(folder / "gcloud"),
            CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true",
            CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true",
            CLOUDSDK_AUTH_TOKEN_HOST=google.token_uri,
            GOOGLE_APPLICATION_CREDENTIALS=str(creds),
        )
        url = (
            f"{google.url}/androidpublisher/v3/applications/{PACKAGE}"
            f"/purchases/subscriptionsv2/tokens/{TOKEN}"
        )
        shell = (
            'curl -sf -H "Authorization: Bearer '
            '$(gcloud auth application-default print-access-token)" "$0"'
        )
        table.append(
            ("gcloud print-access-token + curl", ["sh", "-c", shell, url], gc_env)
        )
    return table


BATCH_TOKENS = ["active-token", "expired-token", "canceled-token", "grace-token"]


def batch_table(
    google: FakeGoogle,
    creds: Path,
    folder: Path,
    single: tuple[float, float, float],
    count: int,
    runs: int,
    latency_ms: float,
) -> None:
    """Tokens per second: one --tokens run against one process per token."""
    tokens = folder / "tokens.txt"
    lines = (BATCH_TOKENS[i % len(BATCH_TOKENS)] for i in range(count))
    tokens.write_text("\n".join(lines) + "\n")
    devkit = str(Path(PY).with_name("devkit"))
    argv = [devkit, "play-verify", PACKAGE, "--tokens", str(tokens)]
    argv += ["--credentials", str(creds), "--api-endpoint", google.url]
    google.api_delay = latency_ms / 1000
    # The batch exits 1 (some tokens do not entitle): measure through sh.
    wall, cpu, rss = measure(
        ["sh", "-c", '"$@"; exit 0', "sh", *argv], {**os.environ}, runs
    )
    google.api_delay = 0
    one_wall, one_cpu, one_rss = single
    print(f"\n{count} tokens; stand-in API latency {latency_ms:g} ms per call")
    print(f"| {'mode':<46} | wall s | CPU s | CPU ms/token | tokens/s |")
    print(f"|{'-' * 48}|-------:|------:|-------------:|---------:|")
    print(
        f"| {'play-verify --tokens (1 process, 8 in flight)':<46} | {wall:6.2f} "
        f"| {cpu:5.2f} | {cpu * 1000 / count:12.1f} | {count / wall:8.1f} |"
    )
    print(
        f"| {'play-verify, one process per token':<46} "
        f"| {one_wall * count:6.1f} | {one_cpu * count:5.1f} "
        f"| {one_cpu * 1000:12.1f} | {1 / one_wall:8.1f} |"
    )
    print(f"peak RSS: batch {rss:.1f} MiB, one process {one_rss:.1f} MiB")
    print("one process per token: the single-token row above times the count")


def main() -> int:
    """Print the latency table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=200, help="tokens in the batch")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    options = parser.parse_args()
    runs = options.runs
    isolate()
    isolated = bool(os.environ.get("DEVKIT_BENCH_NETNS"))
    with tempfile.TemporaryDirectory() as tmp, FakeGoogle() as google:
        google.seed_purchases()
        folder = Path(tmp)
        creds = make_credentials(google, folder)
        print(f"stand-in on {google.url}; loopback-only network namespace: {isolated}")
        print(
            f"medians of {runs} runs after a warm-up; a run = token refresh + one GET\n"
        )
        print(f"| {'command':<38} | wall ms | CPU ms | peak RSS MiB | calls/run |")
        print(f"|{'-' * 40}|--------:|-------:|-------------:|----------:|")
        single = (0.0, 0.0, 0.0)
        for name, argv, env in rows(google, creds, folder, isolated):
            before = (len(google.token_grants), len(google.api_calls))
            wall, cpu, rss = measure(argv, env, runs)
            if name == "devkit play-verify":
                single = (wall, cpu, rss)
            grants = (len(google.token_grants) - before[0]) / (runs + 1)
            calls = (len(google.api_calls) - before[1]) / (runs + 1)
            per_run = f"{grants:g}+{calls:g}" if grants or calls else "-"
            print(
                f"| {name:<38} | {wall * 1000:7.0f} | {cpu * 1000:6.0f} "
                f"| {rss:12.1f} | {per_run:>9} |"
            )
        if not (shutil.which("gcloud") and isolated):
            print(
                "\ngcloud row skipped: needs gcloud, curl and a loopback-only namespace"
            )
        print("calls/run: token grants + API calls the stand-in saw per run")
        if TIME:
            print("CPU from GNU time has 10 ms resolution")
        print("oauth2l: not on PyPI, npm or Debian; not run")
        batch_table(
            google, creds, folder, single, options.batch, runs, options.latency_ms
        )
        load = os.getloadavg()[0]
        print(
            json.dumps(
                {"python": sys.version.split()[0], "cpus": os.cpu_count(), "load": load}
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
