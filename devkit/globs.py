"""Path patterns, one rule for every command (`hook`'s exclude, `--exclude`).

fnmatch's syntax (`*`, `?`, `[seq]`, `[!seq]`). A pattern without `/` matches
a name at any depth (`*.md`, `tests`), as in `.gitignore`; one with `/`
matches from the top (`docs/conf.py`), its `*` crossing `/` as fnmatch's does
(`vendor/*` is all of vendor). A pattern that matches a folder covers
everything beneath it; a trailing `/` is ignored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable


def matches(path: str, pattern: str) -> bool:
    """Whether a relative posix path, or a folder it is in, matches `pattern`."""
    return matcher((pattern,))(path)


def matches_any(path: str, patterns: Iterable[str]) -> bool:
    """Whether `path` matches one of `patterns`."""
    return matcher(tuple(patterns))(path)


@functools.lru_cache(maxsize=64)
def matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """A test of whether a path matches any of `patterns`.

    One compiled expression: `devkit hook` tests a whole tree's paths with it.
    """
    either = "|".join(f"(?:{_regex(p.rstrip('/'))})" for p in patterns)
    # No patterns: an expression that never matches.
    match = re.compile(f"(?s:{either})\\Z" if either else "(?!)").match

    def test(path: str) -> bool:
        return match(path) is not None

    return test


def _regex(pattern: str) -> str:
    anywhere = "/" not in pattern
    star, one = ("[^/]*", "[^/]") if anywhere else (".*", ".")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char, i = pattern[i], i + 1
        if char == "*":
            out.append(star)
        elif char == "?":
            out.append(one)
        elif char == "[" and (end := _class_end(pattern, i)) > 0:
            # Literal inside the class: re's escapes, set operators, nesting.
            body = re.sub(r"([\\&~|\[])", r"\\\1", pattern[i:end])
            if body.startswith("!"):
                body = "^" + body[1:]
            elif body.startswith("^"):
                body = "\\" + body
            out.append(f"[{body}]")
            i = end + 1
        else:
            out.append(re.escape(char))
    core = "".join(out)
    # Then the folder's contents; with no `/`, after any folders above it.
    return f"(?:.*/)?{core}(?:/.*)?" if anywhere else f"{core}(?:/.*)?"


def _class_end(pattern: str, start: int) -> int:
    # As fnmatch: `[!]...]` and `[]...]` hold a literal `]`; no `]`: not a class.
    j = start + (pattern[start : start + 1] == "!")
    j += pattern[j : j + 1] == "]"
    return pattern.find("]", j)
