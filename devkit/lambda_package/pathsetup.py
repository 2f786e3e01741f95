"""How the function finds lib/ on Lambda, without losing its layers.

The Python runtime's bootstrap (/var/runtime/bootstrap.py) runs as a script,
so sys.path starts with /var/runtime and then the PYTHONPATH entries. It then
adds the layer paths and /var/lang/.../site-packages only if PYTHONPATH is
unset, inserts /var/task at index 0, and calls site.addsitedir('/var/task'),
which runs the `import` lines of every .pth file at the zip's root.

So no PYTHONPATH value can put lib/ ahead of /var/runtime, and any value
drops the layers. Instead the zip carries a .pth file that inserts
/var/task/lib right after /var/task: lib/ wins over /var/runtime and the
runtime's boto3, layers stay on the path, and PYTHONPATH stays unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from devkit.lambda_package.target import Target

PTH_NAME = "_devkit_lib.pth"
PTH_LINE = (
    'import os, sys; r = os.environ.get("LAMBDA_TASK_ROOT", "/var/task"); '
    'p = os.path.join(r, "lib"); '
    "p in sys.path or "
    "sys.path.insert(sys.path.index(r) + 1 if r in sys.path else 0, p)\n"
)
# What the old recipe and its variants put in PYTHONPATH: the .pth and the
# runtime's defaults cover all of them.
REDUNDANT = {"/var/runtime", "/var/task", "/var/task/lib", "/opt/python"}


@dataclass(frozen=True)
class EnvChange:
    """The function's environment after merging, and what changed."""

    variables: dict[str, str]
    changed: bool
    note: str | None  # a warning for the user, if any


def required_environment() -> dict[str, str]:
    """Variables the function needs: none; PYTHONPATH must stay unset."""
    return {}


def merge_environment(current: Mapping[str, str], target: Target) -> EnvChange:
    """Keep every variable; fix a PYTHONPATH that would hide layers or lib/."""
    variables = dict(current)
    if "PYTHONPATH" not in variables:
        return EnvChange(variables, False, None)
    entries = [e for e in variables["PYTHONPATH"].split(":") if e]
    layer_paths = [target.site_packages, "/opt/python"]
    own = [
        e
        for e in entries
        if e not in REDUNDANT
        and e not in layer_paths
        and not e.startswith("/var/lang/lib/")
    ]
    if not own:
        del variables["PYTHONPATH"]
        return EnvChange(
            variables,
            True,
            "removed PYTHONPATH: it hid the function's "
            "layers; lib/ is on sys.path through " + PTH_NAME,
        )
    merged = own + [p for p in layer_paths if p not in own]
    variables["PYTHONPATH"] = ":".join(merged)
    return EnvChange(
        variables,
        variables["PYTHONPATH"] != current["PYTHONPATH"],
        "PYTHONPATH is set, so the runtime adds no layer paths (added them "
        "explicitly) and /var/runtime precedes its entries",
    )
