"""JSONPath I/O as Step Functions does it: paths, ResultPath, templates, intrinsics.

Only the reference paths AWS allows (`$.a.b`, `$['a']`, `$.list[0]`, `$$.State`)
plus filters Step Functions users rarely need are left out; a path that uses
them fails with States.Runtime naming the path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any


def clone(value: Any) -> Any:
    """A deep copy of a JSON value, several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


class PathError(Exception):
    """A path that cannot be applied: the simulator turns it into States.Runtime."""


class IntrinsicError(Exception):
    """An intrinsic function failed: States.IntrinsicFailure."""


_TOKEN = re.compile(r"\.([A-Za-z0-9_\-$@ ]+)|\['([^']*)'\]|\[(\d+)\]|\[\*\]|\.\*")


def parse_path(path: str) -> tuple[str, list[str | int]]:
    """('$' or '$$' or '$name', steps) for a reference path."""
    m = re.match(r"^(\$\$|\$[A-Za-z_][A-Za-z0-9_]*|\$)", path)
    if not m:
        raise PathError(f"{path!r} is not a path")
    root, rest, steps = m.group(1), path[m.end() :], []
    pos = 0
    while pos < len(rest):
        t = _TOKEN.match(rest, pos)
        if not t:
            raise PathError(f"{path!r}: cannot read {rest[pos:]!r}")
        if t.group(1) is not None:
            steps.append(t.group(1))
        elif t.group(2) is not None:
            steps.append(t.group(2))
        elif t.group(3) is not None:
            steps.append(int(t.group(3)))
        else:
            raise PathError(f"{path!r}: wildcards are not supported by the simulator")
        pos = t.end()
    return root, steps


class Scope:
    """What a path can read: the state's data, the context object, variables."""

    def __init__(
        self,
        data: Any,
        context: Mapping[str, Any],
        variables: Mapping[str, Any],
        rng: random.Random,
    ) -> None:
        self.data = data
        self.context = context
        self.variables = variables
        self.rng = rng

    def get(self, path: str) -> Any:
        """The value at a path; a missing field is a States.Runtime error, as in AWS."""
        root, steps = parse_path(path)
        if root == "$":
            value = self.data
        elif root == "$$":
            value = self.context
        else:
            name = root[1:]
            if name not in self.variables:
                raise PathError(f"variable ${name} is not defined")
            value = self.variables[name]
        for step in steps:
            if isinstance(step, int) and isinstance(value, list) and step < len(value):
                value = value[step]
            elif isinstance(step, str) and isinstance(value, dict) and step in value:
                value = value[step]
            else:
                raise PathError(
                    f"The JSONPath '{path}' could not be found in the input "
                    f"'{json.dumps(self.data, separators=(',', ':'))}'"
                )
        return value

    def get_optional(self, path: str) -> tuple[bool, Any]:
        """(found, value): Choice rules test presence rather than fail."""
        try:
            return True, self.get(path)
        except PathError:
            return False, None

    def resolve(self, template: Any) -> Any:
        """A payload template: keys ending in .$ take a path or an intrinsic."""
        if isinstance(template, dict):
            out: dict[str, Any] = {}
            for key, value in template.items():
                if key.endswith(".$") and isinstance(value, str):
                    out[key[:-2]] = self.evaluate(value)
                else:
                    out[key] = self.resolve(value)
            return out
        if isinstance(template, list):
            return [self.resolve(v) for v in template]
        return clone(template)

    def evaluate(self, expr: str) -> Any:
        """A path or an intrinsic function call."""
        if expr.startswith("States."):
            return _Intrinsic(expr, self).run()
        return clone(self.get(expr))


def set_result(data: Any, result_path: str | None, result: Any) -> Any:
    """Apply ResultPath: `$` replaces, None discards, `$.a.b` inserts."""
    if result_path is None:
        return data
    root, steps = parse_path(result_path)
    if root != "$":
        raise PathError(f"ResultPath {result_path!r} must start with $")
    if not steps:
        return clone(result)
    out = clone(data) if isinstance(data, dict) else {}
    node: Any = out
    for step in steps[:-1]:
        if not isinstance(step, str):
            raise PathError(f"ResultPath {result_path!r}: indexes are not allowed")
        nxt = node.get(step)
        if not isinstance(nxt, dict):
            nxt = node[step] = {}
        node = nxt
    node[str(steps[-1])] = clone(result)
    return out


# --- intrinsic functions -------------------------------------------------------


class _Intrinsic:
    """A small recursive-descent reader for `States.Fn(arg, ...)`."""

    def __init__(self, text: str, scope: Scope) -> None:
        self.text, self.pos, self.scope = text, 0, scope

    def run(self) -> Any:
        value = self._call()
        if self.text[self.pos :].strip():
            raise IntrinsicError(
                f"unexpected {self.text[self.pos :]!r} in {self.text!r}"
            )
        return value

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def _call(self) -> Any:
        m = re.compile(r"States\.([A-Za-z0-9]+)\(").match(self.text, self.pos)
        if not m:
            raise IntrinsicError(
                f"expected States.<Function>( at {self.text[self.pos :]!r}"
            )
        self.pos = m.end()
        args: list[Any] = []
        self._skip()
        if self.text[self.pos : self.pos + 1] == ")":
            self.pos += 1
        else:
            while True:
                self._skip()
                args.append(self._arg())
                self._skip()
                ch = self.text[self.pos : self.pos + 1]
                self.pos += 1
                if ch == ")":
                    break
                if ch != ",":
                    raise IntrinsicError(f"expected , or ) in {self.text!r}")
        fn = FUNCTIONS.get(m.group(1))
        if fn is None:
            raise IntrinsicError(f"States.{m.group(1)} is not an intrinsic function")
        try:
            return fn(self.scope, *args)
        except IntrinsicError:
            raise
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise IntrinsicError(f"States.{m.group(1)}: {exc}") from None

    def _arg(self) -> Any:
        rest = self.text[self.pos :]
        if rest.startswith("States."):
            return self._call()
        if rest.startswith("'"):
            return self._string()
        if rest.startswith("$"):
            m = re.compile(r"\$[^,)]*").match(self.text, self.pos)
            assert m is not None
            self.pos = m.end()
            return self.scope.get(m.group(0).strip())
        m = re.compile(r"-?\d+(\.\d+)?|true|false|null").match(self.text, self.pos)
        if not m:
            raise IntrinsicError(f"cannot read argument {rest!r}")
        self.pos = m.end()
        return json.loads(m.group(0))

    def _string(self) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if ch == "'":
                return "".join(out)
            out.append(ch)
        raise IntrinsicError(f"unterminated string in {self.text!r}")


def _format(_: Scope, template: str, *args: Any) -> str:
    parts = template.split("{}")
    if len(parts) - 1 != len(args):
        raise IntrinsicError(
            f"States.Format: {len(parts) - 1} placeholders, {len(args)} arguments"
        )
    out = parts[0]
    for arg, part in zip(args, parts[1:], strict=True):
        text = arg if isinstance(arg, str) else json.dumps(arg, separators=(",", ":"))
        out += text + part
    return out


def _partition(_: Scope, items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _range(_: Scope, start: int, end: int, step: int) -> list[int]:
    return list(range(int(start), int(end) + (1 if step > 0 else -1), int(step)))


def _unique(_: Scope, items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _merge(
    _: Scope, a: dict[str, Any], b: dict[str, Any], deep: bool
) -> dict[str, Any]:
    if deep:
        raise IntrinsicError("States.JsonMerge: deep merge is not supported by AWS")
    return {**a, **b}


def _random(scope: Scope, low: int, high: int, seed: int | None = None) -> int:
    rng = random.Random(seed) if seed is not None else scope.rng
    return rng.randint(int(low), int(high))


def _uuid(scope: Scope) -> str:
    return str(uuid.UUID(int=scope.rng.getrandbits(128), version=4))


def _hash(_: Scope, data: Any, algorithm: str) -> str:
    names = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384"}
    names["SHA-512"] = "sha512"
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return hashlib.new(names[algorithm], text.encode()).hexdigest()


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "Format": _format,
    "StringToJson": lambda _, s: json.loads(s),
    "JsonToString": lambda _, v: json.dumps(v, separators=(",", ":")),
    "Array": lambda _, *a: list(a),
    "ArrayPartition": _partition,
    "ArrayContains": lambda _, a, v: v in a,
    "ArrayRange": _range,
    "ArrayGetItem": lambda _, a, i: a[int(i)],
    "ArrayLength": lambda _, a: len(a),
    "ArrayUnique": _unique,
    "Base64Encode": lambda _, s: base64.b64encode(s.encode()).decode(),
    "Base64Decode": lambda _, s: base64.b64decode(s).decode(),
    "Hash": _hash,
    "JsonMerge": _merge,
    "MathRandom": _random,
    "MathAdd": lambda _, a, b: a + b,
    "StringSplit": lambda _, s, d: [
        p for p in re.split("[" + re.escape(d) + "]", s) if p
    ],
    "UUID": _uuid,
}
