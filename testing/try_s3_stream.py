"""`scripts/try`: devkit s3-stream end to end, with no AWS account.

Starts moto's S3-compatible server (or, with --server, `rclone serve s3` or
s3rver) and an HTTP download on 127.0.0.1, runs the real `devkit s3-stream`
command against them (progress bar on your terminal), then reads the object
back and compares it with the source.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import subprocess
import sys

from testing.http_source import HttpSource, body_sha256
from testing.s3_others import SERVERS, missing, start_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default="moto",
        help="the local S3-compatible server (rclone: rclone serve s3; s3rver: npm)",
    )
    parser.add_argument("extra", nargs="*", help="more devkit s3-stream options")
    args = parser.parse_args()
    size = args.size_mib << 20
    why = missing(args.server)
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    with start_server(args.server) as s3, HttpSource() as web:
        client = s3.client()
        client.create_bucket(Bucket="devkit-demo")
        web.add("/ubuntu.iso", size, content_type="application/x-iso9660-image")
        url, dest = web.url("/ubuntu.iso"), "s3://devkit-demo/isos/ubuntu.iso"
        print(
            f"local S3 server ({s3.kind}): {s3.endpoint_url}   local download: {url}\n",
            flush=True,
        )
        extra = "".join(f" {shlex.quote(arg)}" for arg in args.extra)
        print(
            f"$ devkit s3-stream {url} {dest} --endpoint-url {s3.endpoint_url}{extra}"
        )
        env = {**os.environ, **s3.credentials, "AWS_DEFAULT_REGION": "us-east-1"}
        cmd = [sys.executable, "-m", "devkit", "s3-stream", url, dest,
               "--endpoint-url", s3.endpoint_url, *args.extra]  # fmt: skip
        code = subprocess.call(cmd, env=env)
        if code != 0:
            return code
        print("\nreading the object back to compare it with the source ...")
        obj = client.get_object(Bucket="devkit-demo", Key="isos/ubuntu.iso")
        digest = hashlib.sha256()
        for chunk in obj["Body"].iter_chunks(1 << 20):
            digest.update(chunk)
        same = digest.hexdigest() == body_sha256(size)
        print(f"Content-Type: {obj['ContentType']}")
        verdict = "matches" if same else "DIFFERS FROM"
        print(f"sha256 of the S3 object {verdict} the source's")
        if not s3.can("list-uploads"):
            print(f"unfinished multipart uploads: not listable ({s3.kind})")
            return 0 if same else 1
        try:
            listing = client.list_multipart_uploads(Bucket="devkit-demo")
        except client.exceptions.NoSuchUpload:
            listing = {}  # rclone's answer when there are none
        uploads = listing.get("Uploads", [])
        print(f"unfinished multipart uploads left in the bucket: {len(uploads)}")
        return 0 if same and not uploads else 1


if __name__ == "__main__":
    raise SystemExit(main())
