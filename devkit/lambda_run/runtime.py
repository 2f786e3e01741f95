"""The runtime folder (awslambdaric, bootstrap, boto3 stand-in) and its Python.

One folder per (Python version, machine) under devkit's cache, laid out like
the image: `runtime/` stands for /var/runtime (awslambdaric and the
bootstrap), `lang-site-packages/` for /var/lang's site-packages (the boto3
stand-in, or with --aws-credentials a real boto3). It is built in a
temporary folder beside it and renamed into place, so an interrupted install
never leaves half an entry.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from devkit import paths
from devkit.errors import BuildError, ConfigError
from devkit.lambda_package.target import Target
from devkit.lambda_run import standin

# Pinned so a run is repeatable; bump with the runtime images.
AWSLAMBDARIC = "awslambdaric==4.2.2"
LAYOUT = 1  # bump when the entry's layout changes


@dataclass(frozen=True)
class Interpreter:
    """A Python that runs the function: its path, version and machine."""

    path: str
    version: str  # "3.11"
    machine: str  # "x86_64" | "aarch64"


def run_cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """lambda-run's folder under devkit's cache (devkit.paths.cache_dir)."""
    return paths.cache_dir("lambda-run", environ)


def probe(exe: str) -> Interpreter | None:
    """Ask an interpreter its version and machine; None when it does not run."""
    # sys.executable, not exe: a pyenv shim would add its own start-up to
    # every init duration.
    code = "import platform, sys; print('%d.%d' % sys.version_info[:2])"
    code += "; print(platform.machine()); print(sys.executable)"
    try:
        proc = subprocess.run(
            [exe, "-S", "-c", code], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    parts = proc.stdout.splitlines()
    if proc.returncode != 0 or len(parts) != 3:
        return None  # e.g. a pyenv shim for a version that is not selected
    return Interpreter(parts[2] or exe, parts[0], _machine(parts[1]))


def candidates(version: str, environ: Mapping[str, str] = os.environ) -> list[str]:
    """`pythonX.Y` on PATH, then pyenv's and uv's installed Pythons."""
    found = [shutil.which(f"python{version}", path=environ.get("PATH"))]
    home = environ.get("HOME", os.path.expanduser("~"))
    pyenv = environ.get("PYENV_ROOT") or os.path.join(home, ".pyenv")
    found += sorted(glob.glob(f"{pyenv}/versions/{version}.*/bin/python{version}"))
    data = environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    uv_dir = environ.get("UV_PYTHON_INSTALL_DIR") or os.path.join(data, "uv", "python")
    found += sorted(glob.glob(f"{uv_dir}/cpython-{version}.*/bin/python{version}"))
    return [exe for exe in found if exe]


def find_python(
    version: str, environ: Mapping[str, str] = os.environ
) -> Interpreter | None:
    """The first working `pythonX.Y` among the candidates."""
    for exe in candidates(version, environ):
        found = probe(exe)
        if found and found.version == version:
            return found
    return None


def select_python(
    target: Target, python: str | None, environ: Mapping[str, str] = os.environ
) -> Interpreter:
    """--python if given, else the first working python3.X; refuse a mismatch."""
    if sys.platform != "linux":
        raise ConfigError("lambda-run runs Lambda's Linux runtime: run it on Linux")
    host = _machine(platform.machine())
    if target.machine != host:
        raise ConfigError(
            f"the zip targets {target.arch} and this machine is {host}: "
            f"run it on an {target.arch} host (no emulation here)"
        )
    if python is not None:
        found = probe(python)
        if found is None:
            raise ConfigError(f"--python {python} does not run: pass a working Python")
        if found.version != target.python_version:
            raise ConfigError(
                f"--python {python} is Python {found.version}, the zip targets "
                f"{target.runtime}: pass a python{target.python_version} "
                "(compiled modules and markers differ between versions)"
            )
        return found
    found = find_python(target.python_version, environ)
    if found is not None:
        return found
    raise ConfigError(
        f"no python{target.python_version} found (PATH, pyenv, uv's Pythons) "
        "to run the zip: install it (`uv python install "
        f"{target.python_version}`) or pass --python"
    )


def _machine(name: str) -> str:
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(name.lower(), name)


def bootstrap_source() -> str:
    """The bootstrap the runtime folder runs (see bootstrap.py)."""
    return resources.files("devkit.lambda_run").joinpath("bootstrap.py").read_text()


def runtime_boto3() -> str:
    """The requirement for a real runtime boto3: the version devkit itself runs
    (pure Python, any 3.x), so a run is repeatable and uv's cache serves it."""
    from importlib.metadata import version

    return f"boto3=={version('boto3')}"


def entry_key(python: Interpreter, real_boto3: bool = False) -> str:
    """Hash of everything that decides the runtime folder's content."""
    parts = {
        "python": python.version,
        "machine": python.machine,
        "awslambdaric": AWSLAMBDARIC,
        "bootstrap": hashlib.sha256(bootstrap_source().encode()).hexdigest(),
        "standin": runtime_boto3() if real_boto3 else standin.FILES,
        "layout": LAYOUT,
    }
    blob = json.dumps(parts, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def ensure_runtime(
    python: Interpreter,
    cache_dir: Path,
    on_status: Callable[[str], None] = lambda _msg: None,
    real_boto3: bool = False,
) -> Path:
    """The cached runtime entry for this Python, installing awslambdaric on a miss.

    /var/lang's boto3 is the stand-in, or with `real_boto3` a real boto3
    (runtime_boto3), installed from the package index once like awslambdaric.
    """
    key = entry_key(python, real_boto3)
    entry = cache_dir / f"python{python.version}-{python.machine}-{key}"
    if (entry / "runtime" / "bootstrap.py").is_file():
        return entry
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create cache folder {cache_dir}: {exc.strerror}"
        ) from exc
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_dir))
    try:
        on_status(f"installing {AWSLAMBDARIC} for Python {python.version} (once)")
        _install(python, work / "runtime", AWSLAMBDARIC)
        (work / "runtime" / "bootstrap.py").write_text(bootstrap_source())
        if real_boto3:
            on_status(f"installing {runtime_boto3()} as the runtime's (once)")
            _install(python, work / "lang-site-packages", runtime_boto3())
        else:
            for rel, text in standin.FILES.items():
                path = work / "lang-site-packages" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        try:
            os.rename(work, entry)
        except OSError:
            if not (entry / "runtime" / "bootstrap.py").is_file():
                raise
            # Another run filled the same entry first; both are identical.
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return entry


def _install(python: Interpreter, dest: Path, requirement: str) -> None:
    import uv  # a dependency of devkit: the PyPI package ships the binary

    cmd = [
        uv.find_uv_bin(),
        "pip",
        "install",
        "--target",
        str(dest),
        "--python",
        python.path,
        "--only-binary",
        ":all:",
        "--no-progress",
        "--quiet",
        requirement,
    ]
    env = {**os.environ, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        # uv's first lines: the error, then its cause (e.g. "Because the
        # current Python version (3.9.18) does not satisfy Python>=3.10 ...").
        cause = " ".join(ln.strip(" ╰▶") for ln in lines[:2]) or "no output"
        raise BuildError(
            f"installing {requirement} from the package index failed ({cause}): "
            "check the network or the index settings (UV_INDEX_URL)"
        )
