"""Step Functions definitions (`*.asl.json`) through `devkit sfn check`'s rules.

The same code path as `devkit sfn check` (parse_definition, check_definition),
run as STANDARD; a diagnostic's location, a path into the definition, becomes
the line and column of that field in the staged text.
"""

from __future__ import annotations

import json
import re

from devkit.globs import matcher
from devkit.hook.findings import Finding

CHECK = "asl"
NOT_JSON = "INVALID_JSON"
NOT_MACHINE = "SCHEMA_VALIDATION_FAILED"

_NOT_JSON = re.compile(r"^.*?:(\d+):(\d+): not valid JSON: (.*)$", re.DOTALL)


def is_asl(path: str, globs: tuple[str, ...]) -> bool:
    """Whether `path` is one of the definitions the config names."""
    return matcher(globs)(path)


def check(path: str, source: bytes) -> list[Finding]:
    """`devkit sfn check`'s findings for one definition, as hook findings."""
    from devkit.sfn.asl import AslError, parse_definition
    from devkit.sfn.check import ERROR, check_definition

    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [
            Finding(path, 1, 1, f"{NOT_JSON} not UTF-8: {exc.reason}", CHECK, NOT_JSON)
        ]
    try:
        doc = parse_definition(text, path)
    except AslError as exc:
        match = _NOT_JSON.match(str(exc))
        if match:  # parse_definition named the line and column
            line, col, why = int(match[1]), int(match[2]), match[3]
            return [
                Finding(
                    path,
                    line,
                    col,
                    f"{NOT_JSON} not valid JSON: {why}",
                    CHECK,
                    NOT_JSON,
                )
            ]
        why = str(exc).removeprefix(f"{path}: ")
        return [Finding(path, 1, 1, f"{NOT_MACHINE} {why}", CHECK, NOT_MACHINE)]
    where = _Positions(text)
    return [
        Finding(
            path,
            *where.of(d.location),
            f"{d.code} {d.message}" + ("" if d.severity == ERROR else " (warning)"),
            CHECK,
            d.code,
            d.severity != ERROR,
        )
        for d in check_definition(doc, path)
    ]


_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class _Positions:
    """Line and column of each member and element of a JSON text, by path."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offsets: dict[tuple[str, ...], int] = {}
        self._value(0, ())

    def of(self, location: str) -> tuple[int, int]:
        """(line, col) of the deepest part of `location` ("/States/A/Next") found.

        A field that is missing (a state with no Next) points at its parent.
        """
        parts = tuple(location.split("/")[1:]) if location else ()
        while parts not in self.offsets:
            parts = parts[:-1]
        offset = self.offsets[parts]
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - self.text.rfind("\n", 0, offset)

    def _skip(self, at: int) -> int:
        end = _SPACE.match(self.text, at)
        return end.end() if end else at

    def _value(self, at: int, path: tuple[str, ...]) -> int:
        # Only called on text json.loads accepted, so no error handling.
        text = self.text
        at = self._skip(at)
        self.offsets.setdefault(path, at)
        if text[at] == "{":
            at = self._skip(at + 1)
            if text[at] == "}":
                return at + 1
            while True:
                start = at
                key, at = _DECODER.raw_decode(text, at)
                self.offsets[(*path, key)] = start  # a member: its key
                at = self._skip(self._skip(at) + 1)  # past the ':'
                at = self._skip(self._value(at, (*path, key)))
                if text[at] == "}":
                    return at + 1
                at = self._skip(at + 1)  # past the ','
        if text[at] == "[":
            at = self._skip(at + 1)
            if text[at] == "]":
                return at + 1
            index = 0
            while True:
                at = self._skip(self._value(at, (*path, str(index))))
                if text[at] == "]":
                    return at + 1
                at, index = at + 1, index + 1
        return int(_DECODER.raw_decode(text, at)[1])
