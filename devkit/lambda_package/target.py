"""The Lambda runtime a package is built for: Python version, ABI, glibc, arch."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from packaging import tags

from devkit.errors import ConfigError

# Runtime -> (Amazon Linux generation, glibc ceiling). AL2023 runtimes ship glibc
# 2.34, AL2 runtimes 2.26 (Lambda's python docs; aws-lambda-builders' packager).
RUNTIMES: dict[str, tuple[str, tuple[int, int]]] = {
    "python3.9": ("al2", (2, 26)),
    "python3.10": ("al2", (2, 26)),
    "python3.11": ("al2", (2, 26)),
    "python3.12": ("al2023", (2, 34)),
    "python3.13": ("al2023", (2, 34)),
    "python3.14": ("al2023", (2, 34)),
}
DEFAULT_RUNTIME = "python3.14"  # the newest Python runtime Lambda offers

# Lambda's architecture names -> the machine names used in wheel tags.
ARCHES = {"x86_64": "x86_64", "arm64": "aarch64"}
DEFAULT_ARCH = "x86_64"

# The legacy manylinux names are aliases of these glibc versions (PEP 600).
LEGACY_MANYLINUX = {
    "manylinux1": (2, 5),
    "manylinux2010": (2, 12),
    "manylinux2014": (2, 17),
}
OLDEST_MANYLINUX = (2, 17)  # manylinux2014: no older glibc wheels for aarch64


@dataclass(frozen=True)
class Target:
    """Everything the installer and the checks need to know about the runtime."""

    runtime: str
    arch: str  # Lambda's name: x86_64 | arm64
    python: tuple[int, int]
    glibc: tuple[int, int]

    @property
    def machine(self) -> str:
        """The wheel-tag machine name: x86_64 or aarch64."""
        return ARCHES[self.arch]

    @property
    def python_version(self) -> str:
        """`3.12`."""
        return f"{self.python[0]}.{self.python[1]}"

    @property
    def abi(self) -> str:
        """`cp312`."""
        return f"cp{self.python[0]}{self.python[1]}"

    @property
    def site_packages(self) -> str:
        """The layer path the runtime adds: /opt/python/lib/python3.X/site-packages."""
        return f"/opt/python/lib/python{self.python_version}/site-packages"

    def platform_tags(self) -> list[str]:
        """Every manylinux tag the runtime's glibc supports, newest first."""
        major, ceiling = self.glibc
        tags = [
            f"manylinux_{major}_{minor}_{self.machine}"
            for minor in range(ceiling, OLDEST_MANYLINUX[1] - 1, -1)
        ]
        tags.append(f"manylinux2014_{self.machine}")
        if self.machine == "x86_64":
            # Older aliases still name x86_64 wheels of long-lived releases.
            for minor in range(OLDEST_MANYLINUX[1] - 1, 4, -1):
                tags.append(f"manylinux_2_{minor}_x86_64")
            tags += ["manylinux2010_x86_64", "manylinux1_x86_64"]
        return tags

    @cached_property
    def tag_rank(self) -> dict[tags.Tag, int]:
        """Every wheel tag the runtime can load, best first, as packaging.tags
        computes them.

        The same rules pip and uv apply: cpXY/abi3/none on the manylinux
        ladder, then pure `py3`/`py3X` wheels; nothing for `linux_*` or
        other systems.
        """
        platforms = self.platform_tags()
        ordered = [
            *tags.cpython_tags(self.python, [self.abi], platforms),
            *tags.compatible_tags(self.python, self.abi, platforms),
        ]
        rank: dict[tags.Tag, int] = {}
        for tag in ordered:
            rank.setdefault(tag, len(rank))
        return rank

    def describe(self) -> str:
        """`python3.12 x86_64 (glibc <= 2.34)`."""
        return f"{self.runtime} {self.arch} (glibc <= {self.glibc[0]}.{self.glibc[1]})"


def resolve_target(runtime: str | None, arch: str | None) -> Target:
    """Turn --runtime/--arch into a Target; unknown names are a ConfigError."""
    runtime = runtime or DEFAULT_RUNTIME
    arch = arch or DEFAULT_ARCH
    if runtime not in RUNTIMES:
        known = ", ".join(RUNTIMES)
        raise ConfigError(f"unknown runtime {runtime!r}: use one of {known}")
    if arch not in ARCHES:
        raise ConfigError(f"unknown architecture {arch!r}: use x86_64 or arm64")
    version = runtime.removeprefix("python")
    major, minor = (int(part) for part in version.split("."))
    return Target(runtime, arch, (major, minor), RUNTIMES[runtime][1])
