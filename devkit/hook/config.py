"""`[tool.devkit.hook]` in pyproject.toml: the per-project settings of the hook."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

from devkit.errors import ConfigError
from devkit.globs import matcher, matches

CHECKS = ("requirements", "pyflakes", "debugger", "asl")

# Step Functions definitions checked with `devkit sfn check`'s rules.
DEFAULT_ASL = ("*.asl.json",)

# gettext's `_` is installed as a builtin by `gettext.install()`; flagging it
# in every translated module buries the real findings.
DEFAULT_BUILTINS = ("_",)


@dataclass(frozen=True)
class HookConfig:
    """Settings read from `[tool.devkit.hook]`; every field has a safe default."""

    builtins: tuple[str, ...] = DEFAULT_BUILTINS
    requirement_files: tuple[str, ...] = ()
    module_map: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ignore_modules: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    allow_debugger: dict[str, tuple[str, ...]] = field(default_factory=dict)
    asl: tuple[str, ...] = DEFAULT_ASL
    asl_strict: bool = False

    def runs(self, check: str) -> bool:
        """Whether `check` is enabled."""
        return check not in self.skip

    def excluded(self, path: str) -> bool:
        """Whether `path` matches an `exclude` pattern or sits under a listed folder."""
        return matcher(self.exclude)(path)

    def asl_globs(self) -> tuple[str, ...]:
        """The ASL patterns in force (none when the check is skipped)."""
        return self.asl if self.runs("asl") else ()

    def debugger_allowed(self, path: str) -> frozenset[str]:
        """Debugger modules/calls allowed in `path` ("*" allows every one)."""
        allowed: set[str] = set()
        for pattern, names in self.allow_debugger.items():
            if matches(path, pattern):
                allowed.update(names)
        return frozenset(allowed)


def parse_pyproject(text: bytes | None, where: str = "pyproject.toml") -> HookConfig:
    """Read `[tool.devkit.hook]` from pyproject.toml content (None: defaults)."""
    if text is None:
        return HookConfig()
    try:
        document = tomllib.loads(text.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where} is not valid TOML ({exc}); fix it") from exc
    table = document.get("tool", {}).get("devkit", {}).get("hook", {})
    return config_from_table(table, where)


def config_from_table(table: dict[str, Any], where: str) -> HookConfig:
    """Validate a `[tool.devkit.hook]` table and build the config."""
    known = {
        "builtins", "requirement-files", "module-map", "ignore-modules",
        "skip", "exclude", "allow-debugger", "asl", "asl-strict",
    }  # fmt: skip
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} in [tool.devkit.hook]; "
            f"expected one of {', '.join(sorted(known))}"
        )
    skip = _strings(table, "skip", where)
    bad = [name for name in skip if name not in CHECKS]
    if bad:
        raise ConfigError(
            f"{where}: skip = {bad[0]!r} is not a check; use {', '.join(CHECKS)}"
        )
    return HookConfig(
        builtins=DEFAULT_BUILTINS + _strings(table, "builtins", where),
        requirement_files=_strings(table, "requirement-files", where),
        module_map=_string_lists(table, "module-map", where),
        ignore_modules=_strings(table, "ignore-modules", where),
        skip=skip,
        exclude=_strings(table, "exclude", where),
        allow_debugger=_string_lists(table, "allow-debugger", where),
        asl=_strings(table, "asl", where) if "asl" in table else DEFAULT_ASL,
        asl_strict=_bool(table, "asl-strict", where),
    )


def _bool(table: dict[str, Any], key: str, where: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: [tool.devkit.hook] {key} must be true or false")
    return value


def _strings(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{where}: [tool.devkit.hook] {key} must be a list of strings"
        )
    return tuple(value)


def _string_lists(
    table: dict[str, Any], key: str, where: str
) -> dict[str, tuple[str, ...]]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [tool.devkit.hook] {key} must be a table")
    result = {}
    for name, item in value.items():
        items = [item] if isinstance(item, str) else item
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise ConfigError(
                f"{where}: [tool.devkit.hook] {key}.{name} must be a string "
                "or a list of strings"
            )
        result[name] = tuple(items)
    return result
