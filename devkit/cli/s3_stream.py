"""`devkit s3-stream`: the click layer over devkit.s3stream."""

from __future__ import annotations

import functools
import gc
import json
import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from devkit.aws import AwsOptions
from devkit.cli.options import aws_options, output_options
from devkit.console import Output
from devkit.errors import ConfigError, ExitCode, Interrupted

if TYPE_CHECKING:
    from devkit.s3stream import UploadResult
    from devkit.s3stream.batch import Progress

F = TypeVar("F", bound=Callable[..., Any])

_UNITS = {
    "": 1,
    "B": 1,
    "K": 1000,
    "KB": 1000,
    "KIB": 1 << 10,
    "M": 1000**2,
    "MB": 1000**2,
    "MIB": 1 << 20,
    "G": 1000**3,
    "GB": 1000**3,
    "GIB": 1 << 30,
    "T": 1000**4,
    "TB": 1000**4,
    "TIB": 1 << 40,
}


def parse_size(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> int | None:
    """Click callback: a size such as 8388608, 8MiB or 1.5GB, in bytes."""
    if value is None:
        return None
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", value)
    if not m or m.group(2).upper() not in _UNITS:
        raise click.BadParameter(f"{value!r} is not a size (e.g. 8388608, 8MiB, 1.5GB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def _pairs(values: tuple[str, ...], sep: str, what: str) -> dict[str, str]:
    result = {}
    for number, item in enumerate(values, 1):
        name, found, value = item.partition(sep)
        if not found or not name.strip():
            # Never echo the item: a header's value is often a token.
            raise ConfigError(
                f"{what} number {number} is not in the form "
                f"'NAME{sep}{' ' if sep == ':' else ''}VALUE'"
            )
        result[name.strip()] = value.strip()
    return result


def _collections_paused(func: F) -> F:
    """No garbage collections while the imports and botocore's models are
    built (objects that live until exit): `_frozen` turns them back on once
    the client exists."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            gc.enable()

    return wrapper  # type: ignore[return-value]


def _frozen() -> None:
    """Freeze what start-up built, then collect again, for new objects only.

    Modules, botocore's models and the client live until the process ends:
    collecting while they were built, and walking them again in each full
    collection and once more at exit, cost about 7 % of a loopback run's
    user CPU (0.05 s of 0.7). They stay frozen (this is a command: its
    process ends after it).
    """
    gc.freeze()
    gc.enable()


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C; a second signal cannot cut the clean-up short."""

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@click.command("s3-stream", short_help="Stream a URL, stdin or file into S3, verified.")
@click.argument("source", required=False)
@click.argument("dest", metavar="s3://BUCKET/KEY", required=False)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Stream every item of a JSONL (url, dest or key, headers, content_type, "
    "metadata) or CSV (url,dest) file; a DEST given is the prefix for `key`.",
)
@click.option(
    "--results",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --manifest: append one JSON line per item here (default: stdout).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="With --manifest: skip items --results says are done and still in S3.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="With --manifest: items streamed at once (fewer if --max-memory "
    "cannot hold them).",
)
@click.option(
    "--part-size",
    callback=parse_size,
    metavar="SIZE",
    help="Fixed part size (5MiB-5GiB).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=None,
    help="Parts uploaded at once (default: chosen within --max-memory).",
)
@click.option(
    "--max-memory",
    callback=parse_size,
    metavar="SIZE",
    help="Memory for the whole process (default 128MiB; in Lambda 3/4 of the "
    "function's); part size and connections are chosen to fit.",
)
@click.option(
    "--expected-size",
    callback=parse_size,
    metavar="SIZE",
    help="Exact size of a stream without Content-Length; a different size fails.",
)
@click.option(
    "--size-hint",
    callback=parse_size,
    metavar="SIZE",
    help="Estimate of a stream's size, for part sizing only (not checked).",
)
@click.option("--content-type", help="Default: the source's, then a guess from KEY.")
@click.option(
    "--content-encoding",
    help="e.g. gzip. Default: the source's (its bytes are stored as sent).",
)
@click.option("--metadata", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--storage-class", help="e.g. STANDARD_IA, INTELLIGENT_TIERING.")
@click.option(
    "--sse",
    type=click.Choice(["AES256", "aws:kms", "aws:kms:dsse"]),
    help="Server-side encryption.",
)
@click.option("--sse-kms-key-id", help="KMS key for --sse aws:kms.")
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="Header for the source request (repeatable; never printed). Sent to "
    "the source's origin only: dropped on a redirect to another host or port.",
)
@click.option(
    "--read-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds without data before a stalled source is resumed.",
)
@click.option(
    "--verify",
    type=click.Choice(["auto", "read-back"]),
    default="auto",
    show_default=True,
    help="read-back: GET the stored object and CRC it, for servers that keep "
    "no checksum devkit can compare.",
)
@click.option(
    "--no-overwrite",
    is_flag=True,
    help="Fail if the key exists (S3's If-None-Match at the commit).",
)
@click.option(
    "--if-match",
    metavar="ETAG",
    help="Replace only the object with this ETag (S3's If-Match at the commit).",
)
@aws_options
@output_options
@_collections_paused
def s3_stream_cmd(
    source: str | None,
    dest: str | None,
    manifest: Path | None,
    results: Path | None,
    resume: bool,
    jobs: int,
    part_size: int | None,
    concurrency: int | None,
    max_memory: int | None,
    expected_size: int | None,
    size_hint: int | None,
    content_type: str | None,
    content_encoding: str | None,
    metadata: tuple[str, ...],
    storage_class: str | None,
    sse: str | None,
    sse_kms_key_id: str | None,
    headers: tuple[str, ...],
    read_timeout: float,
    verify: str,
    no_overwrite: bool,
    if_match: str | None,
    aws: AwsOptions,
    out: Output,
) -> int:
    """Stream a URL, stdin (-) or a file into S3 in flat memory, verified.

    With --manifest FILE, stream many URLs under one memory budget.
    """
    from devkit import s3stream  # botocore and requests load only for this command
    from devkit.s3stream.api import make_s3_client

    if manifest is not None:
        if dest is not None or expected_size or size_hint or if_match:
            raise click.UsageError(
                "--manifest takes at most one s3://BUCKET/PREFIX/ (for items "
                "with `key`), and no --expected-size, --size-hint or --if-match"
            )
        return _run_manifest(
            manifest,
            source,
            results,
            resume,
            jobs,
            max_memory,
            {
                "part_size": part_size,
                "concurrency": concurrency,
                "content_type": content_type,
                "content_encoding": content_encoding,
                "metadata": _pairs(metadata, "=", "--metadata"),
                "storage_class": storage_class,
                "sse": sse,
                "sse_kms_key_id": sse_kms_key_id,
                "headers": _pairs(headers, ":", "--header"),
                "resume": s3stream.ResumePolicy(read_timeout=read_timeout),
                "read_back": verify == "read-back",
                "no_overwrite": no_overwrite,
            },
            aws,
            out,
        )
    if source is None or dest is None:
        raise click.UsageError("give SOURCE and s3://BUCKET/KEY, or --manifest FILE")
    if results is not None or resume:
        raise click.UsageError("--results and --resume go with --manifest")
    bucket, key = s3stream.parse_s3_url(dest)
    s3stream.check_size_options(expected_size, size_hint)
    policy = s3stream.ResumePolicy(read_timeout=read_timeout)
    with _terminate_as_interrupt():
        try:
            src = s3stream.open_source(source, _pairs(headers, ":", "--header"), policy)
            key = s3stream.object_key(key, src)
            client = make_s3_client(aws, concurrency)
            _frozen()
            total = src.size if src.size is not None else expected_size
            with out.byte_progress(f"{src.name} → s3://{bucket}/{key}", total) as bar:
                result = s3stream.stream_to_s3(
                    src,
                    bucket,
                    key,
                    client=client,
                    part_size=part_size,
                    concurrency=concurrency,
                    max_memory=max_memory,
                    expected_size=expected_size,
                    size_hint=size_hint,
                    content_type=content_type,
                    content_encoding=content_encoding,
                    metadata=_pairs(metadata, "=", "--metadata"),
                    storage_class=storage_class,
                    sse=sse,
                    sse_kms_key_id=sse_kms_key_id,
                    on_bytes=bar,
                    on_phase=bar.phase,
                    read_back=verify == "read-back",
                    no_overwrite=no_overwrite,
                    if_match=if_match,
                )
        except KeyboardInterrupt as exc:
            why = str(exc) or "SIGINT"
            raise Interrupted(
                f"interrupted ({why}): the upload was aborted, nothing was written"
            ) from None
    if out.json:
        out.result_json(result.as_dict())
    else:
        rate = result.bytes / max(result.seconds, 1e-9) / 1e6
        out.result(
            f"{result.url}  {result.bytes} bytes in {result.parts} part(s), "
            f"{result.seconds:.1f} s, {rate:.1f} MB/s, {_proof(result)}"
        )
    return ExitCode.OK


def _proof(result: UploadResult) -> str:
    """The summary line's claim: exactly the check that ran, nothing more."""
    if result.verified == "size-only":
        return "size checked only (no checksum on the server: try --verify read-back)"
    return f"verified {result.verified} {result.proof}"


def _run_manifest(
    manifest: Path,
    prefix: str | None,
    results: Path | None,
    resume: bool,
    jobs: int,
    max_memory: int | None,
    options: dict[str, Any],
    aws: AwsOptions,
    out: Output,
) -> int:
    """`--manifest`: every item streamed, one result line each, exit 1 if any failed."""
    from devkit.s3stream import batch
    from devkit.s3stream.api import destination_prefix, make_s3_client
    from devkit.s3stream.manifest import read_manifest

    if resume and results is None:
        raise click.UsageError("--resume needs --results FILE (what the last run did)")
    items = read_manifest(manifest, destination_prefix(prefix))
    first = next(items)  # a file that is not a manifest fails here, before any upload
    # The client first: what it costs is part of what the jobs share.
    client = make_s3_client(aws, jobs * 2)
    batch.warm_up(client, first.dest)
    _frozen()
    share = batch.share_budget(max_memory, jobs, options.get("part_size"))
    done_before = batch.load_done(results) if resume and results else {}
    with _results_writer(results, out) as write, _terminate_as_interrupt():

        def record(document: dict[str, Any]) -> None:
            write(document)
            if document.get("status") == "failed":  # said as it happens, too
                line, error = f"line {document['line']}", str(document["error"])
                out.warn(error if error.startswith(line + ":") else f"{line}: {error}")

        with _items_progress(out) as show:
            progress = batch.run_batch(
                _chain(first, items),
                record,
                client=client,
                share=share,
                stream_options={k: v for k, v in options.items() if v is not None},
                done_before=done_before,
                on_progress=show,
            )
    _summary(progress, results, out)
    return ExitCode.OK if progress.ok else ExitCode.FAILURE


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


@contextmanager
def _results_writer(
    path: Path | None, out: Output
) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Append each record as one JSON line, flushed: a killed run keeps its record."""
    if path is None:
        yield out.result_json_line
        return
    try:
        handle = path.open("a", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the results file {path}: {exc.strerror or exc}"
        ) from None

    def write(document: dict[str, Any]) -> None:
        handle.write(json.dumps(document, separators=(",", ":")) + "\n")
        handle.flush()

    with handle:
        yield write


@contextmanager
def _items_progress(out: Output) -> Iterator[Callable[[Progress], None]]:
    """One line on stderr: items done/failed/running and bytes (a terminal only)."""
    if out.quiet or out.json or not out.err.is_terminal:
        yield lambda p: None
        return
    from rich.progress import Progress as Bar
    from rich.progress import SpinnerColumn, TextColumn

    with Bar(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        console=out.err,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)

        def show(p: Progress) -> None:
            bar.update(task, description=_counts(p))

        yield show


def _counts(p: Progress) -> str:
    skipped = f", {p.skipped} skipped" if p.skipped else ""
    return (
        f"{p.done} done, {p.failed} failed, {p.running} running{skipped}, "
        f"{_mib(p.bytes)} read"
    )


def _summary(p: Progress, results: Path | None, out: Output) -> None:
    skipped = f", {p.skipped} skipped" if p.skipped else ""
    line = f"{p.done} done, {p.failed} failed{skipped}, {_mib(p.stored)} stored"
    if out.json and results is not None:
        out.result_json(
            {
                "done": p.done,
                "failed": p.failed,
                "skipped": p.skipped,
                "bytes": p.stored,
                "results": str(results),
            }
        )
    elif results is not None:
        out.result(f"{line}; results in {results}")
    else:  # stdout holds the records: the summary goes to stderr
        out.info(line)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"
