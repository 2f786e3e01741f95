"""Build one Lambda zip: sources at the root, dependencies under lib/."""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.utils import canonicalize_name

from devkit.errors import BuildError, ConfigError, WriteError
from devkit.fileio import atomic_writer
from devkit.globs import matches_any
from devkit.lambda_package.files import (
    SourceFile,
    collect_sources,
    top_level_names,
)
from devkit.lambda_package.install import (
    InstallOptions,
    ensure_dependencies,
    load_entries,
)
from devkit.lambda_package.installers import installer_version
from devkit.lambda_package.marker import zip_comment
from devkit.lambda_package.pathsetup import PTH_LINE, PTH_NAME, required_environment
from devkit.lambda_package.project import (
    DependencySource,
    find_source,
    has_hashes,
    hashed_for_target,
    requirements_for,
)
from devkit.lambda_package.pyc import compile_files, target_python
from devkit.lambda_package.target import Target, resolve_target
from devkit.lambda_package.zipwriter import (
    ZipEntry,
    compress,
    dos_timestamp,
    write_zip,
)

UNZIPPED_LIMIT = 262_144_000  # "Unzipped size must be smaller than 262144000 bytes"
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # larger zips must go through S3


@dataclass(frozen=True)
class BuildOptions:
    """What the user asked for; paths are as given."""

    src: Path
    output: Path | None = None
    requirements: Path | None = None
    runtime: str | None = None
    arch: str | None = None
    excludes: Sequence[str] = ()
    install: InstallOptions = field(default_factory=InstallOptions)
    layer: bool = False  # dependencies in a layer zip beside the function's
    # boto3/botocore in lib/ on purpose (devkit's own stream function needs
    # newer ones than a runtime may have): no warning that they are bundled.
    pins_sdk: bool = False


@dataclass(frozen=True)
class LayerZip:
    """The layer zip: dependencies under python/lib/python3.X/site-packages/."""

    output: Path
    sha256: str
    code_sha256: str
    content_sha256: str
    zipped_size: int
    unzipped_size: int
    files: int


@dataclass(frozen=True)
class BuildResult:
    """The zip written, its hashes and sizes, and what the user should know."""

    output: Path
    target: Target
    sha256: str
    code_sha256: str  # base64 SHA-256, as Lambda reports CodeSha256
    content_sha256: str  # names, modes and CRCs only: independent of zlib's version
    zipped_size: int
    unzipped_size: int
    files: int
    cache_hit: bool | None  # None: no requirements
    dependency_source: str | None  # the file the dependencies came from
    environment: dict[str, str]
    warnings: list[str]
    largest: list[tuple[str, int]]
    layer: LayerZip | None = None


def build_package(
    opts: BuildOptions,
    environ: Mapping[str, str] = os.environ,
    on_status: Callable[[str], None] = lambda _msg: None,
) -> BuildResult:
    """Build the zip for opts; raise ConfigError/BuildError with one line on failure."""
    src = _check_source(opts.src)
    source = find_source(src, opts.requirements)
    installer_version(opts.install.installer)  # an unknown one fails first
    target = resolve_target(opts.runtime, opts.arch)
    output = _check_output(opts.output or Path.cwd() / f"{src.resolve().name}.zip")
    if opts.install.compile:
        target_python(target)  # fail before a long install, not after
    warnings: list[str] = []
    if (src / "lib").exists():
        warnings.append(
            f"{src / 'lib'} is left out: lib/ holds the installed requirements"
        )
    # Local wheel folders inside the source folder are inputs, not code.
    links = [Path(link) for link in opts.install.find_links if "://" not in link]
    sources = collect_sources(src, opts.excludes, skip=[output, *links])
    lib: list[ZipEntry] = []
    cache_hit = None
    if source is not None:
        cache_hit, lib = _dependencies(source, target, opts, on_status)
        warnings += _collisions(sources, lib)
        if not opts.pins_sdk:
            warnings += _bundled_sdk(lib)
    entries = _source_entries(sources, target, opts.install.compile)
    layer_entries: list[ZipEntry] = []
    if opts.layer:
        if not lib:
            raise ConfigError(
                f"--layer puts the dependencies in a layer, and {src} declares "
                "none: add requirements.txt, pyproject.toml or a lock file"
            )
        layer_entries = sorted(to_layer(lib, target), key=lambda e: e.arcname.encode())
    elif lib:
        entries += [*lib, compress(PTH_NAME, PTH_LINE.encode(), False)]
    entries.sort(key=lambda e: e.arcname.encode())
    _check_duplicates(entries)
    largest = _largest(entries + layer_entries, target)
    unzipped = sum(e.size for e in entries)
    total = unzipped + sum(e.size for e in layer_entries)
    if total >= UNZIPPED_LIMIT:
        what = "function and layer together" if layer_entries else "unzipped size"
        raise BuildError(
            f"{what}: {total:,} bytes unzipped passes Lambda's "
            f"{UNZIPPED_LIMIT:,}-byte limit; largest: {_fmt(largest)}"
        )
    stamp = dos_timestamp(environ)
    layer = None
    if layer_entries:
        layer_out = output.with_name(f"{output.stem}-layer.zip")
        layer = _write_layer(layer_out, layer_entries, stamp, zip_comment(target))
        warnings += _over_direct_limit(layer_out.name, layer.zipped_size, largest)
    _write_atomically(output, entries, stamp, zip_comment(target))
    digest = _sha256(output)
    zipped = output.stat().st_size
    warnings += _over_direct_limit("zip", zipped, largest)
    return BuildResult(
        output=output,
        target=target,
        sha256=digest.hex(),
        code_sha256=base64.b64encode(digest).decode(),
        content_sha256=_content_hash(entries),
        zipped_size=zipped,
        unzipped_size=unzipped,
        files=len(entries),
        cache_hit=cache_hit,
        dependency_source=source.path.name if source else None,
        environment=required_environment(),
        warnings=warnings,
        largest=largest,
        layer=layer,
    )


def to_layer(lib: Sequence[ZipEntry], target: Target) -> list[ZipEntry]:
    """lib/ members renamed to where the runtime looks in a layer."""
    prefix = target.site_packages.removeprefix("/opt/") + "/"
    return [replace(e, arcname=prefix + e.arcname.removeprefix("lib/")) for e in lib]


def _write_layer(
    output: Path, entries: list[ZipEntry], stamp: tuple[int, int], comment: bytes
) -> LayerZip:
    _write_atomically(output, entries, stamp, comment)
    digest = _sha256(output)
    return LayerZip(
        output=output,
        sha256=digest.hex(),
        code_sha256=base64.b64encode(digest).decode(),
        content_sha256=_content_hash(entries),
        zipped_size=output.stat().st_size,
        unzipped_size=sum(e.size for e in entries),
        files=len(entries),
    )


def _over_direct_limit(
    name: str, zipped: int, largest: Sequence[tuple[str, int]]
) -> list[str]:
    if zipped <= DIRECT_UPLOAD_LIMIT:
        return []
    return [
        f"{name} is {zipped / 1e6:.1f} MB, over the 50 MB direct upload "
        f"limit: deploy with --s3-bucket; largest: {_fmt(largest)}"
    ]


def _check_source(src: Path) -> Path:
    if not src.is_dir():
        raise ConfigError(f"source folder {src} not found: pass the function's folder")
    return src


def _dependencies(
    source: DependencySource,
    target: Target,
    opts: BuildOptions,
    on_status: Callable[[str], None],
) -> tuple[bool, list[ZipEntry]]:
    with tempfile.TemporaryDirectory(prefix="devkit-deps-") as tmp:
        requirements = requirements_for(source, target, Path(tmp))
        on_status(source.describe())  # once it could be read
        locked = source.locked
        if not locked and opts.install.installer == "pip" and has_hashes(requirements):
            # uv's resolution for pip would drop the hashes: install the
            # (complete, as pip's hash mode demands) file for the target.
            requirements = hashed_for_target(requirements, target, Path(tmp))
            locked = True
        deps = ensure_dependencies(
            requirements, target, opts.install, on_status, locked=locked
        )
    lib = [
        e for e in load_entries(deps) if not _user_excluded(e.arcname, opts.excludes)
    ]
    return deps.cache_hit, lib


def _check_output(output: Path) -> Path:
    output = output.absolute()
    if output.is_dir():
        raise ConfigError(f"output {output} is a folder: pass -o with a .zip file name")
    if not output.parent.exists():
        raise ConfigError(
            f"cannot write {output}: folder {output.parent} does not exist"
        )
    if not output.parent.is_dir():
        raise ConfigError(f"cannot write {output}: {output.parent} is not a folder")
    if not os.access(output.parent, os.W_OK):
        raise ConfigError(
            f"cannot write {output}: folder {output.parent} is not writable"
        )
    return output


def _user_excluded(arcname: str, patterns: Sequence[str]) -> bool:
    # A pattern matches the entry as in the zip or as inside lib/, as for
    # sources; one naming a distribution (boto3) drops its boto3-1.x.dist-info
    # too, so nothing claims a package that is not there.
    parts = arcname.split("/")
    paths = [arcname, "/".join(parts[1:])]
    if len(parts) > 2 and parts[1].endswith((".dist-info", ".data")):
        dist = parts[1].split("-")[0]
        paths += [dist, canonicalize_name(dist)]
    return any(matches_any(path, patterns) for path in paths if path)


# The runtime's own SDK: bundling it pins a version, a choice users should see.
RUNTIME_SDK = ("boto3", "botocore")


def _bundled_sdk(lib: Sequence[ZipEntry]) -> list[str]:
    tops = {e.arcname.split("/")[1] for e in lib if e.arcname.count("/") >= 2}
    bundled = [name for name in RUNTIME_SDK if name in tops]
    if not bundled:
        return []
    names = " and ".join(bundled)
    flags = " ".join(f"--exclude {name}" for name in bundled)
    return [
        f"{names} bundled in lib/: the runtime has its own copy, and lib/ wins, "
        f"so this zip pins your version; pass {flags} to use the runtime's"
    ]


def _collisions(sources: Sequence[SourceFile], lib: Sequence[ZipEntry]) -> list[str]:
    ours = top_level_names(sources)
    theirs = top_level_names(
        [SourceFile(e.arcname, Path(), False) for e in lib], prefix="lib/"
    )
    return [
        f"source module {name!r} has the same name as a package in lib/; "
        "the source copy wins on Lambda"
        for name in sorted(ours & theirs)
    ]


def _source_entries(
    sources: list[SourceFile], target: Target, compile_pyc: bool
) -> list[ZipEntry]:
    with tempfile.TemporaryDirectory(prefix="devkit-pyc-") as tmp:
        files = sources + (
            compile_files(sources, target, Path(tmp)) if compile_pyc else []
        )
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            return list(
                pool.map(
                    lambda f: compress(f.arcname, f.path.read_bytes(), f.executable),
                    files,
                )
            )


def _check_duplicates(entries: Sequence[ZipEntry]) -> None:
    counts = Counter(e.arcname for e in entries)
    dupes = [name for name, n in counts.items() if n > 1]
    if dupes:
        raise BuildError(f"{dupes[0]} would be in the zip twice: rename or exclude it")


def _largest(
    entries: Sequence[ZipEntry], target: Target, top: int = 5
) -> list[tuple[str, int]]:
    # A package in lib/ or in the layer counts as one contributor.
    layer = target.site_packages.removeprefix("/opt/") + "/"
    sizes: Counter[str] = Counter()
    for e in entries:
        parts = e.arcname.split("/")
        if e.arcname.startswith(layer):
            key = "layer " + e.arcname.removeprefix(layer).split("/")[0]
        elif parts[0] == "lib" and len(parts) > 2:
            key = "/".join(parts[:2])
        else:
            key = parts[0]
        sizes[key] += e.size
    return sizes.most_common(top)


def _fmt(largest: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in largest)


def _write_atomically(
    output: Path, entries: Sequence[ZipEntry], stamp: tuple[int, int], comment: bytes
) -> None:
    try:
        with atomic_writer(output) as fh:
            write_zip(fh, entries, stamp, comment)
    except OSError as exc:
        raise WriteError(f"cannot write {output}: {exc.strerror or exc}") from exc


def _sha256(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def _content_hash(entries: Sequence[ZipEntry]) -> str:
    h = hashlib.sha256()
    for e in entries:
        h.update(f"{e.arcname}\0{e.mode:o}\0{e.size}\0{e.crc:08x}\n".encode())
    return h.hexdigest()
