"""Benchmark: `devkit sfn simulate` beside moto's and AWS's durable runner.

    .venv/bin/python bench/sfn.py [--runs 5] [--tools devkit,moto,durable]

Two runs of the gatekeeper recipe (tests/sfn/fixtures):

- give-up: 51 NotReadyError polls over 25 simulated minutes, then the forced
  call (166 events);
- cap: the recipe with a Pass that sets nothing, so the loop never ends by
  itself: 8,121 polls. devkit fails it at event 25,000 as AWS does; moto has
  no cap, so its task turns ready on that same poll and the run ends just
  past 25,000 events. (A Catch straight back to its own state would be
  shorter, but moto leaves such a loop through the state's Next.) moto
  gets DEVKIT_BENCH_MOTO_SECONDS (default 120) per run and one run of this
  case (about 64 s on a quiet machine); when it does not finish, the table
  shows how far it got.

Each figure is the median of --runs fresh processes. Wall and CPU time cover
the simulation only (imports and process start excluded; moto's figure
includes creating the function and the machine in its in-memory backend).
Peak RSS is the process's own VmHWM. moto runs with its retry sleeps patched
out (testing/sfn_oracle.py), the fairest it can be; its Lambda calls go
through botocore to its in-process backend.

durable is AWS's durable-execution testing runner
(aws-durable-execution-sdk-python-testing, DurableFunctionTestRunner with
skip_time, its default) on the same poll logic written as a durable function:
a step calls the same gatekeeper handler (NotReadyError becomes "not ready"),
a 30 s durable wait between polls, 51 polls, then the forced call. It has no
Step Functions definition and no 25,000-event cap, so it runs the give-up
case only ("cap" is a Step Functions limit); its event count is the number
of durable operations (steps and waits).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "sfn" / "fixtures"
MOTO_BUDGET = float(os.environ.get("DEVKIT_BENCH_MOTO_SECONDS", "120"))
CAP_POLLS = 8121  # devkit reaches event 25,000 during this poll
RECIPE = FIXTURES / "valid" / "recipe_fixed.asl.json"
CASES: dict[str, tuple[Path, int | None]] = {
    "give-up": (RECIPE, None),
    "cap": (RECIPE, CAP_POLLS),
}


def definition(case: str) -> dict[str, Any]:
    """The recipe; for "cap", with a force step that forces nothing."""
    doc: dict[str, Any] = json.loads(RECIPE.read_text())
    if case == "cap":
        doc["States"]["ForceGatekeeperState"] = {
            "Type": "Pass",
            "Next": "GatekeeperState",
        }
    return doc


class NotReadyError(Exception):
    pass


def gatekeeper(ready_on: int | None) -> Any:
    """Not ready until call `ready_on` (never when None); honours force."""
    calls = {"n": 0}

    def handler(event: Any) -> Any:
        calls["n"] += 1
        if event.get("force"):
            return {"forced": True}
        if ready_on is None or calls["n"] < ready_on:
            raise NotReadyError("not yet")
        return {"ready": True}

    return handler


def _peak_rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def worker(tool: str, case: str) -> dict[str, Any]:
    """One measured run in this process."""
    _, ready_on = CASES[case]
    doc = definition(case)
    handler = gatekeeper(ready_on)
    if tool == "durable":
        return _durable(handler)
    if tool == "devkit":
        from devkit.sfn.simulate import simulate
        from devkit.sfn.simulate.outcomes import TaskFailed

        def task(data: Any, context: Any) -> Any:
            try:
                return handler(data)
            except NotReadyError as exc:
                raise TaskFailed("NotReadyError", str(exc)) from exc

        wall, cpu = time.perf_counter(), time.process_time()
        run = simulate(doc, {"GatekeeperState": task}, {"prefix": "p/"})
        status, events = run.status, len(run.history)
    else:
        sys.path.insert(0, str(ROOT))
        from testing.sfn_oracle import run_in_moto

        doc["States"]["GatekeeperState"]["Resource"] = "${gatekeeper}"
        wall, cpu = time.perf_counter(), time.process_time()
        oracle = run_in_moto(
            doc, {"gatekeeper": handler}, {"prefix": "p/"}, deadline_seconds=MOTO_BUDGET
        )
        status, events = oracle.status, len(oracle.event_types)
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "rss_mb": _peak_rss_kb() / 1024,
        "status": status,
        "events": events,
    }


GIVE_UP_POLLS = 51  # the recipe: MaxAttempts 50, so 51 calls, then the forced one
POLL_WAIT_SECONDS = 30


def _durable(handler: Any) -> dict[str, Any]:
    from aws_durable_execution_sdk_python import DurableContext, durable_execution
    from aws_durable_execution_sdk_python.config import Duration
    from aws_durable_execution_sdk_python_testing import DurableFunctionTestRunner

    def poll(event: Any) -> Any:
        try:
            return handler(event)
        except NotReadyError:
            return None  # a step that raised would go through its own retrier

    @durable_execution  # type: ignore[untyped-decorator,unused-ignore]
    def gatekeeper_loop(event: Any, context: DurableContext) -> Any:
        for n in range(GIVE_UP_POLLS):
            result = context.step(lambda _: poll(event), name=f"poll-{n}")
            if result is not None:
                return result
            if n < GIVE_UP_POLLS - 1:
                context.wait(Duration.from_seconds(POLL_WAIT_SECONDS), name=f"wait-{n}")
        return context.step(lambda _: poll({**event, "force": True}), name="forced")

    wall, cpu = time.perf_counter(), time.process_time()
    with DurableFunctionTestRunner(handler=gatekeeper_loop) as runner:
        result = runner.run(input=json.dumps({"prefix": "p/"}), execution_timeout=3600)
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "rss_mb": _peak_rss_kb() / 1024,
        "status": str(result.status.name),
        "events": len(result.operations),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools", default="devkit,moto,durable")
    parser.add_argument(
        "--worker", nargs=2, metavar=("TOOL", "CASE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    rows = []
    for case in CASES:
        for tool in args.tools.split(","):
            if (tool, case) == ("durable", "cap"):
                continue  # no Step Functions definition, no history cap
            runs = []
            # moto's cap run outlasts its budget: once is enough to show it.
            count = 1 if (tool, case) == ("moto", "cap") else args.runs
            for _ in range(count):
                proc = subprocess.run(
                    [sys.executable, __file__, "--worker", tool, case],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                )
                runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            rows.append((case, tool, runs))
            print(f"  {case} {tool}: done", file=sys.stderr)
    load = os.getloadavg()[0]
    print(f"median of {args.runs} runs; load average {load:.1f}")
    print("| run | tool | status | events | wall s | CPU s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for case, tool, runs in rows:
        if runs[0]["status"] == "RUNNING":
            runs[0]["status"] = f"still RUNNING after {MOTO_BUDGET:g} s"
        med = {
            k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "rss_mb")
        }
        print(
            f"| {case} | {tool} | {runs[0]['status']} | {runs[0]['events']:,} | "
            f"{med['wall']:.3f} | {med['cpu']:.3f} | {med['rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
