"""Which distribution provides an imported module.

Three sources, in order: the installed metadata of this environment (exact,
but only for what is installed), a built-in table of well-known names that
differ from their import name, then the project's `module-map`. The
normalised import name is always a candidate too. An import is satisfied when
any candidate is declared, so the answer does not depend on what happens to
be installed; the suggestion names the first candidate found.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import marshal
import os
import sys
from pathlib import Path

from devkit.fileio import atomic_write, make_private_dirs
from devkit.paths import cache_dir
from devkit.requirements import canonicalize_name

# import name (or dotted prefix) -> distribution(s). Only names that differ
# from their distribution after PEP 503 normalisation belong here.
KNOWN = {
    "yaml": ("PyYAML",), "PIL": ("Pillow",), "cv2": ("opencv-python",
    "opencv-python-headless", "opencv-contrib-python"), "sklearn": ("scikit-learn",),
    "skimage": ("scikit-image",), "bs4": ("beautifulsoup4",),
    "dateutil": ("python-dateutil",), "jwt": ("PyJWT",), "dns": ("dnspython",),
    "attr": ("attrs",), "Crypto": ("pycryptodome", "pycrypto"),
    "Cryptodome": ("pycryptodomex",), "OpenSSL": ("pyOpenSSL",),
    "serial": ("pyserial",), "usb": ("pyusb",), "git": ("GitPython",),
    "magic": ("python-magic",), "dotenv": ("python-dotenv",),
    "docx": ("python-docx",), "pptx": ("python-pptx",), "jose": ("python-jose",),
    "multipart": ("python-multipart",), "slugify": ("python-slugify",),
    "MySQLdb": ("mysqlclient",), "psycopg2": ("psycopg2", "psycopg2-binary"),
    "pkg_resources": ("setuptools",), "_pytest": ("pytest",),
    "xdist": ("pytest-xdist",), "grpc": ("grpcio",), "zmq": ("pyzmq",),
    "markdown": ("Markdown",), "mpl_toolkits": ("matplotlib",),
    "win32api": ("pywin32",), "win32con": ("pywin32",), "win32com": ("pywin32",),
    "pywintypes": ("pywin32",), "fitz": ("PyMuPDF",), "wx": ("wxPython",),
    "gi": ("PyGObject",), "cairo": ("pycairo",), "telegram": ("python-telegram-bot",),
    "discord": ("discord.py",), "socks": ("PySocks",),
    "websocket": ("websocket-client",), "kafka": ("kafka-python",),
    "ldap": ("python-ldap",), "memcache": ("python-memcached",),
    "nacl": ("PyNaCl",), "snappy": ("python-snappy",), "Bio": ("biopython",),
    "paho": ("paho-mqtt",), "faiss": ("faiss-cpu", "faiss-gpu"),
    "Levenshtein": ("Levenshtein", "python-Levenshtein"), "lzo": ("python-lzo",),
    "googleapiclient": ("google-api-python-client",),
    "google.protobuf": ("protobuf",), "google.auth": ("google-auth",),
    "google.oauth2": ("google-auth",), "google.api_core": ("google-api-core",),
    "google.rpc": ("googleapis-common-protos",),
    "google.type": ("googleapis-common-protos",),
    "google.genai": ("google-genai",), "google.generativeai": ("google-generativeai",),
    "ruamel.yaml": ("ruamel.yaml",), "mypy_extensions": ("mypy-extensions",),
    "sentry_sdk": ("sentry-sdk",), "github": ("PyGithub",),
    "jenkins": ("python-jenkins",),
    "flask_cors": ("Flask-Cors",), "antlr4": ("antlr4-python3-runtime",),
    "OpenGL": ("PyOpenGL",), "Xlib": ("python-xlib",),
}  # fmt: skip

# Namespace packages whose distributions are named after the dotted path:
# google.cloud.storage -> google-cloud-storage, azure.identity -> azure-identity.
NAMESPACES = frozenset(
    {"google", "azure", "backports", "zope", "jaraco", "sphinxcontrib", "ruamel"}
)


def candidates(dotted: str, module_map: dict[str, tuple[str, ...]]) -> list[str]:
    """Distributions that could provide `dotted`, most trusted first, no metadata."""
    found = [*_longest_prefix(dotted, KNOWN), *_namespace_names(dotted)]
    found += _longest_prefix(dotted, module_map)
    found.append(dotted.partition(".")[0].replace("_", "-"))
    return _unique(found)


def installed_candidates(dotted: str) -> list[str]:
    """Distributions installed here that provide `dotted` (empty if none)."""
    top = dotted.partition(".")[0]
    if not _importable(top):
        return []  # not installed here: skip the costly metadata scan
    dists = tuple(installed_map().get(top, ()))
    if "." in dotted and (len(dists) > 1 or top in NAMESPACES):
        # A namespace shared by several distributions: keep those whose files
        # reach deepest into the dotted path.
        dists = _deepest_providers(dists, dotted)
    return list(dists)


def display_name(dotted: str, module_map: dict[str, tuple[str, ...]]) -> str:
    """The module name to show: the matched dotted prefix, or the top level."""
    for table in (module_map, KNOWN):
        prefix = _matching_prefix(dotted, table)
        if prefix:
            return prefix
    top, _, rest = dotted.partition(".")
    if top in NAMESPACES and rest:
        return ".".join(dotted.split(".")[:3])
    return top


def _longest_prefix(dotted: str, table: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    prefix = _matching_prefix(dotted, table)
    return table[prefix] if prefix else ()


def _matching_prefix(dotted: str, table: dict[str, tuple[str, ...]]) -> str | None:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in table:
            return prefix
    return None


def _namespace_names(dotted: str) -> list[str]:
    parts = dotted.split(".")
    if parts[0] not in NAMESPACES or len(parts) < 2:
        return []
    return ["-".join(parts[:i]) for i in range(min(len(parts), 3), 1, -1)]


def _importable(top: str) -> bool:
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


@functools.cache
def installed_map() -> dict[str, list[str]]:
    """Top-level module -> installed distributions (read or built once per run)."""
    # Reads every installed distribution's metadata (~0.2 s for 400 of them):
    # done only when cheaper candidates have not matched a declared
    # requirement (or while workers check a large run, when this process is
    # idle), and kept in the cache folder until the environment changes.
    path = cache_dir("hook") / f"env-{_environment_key()}.marshal"
    with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
        loaded = marshal.loads(path.read_bytes())
        if isinstance(loaded, dict):
            return loaded
    from importlib import metadata  # ~30 ms: only when the map is not cached

    found = {k: list(v) for k, v in metadata.packages_distributions().items()}
    with contextlib.suppress(OSError):
        make_private_dirs(path.parent)
        atomic_write(path, marshal.dumps(found), durable=False)
        _prune_environments(path)
    return found


def _environment_key() -> str:
    # An install or removal adds or deletes a *.dist-info folder, which changes
    # the mtime of the site-packages folder holding it. Other sys.path entries
    # (the script's folder, the project being checked) count by name only:
    # their mtimes change with every file created there.
    digest = hashlib.sha256(sys.version.encode())
    for entry in sys.path:
        stamp = -1
        if "-packages" in entry:
            with contextlib.suppress(OSError):
                stamp = os.stat(entry).st_mtime_ns
        digest.update(f"\0{entry}\0{stamp}".encode())
    return digest.hexdigest()[:24]


def _prune_environments(keep: Path, limit: int = 4) -> None:
    others = sorted(
        (p for p in keep.parent.glob("env-*.marshal") if p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in others[limit - 1 :]:
        with contextlib.suppress(OSError):
            old.unlink()


@functools.cache
def _deepest_providers(dists: tuple[str, ...], dotted: str) -> tuple[str, ...]:
    parts = dotted.split(".")
    depths = {dist: _depth_provided(dist, parts) for dist in dists}
    deepest = max(depths.values())
    if deepest <= 1:
        return ()  # they share the top level only: none provides this module
    return tuple(dist for dist in dists if depths[dist] == deepest)


def _depth_provided(dist: str, parts: list[str]) -> int:
    from importlib import metadata

    try:
        files = metadata.distribution(dist).files or []
    except metadata.PackageNotFoundError:
        return 0
    depth = 0
    for file in files:
        file_parts = file.parts
        n = 0
        while n < min(len(parts), len(file_parts)) and (
            file_parts[n] == parts[n] or file_parts[n] == parts[n] + ".py"
        ):
            n += 1
        depth = max(depth, n)
    return depth


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(canonicalize_name(name), name)
    return list(seen.values())
