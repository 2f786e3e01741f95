"""Run one invocation of a Lambda zip the way the Python runtime does.

The zip and its layers are unpacked into a temporary task root and opt/
folder; the interpreter runs the cached runtime's bootstrap with Lambda's
environment; the Runtime API on 127.0.0.1 hands out one event and records
what comes back. Init duration is from the process start to its first
/next (interpreter start, the bootstrap and the handler's import, as
Lambda's Init Duration counts them); duration is from the event handed
out to the response posted.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.errors import BuildError, ConfigError
from devkit.lambda_package.target import Target
from devkit.lambda_run.api import Exchange, Invocation, RuntimeApi, new_invocation
from devkit.lambda_run.runtime import Interpreter, ensure_runtime, select_python
from devkit.lambda_run.unpack import check_host, extract, open_zip, zip_target

INIT_LIMIT_S = 10.0  # Lambda's limit on the init phase of an on-demand function
SETTLE_S = 2.0  # how long the runtime gets to reach /next again, or to exit
DEFAULT_TIMEOUT_S = 3.0  # Lambda's default function timeout
DEFAULT_MEMORY_MB = 128
DEFAULT_HANDLERS = (
    ("lambda_function.py", "lambda_function.lambda_handler"),  # the console's
    ("handler.py", "handler.handler"),
)
# Set by Lambda itself: a function's configuration may not set them.
RESERVED = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


@dataclass(frozen=True)
class RunOptions:
    """What the user asked for; paths are as given."""

    zip_path: Path
    handler: str | None = None
    event: bytes = b"{}"
    layers: Sequence[Path] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    python: str | None = None
    runtime: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB
    region: str = "us-east-1"
    cache_dir: Path | None = None
    # AWS_ACCESS_KEY_ID and the like, as Lambda sets them from the role
    # (lambda-run --aws-credentials); none by default.
    credentials: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    """One invocation's outcome, as Lambda would report it."""

    status: str  # response | error | init_error | timeout | crash
    result: Any  # the handler's response (parsed JSON), when status is response
    error: dict[str, Any] | None  # errorType, errorMessage, stackTrace
    request_id: str
    handler: str
    target: Target
    python: Interpreter
    init_ms: float | None
    duration_ms: float | None
    max_memory_mb: float
    memory_mb: int
    requests: list[str]  # the Runtime API requests, in order
    warnings: list[str]

    def report_line(self) -> str:
        """A line shaped like Lambda's REPORT log line."""
        parts = [f"REPORT RequestId: {self.request_id}"]
        if self.duration_ms is not None:
            parts.append(f"Duration: {self.duration_ms:.2f} ms")
        parts += [
            f"Memory Size: {self.memory_mb} MB",
            f"Max Memory Used: {self.max_memory_mb:.0f} MB",
        ]
        if self.init_ms is not None:
            parts.append(f"Init Duration: {self.init_ms:.2f} ms")
        if self.status != "response":
            parts.append(f"Status: {self.status}")
        return "\t".join(parts)


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """KEY=VALUE pairs into a dict; Lambda's reserved names are refused."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key):
            raise ConfigError(f"--env {pair.split('=')[0]!r}: use KEY=VALUE")
        if key in RESERVED:
            raise ConfigError(
                f"--env {key} is reserved: Lambda sets it and a function "
                "cannot override it"
            )
        env[key] = value
    return env


def run_zip(
    opts: RunOptions,
    on_status: Callable[[str], None] = lambda _msg: None,
    on_log: Callable[[bytes], None] = lambda _data: None,
    environ: Mapping[str, str] = os.environ,
) -> RunResult:
    """Unpack, start the runtime, serve one event; the function's faults are results."""
    from devkit.lambda_run.runtime import run_cache_dir

    if opts.timeout_s <= 0 or opts.memory_mb < 128 or opts.memory_mb > 10240:
        raise ConfigError(
            "--timeout must be above 0 and --memory between 128 and 10240 MB"
        )
    with open_zip(opts.zip_path) as zf:
        target = zip_target(zf, opts.runtime)
        handler = opts.handler or _default_handler(zf.namelist(), zf.filename or "")
        python = select_python(target, opts.python, environ)
        with tempfile.TemporaryDirectory(prefix="devkit-lambda-run-") as tmp:
            task, opt = Path(tmp, "task"), Path(tmp, "opt")
            task.mkdir()
            opt.mkdir()
            extract(zf, task)
            for layer in opts.layers:
                with open_zip(layer, "layer") as lz:
                    extract(lz, opt)
            warnings = check_host([task, opt], target)
            entry = ensure_runtime(
                python,
                opts.cache_dir or run_cache_dir(environ),
                on_status,
                # With credentials, the runtime's boto3 can use them.
                real_boto3=bool(opts.credentials),
            )
            name = opts.zip_path.stem or "function"
            inv = new_invocation(opts.event, name, opts.region, opts.timeout_s)
            env = lambda_environment(opts, target, handler, task, opt, entry, name)
            run = _Run(python, entry, env, task, inv, on_log)
            status, error, max_rss_kb = run.execute()
    ex = run.exchange
    if max_rss_kb / 1024 > opts.memory_mb:
        warnings.append(
            f"max memory used {max_rss_kb / 1024:.0f} MB is above --memory "
            f"{opts.memory_mb} MB: Lambda would stop the function "
            "(Runtime.OutOfMemory)"
        )
    result = None
    if status == "response":
        result = _decode(ex.body)
    return RunResult(
        status=status,
        result=result,
        error=error,
        request_id=inv.request_id,
        handler=handler,
        target=target,
        python=python,
        init_ms=run.init_ms,
        duration_ms=run.duration_ms,
        max_memory_mb=round(max_rss_kb / 1024, 1),
        memory_mb=opts.memory_mb,
        requests=list(ex.requests),
        warnings=warnings,
    )


def run_check(
    zip_path: Path,
    event: bytes = b"{}",
    handler: str | None = None,
    on_status: Callable[[str], None] = lambda _msg: None,
    on_log: Callable[[bytes], None] = lambda _data: None,
    environ: Mapping[str, str] = os.environ,
    layers: Sequence[Path] = (),
) -> RunResult:
    """One invocation after a build; BuildError when the handler cannot load.

    Only the init phase fails the build: a handler that raises on a sample
    event may be right to, so that is the caller's warning to show.
    """
    result = run_zip(
        RunOptions(zip_path=zip_path, handler=handler, event=event, layers=layers),
        on_status,
        on_log,
        environ,
    )
    reached_next = any(r.endswith("/invocation/next") for r in result.requests)
    if result.status == "init_error" or not reached_next:
        error = result.error or {}
        raise BuildError(
            f"--run-check: {result.handler} did not initialise "
            f"({error.get('errorType', result.status)}: "
            f"{error.get('errorMessage', '')}); run `devkit lambda-run "
            f"{zip_path}` to see it again"
        )
    return result


def _default_handler(names: Sequence[str], zip_name: str) -> str:
    for module, handler in DEFAULT_HANDLERS:
        if module in names:
            return handler
    raise ConfigError(
        f"{zip_name} has neither lambda_function.py nor handler.py at its root: "
        "pass the HANDLER, e.g. app.main.handler"
    )


def lambda_environment(
    opts: RunOptions,
    target: Target,
    handler: str,
    task: Path,
    opt: Path,
    entry: Path,
    name: str,
) -> dict[str, str]:
    """The variables Lambda sets, with its folders mapped onto the local ones."""
    runtime_dir = entry / "runtime"
    folders = {"/var/task": task, "/var/runtime": runtime_dir, "/opt": opt}
    env = {
        "PATH": f"{opt}/bin:/usr/local/bin:/usr/bin:/bin",
        "LD_LIBRARY_PATH": f"{runtime_dir}:{runtime_dir}/lib:{task}:{task}/lib:"
        f"{opt}/lib",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "_HANDLER": handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{target.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(opts.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "devkit-lambda-run",
        "AWS_REGION": opts.region,
        "AWS_DEFAULT_REGION": opts.region,
        "_DEVKIT_OPT": str(opt),  # popped by the bootstrap
        **opts.credentials,
    }
    for key, value in opts.env.items():
        env[key] = ":".join(_local_path(v, folders) for v in value.split(":"))
    return env


def _local_path(value: str, folders: Mapping[str, Path]) -> str:
    # /var/task/lib in --env PYTHONPATH means the unpacked task root here.
    for root, local in folders.items():
        if value == root or value.startswith(root + "/"):
            return str(local) + value[len(root) :]
    return value


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


class _Run:
    """One runtime process against one Runtime API; waits, times, kills."""

    def __init__(
        self,
        python: Interpreter,
        entry: Path,
        env: dict[str, str],
        task: Path,
        inv: Invocation,
        on_log: Callable[[bytes], None],
    ) -> None:
        self.python, self.entry, self.env, self.task = python, entry, env, task
        self.inv, self.on_log = inv, on_log
        self.exchange = Exchange()
        self.init_ms: float | None = None
        self.duration_ms: float | None = None

    def execute(self) -> tuple[str, dict[str, Any] | None, int]:
        """Run to an outcome; return (status, error, max RSS in KB)."""
        with RuntimeApi(self.inv) as api:
            self.exchange = api.exchange
            self.env["AWS_LAMBDA_RUNTIME_API"] = api.address
            start = time.perf_counter()
            proc = subprocess.Popen(
                [self.python.path, "-S", str(self.entry / "runtime" / "bootstrap.py")],
                cwd=self.task,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its children go with it
            )
            reaper = _Reaper(proc, api.changed)
            pump = threading.Thread(target=self._pump, args=(proc,), daemon=True)
            pump.start()
            status = self._wait(api, reaper, start)
            if status in ("response", "error"):
                # The runtime asks for the next event, as on Lambda, and waits.
                _first(api.parked, reaper.exited, SETTLE_S)
            elif status == "init_error":
                reaper.exited.wait(SETTLE_S)  # awslambdaric exits by itself
            reaper.read_peak()
            _kill(proc)
            reaper.exited.wait()
            pump.join(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()
        ex = self.exchange
        if ex.next_at is not None:
            self.init_ms = (ex.next_at - start) * 1000
        elif status == "init_error" and ex.done_at is not None:
            self.init_ms = (ex.done_at - start) * 1000
        if ex.done_at is not None and ex.next_at is not None and status != "init_error":
            self.duration_ms = (ex.done_at - ex.next_at) * 1000
        elif status == "timeout" and ex.next_at is not None:
            self.duration_ms = self.inv.timeout_s * 1000
        return status, self._error(status, reaper), reaper.max_rss_kb

    def _wait(self, api: RuntimeApi, reaper: _Reaper, start: float) -> str:
        ex = api.exchange
        while True:
            api.changed.clear()
            with api.lock:
                if ex.status is not None:
                    return ex.status
                limit = (
                    start + INIT_LIMIT_S
                    if ex.next_at is None
                    else ex.next_at + self.inv.timeout_s
                )
            if reaper.exited.is_set():
                return "crash"
            remaining = limit - time.perf_counter()
            if remaining <= 0:
                reaper.read_peak()
                _kill(reaper.proc)
                return "timeout"
            api.changed.wait(remaining)

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, b""):
            self.on_log(line)

    def _error(self, status: str, reaper: _Reaper) -> dict[str, Any] | None:
        rid = self.inv.request_id
        if status in ("error", "init_error"):
            doc = _decode(self.exchange.body)
            if isinstance(doc, dict):
                doc.pop("requestId", None)
                return doc
            return {"errorType": "Runtime.Unknown", "errorMessage": str(doc)}
        if status == "timeout":
            if self.exchange.next_at is None:
                message = f"Init phase did not finish within {INIT_LIMIT_S:g} s"
            else:
                message = f"Task timed out after {self.inv.timeout_s:.2f} seconds"
            return {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {rid} Error: {message}",
            }
        if status == "crash":
            return {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {rid} Error: Runtime exited with "
                f"error: {reaper.describe()}",
            }
        return None


class _Reaper:
    """Waits for the process and keeps its peak RSS in KB.

    The peak is VmHWM from /proc, read while the process lives: wait4's
    ru_maxrss would count the parent's memory, which a vfork'ed child
    carries up to its exec.
    """

    def __init__(self, proc: subprocess.Popen[bytes], changed: threading.Event):
        self.proc = proc
        self.changed = changed
        self.exited = threading.Event()
        self.status = 0
        self.max_rss_kb = 0
        threading.Thread(target=self._wait, daemon=True).start()
        threading.Thread(target=self._sample, daemon=True).start()

    def _wait(self) -> None:
        _, status = os.waitpid(self.proc.pid, 0)
        self.status = status
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.exited.set()
        self.changed.set()

    def _sample(self) -> None:
        # VmHWM only grows, so the last read before the end is the peak; a
        # process that dies on its own loses at most this interval.
        while not self.exited.wait(0.05):
            self.read_peak()

    def read_peak(self) -> None:
        """Record VmHWM now, if the process is still there."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        self.max_rss_kb = max(self.max_rss_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass  # gone already

    def describe(self) -> str:
        """`exit status 3` or `signal: segmentation fault`, as Lambda words it."""
        if os.WIFSIGNALED(self.status):
            sig = os.WTERMSIG(self.status)
            names = {
                signal.SIGSEGV: "segmentation fault",
                signal.SIGKILL: "killed",
                signal.SIGABRT: "aborted",
            }
            return f"signal: {names.get(signal.Signals(sig), signal.strsignal(sig))}"
        return f"exit status {os.WEXITSTATUS(self.status)}"


def _first(a: threading.Event, b: threading.Event, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not (a.is_set() or b.is_set()):
        left = deadline - time.perf_counter()
        if left <= 0:
            return
        a.wait(min(left, 0.01))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone
