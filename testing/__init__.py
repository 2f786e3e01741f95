"""Real local stand-ins that tests/, bench/ and scripts/try start on 127.0.0.1.

One folder on purpose: almost every module serves both the tests and the
benchmarks (checked with grep when issue 13 asked for a split), so a split
would leave one module per side. Who uses what:

- loopback: the bind-serve-stop lifecycle every server below shares.
- http_source: the HTTP download source with fault knobs (tests, bench);
  serve_source runs it in its own process for bench/s3_stream.py.
- s3_server (moto), s3_others (rclone, s3rver), s3_faults (a fault proxy in
  front of either), s3_discard (an S3 that keeps nothing, to measure clients).
- fake_google (OAuth and the Play API) and console_browser (a BROWSER that
  consents): play-auth and play-verify.
- gitrepo: real repositories for the hook; wheels: wheels for lambda-package;
  sfn_oracle: moto's Step Functions interpreter for sfn simulate.
- peak_rss: a module's own peak RSS, for the memory tests.
- try_s3_stream: `scripts/try`.
"""
