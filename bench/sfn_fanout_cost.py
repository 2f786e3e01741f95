"""What the fanout machine costs on AWS, from `devkit sfn simulate` of a real run.

    .venv/bin/python bench/sfn_fanout_cost.py [--items 200] [--scale 100000]

Serves ITEMS small bodies (0-130 KiB, as testing.http_source does, one in
fifty a 404) and moto's S3 server, both on 127.0.0.1 in this process; writes
the machine with `devkit sfn new fanout` (10 items a batch), uploads the
manifest and runs `devkit sfn simulate ... --tasks stream/handler.py --scale
SCALE`, which calls devkit's Lambda handler in-process for every batch and
prints the cost as run and at SCALE items: Standard and Express children,
beside the Lambda GB-seconds. Transitions and requests are exact; durations
are measured on this machine against local servers, so the Lambda and
Express figures are a floor. Print the load average with any figure quoted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testing.http_source import HttpSource  # noqa: E402
from testing.s3_server import S3Server  # noqa: E402

KIB = 1024
SIZES = [0, 100, 3 * KIB, 40 * KIB, 130 * KIB]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--scale", type=int, default=100_000)
    args = parser.parse_args()
    devkit = [sys.executable, "-m", "devkit"]
    with (
        S3Server() as s3_server,
        HttpSource() as source,
        tempfile.TemporaryDirectory() as tmp,
    ):
        s3 = s3_server.client()
        s3.create_bucket(Bucket="data")
        lines = []
        for i in range(args.items):
            status = 404 if i % 50 == 3 else 200
            source.add(f"/f{i}", SIZES[i % len(SIZES)] + i, status=status)
            lines.append(
                json.dumps({"url": source.url(f"/f{i}"), "key": f"obj/{i:06d}"})
            )
        s3.put_object(
            Bucket="data", Key="manifests/items.jsonl", Body="\n".join(lines).encode()
        )
        env = {**os.environ, **s3_server.credentials, "AWS_DEFAULT_REGION": "us-east-1"}
        project = Path(tmp) / "fanout"
        subprocess.run(
            [*devkit, "sfn", "new", "fanout", str(project), "-q",
             "--tolerated-failure-percentage", "50"],
            check=True, env=env, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        run_input = {
            "manifest": {"bucket": "data", "key": "manifests/items.jsonl"},
            "prefix": "s3://data/mirror/",
            "results": {"bucket": "data", "prefix": "fanout-results"},
        }
        done = subprocess.run(
            [*devkit, "sfn", "simulate", str(project / "statemachine.asl.json"),
             "--tasks", str(project / "stream" / "handler.py"),
             "--input", json.dumps(run_input), "--scale", str(args.scale)],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        shown = done.stdout.split("\nmap run", 1)
        print("map run" + shown[1] if len(shown) == 2 else done.stdout, end="")
        print(done.stderr, end="", file=sys.stderr)
        print(f"load average {os.getloadavg()[0]:.1f}")
        return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
