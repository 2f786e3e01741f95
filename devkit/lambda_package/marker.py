"""The zip comment that records which runtime a zip was built for.

`devkit lambda-run` reads it to pick the interpreter and refuse a host that
cannot run the zip. A comment, not a file: Lambda ignores it, it adds nothing
to the unpacked function, and `content_sha256` (names, modes, CRCs) is unchanged.
"""

from __future__ import annotations

import re

from devkit.lambda_package.target import ARCHES, RUNTIMES, Target, resolve_target

PREFIX = "devkit lambda-package"
_COMMENT = re.compile(rf"^{PREFIX} target=(python3\.\d+) arch=(\w+)$")


def zip_comment(target: Target) -> bytes:
    """`devkit lambda-package target=python3.12 arch=x86_64`."""
    return f"{PREFIX} target={target.runtime} arch={target.arch}".encode()


def read_comment(comment: bytes) -> Target | None:
    """The target a zip comment names, or None when it is not ours."""
    match = _COMMENT.match(comment.decode(errors="replace").strip())
    if not match or match[1] not in RUNTIMES or match[2] not in ARCHES:
        return None
    return resolve_target(match[1], match[2])
