"""Requirements files read as pip reads them: one parser for every command.

`devkit hook` takes the declared names from the result, `devkit lambda-package`
the lines, options and files it hashes and hands to uv or pip; both read a file
the same way. The rules are pip's (`pip/_internal/req/req_file.py`), which uv
follows: a UTF-8, UTF-16 or UTF-32 byte-order mark picks the encoding, CRLF is
a line end, a line ending in `\\` continues on the next, `#` at the start or
after whitespace starts a comment (so `url#egg=name` survives), `${VAR}` is
taken from the environment, and the first word starting with `-` begins a
line's options. `-r`/`-c` name a file relative to the including file; a
constraint file's lines limit versions and declare nothing.
"""

from __future__ import annotations

import codecs
import os
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devkit.errors import ConfigError

# Reads a path (repository-relative or on disk, posix); None if it is absent.
Reader = Callable[[str], bytes | None]

# pip's short options and the long names they stand for.
_SHORT = {
    "-r": "--requirement",
    "-c": "--constraint",
    "-e": "--editable",
    "-i": "--index-url",
    "-f": "--find-links",
}
# Options that take no value; every other option takes one.
_FLAGS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes"}
_INCLUDES = {"--requirement", "--constraint"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF16_LE, "utf-16"),
)
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_ARCHIVE = re.compile(r"/([A-Za-z0-9][A-Za-z0-9._]*?)-\d[^/]*\.(?:whl|tar\.gz|zip)$")


@dataclass(frozen=True)
class Line:
    """One logical line: a requirement, or an option (`-r`, `-e`, `--index-url`)."""

    file: str  # the file it is in, joined from the first file's path
    number: int  # its first physical line
    option: str | None  # the long option name; None on a requirement line
    value: str  # the option's value, or the requirement (spec, marker)
    options: tuple[tuple[str, str], ...] = ()  # per requirement: --hash, ...
    constraint: bool = False  # read from a -c file: declares nothing

    @property
    def declares(self) -> bool:
        """A requirement or `-e` line of a requirements (not constraints) file."""
        return not self.constraint and self.option in (None, "--editable")

    @property
    def hashes(self) -> tuple[str, ...]:
        """The `--hash` values (`sha256:...`) of a requirement line."""
        return tuple(value for name, value in self.options if name == "--hash")

    @property
    def name(self) -> str | None:
        """The canonical distribution name the line installs, if it says one."""
        if self.option == "--editable":
            return _url_name(self.value)
        if self.option is not None:
            return None
        spec = self.value
        if "://" in spec.split("@", 1)[0] or spec.startswith(
            ("file:", "./", "../", "/")
        ):
            return _url_name(spec)
        return requirement_name(spec)

    def spec(self) -> str:
        """The line as pip would read it alone (options in `--name=value` form)."""
        head = self.value if self.option is None else f"{self.option} {self.value}"
        tail = [f"{name}={value}" if value else name for name, value in self.options]
        return " ".join([head.strip(), *tail])


@dataclass(frozen=True)
class RequirementsFile:
    """One file read: where, its bytes, and whether it came in by `-c`."""

    path: str
    content: bytes
    constraint: bool


@dataclass(frozen=True)
class Requirements:
    """A requirements file and every file it includes, in reading order."""

    files: tuple[RequirementsFile, ...] = ()
    lines: tuple[Line, ...] = ()

    def names(self) -> set[str]:
        """Canonical names of what the files declare (constraints excluded)."""
        return {name for line in self.lines if line.declares and (name := line.name)}


def read_requirements(
    read: Reader,
    path: str,
    *,
    by: str,
    absent: str = "does not exist",
    required: bool = True,
    environ: Mapping[str, str] = os.environ,
) -> Requirements:
    """Parse `path` and its includes; a missing file is a ConfigError naming it.

    `by` says who named `path` (`--requirements`); `absent` how a missing file
    is described. A missing `path` that is not `required` reads as empty.
    """
    path = posixpath.normpath(path)
    content = read(path)
    if content is None and not required:
        return Requirements()
    walk = _Walk(read, absent, environ)
    walk.add(path, by, False, content)
    return Requirements(tuple(walk.files), tuple(walk.lines))


@dataclass
class _Walk:
    """One reading: the files and lines so far, and the paths already read."""

    read: Reader
    absent: str
    environ: Mapping[str, str]
    files: list[RequirementsFile] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def add(self, path: str, by: str, constraint: bool, content: bytes | None) -> None:
        if path in self.seen:
            return  # `-r` cycles happen; pip would loop, we stop
        self.seen.add(path)
        if content is None:
            # pip fails on a missing include; so do we, in one line.
            raise ConfigError(
                f"{by} names {path}, which {self.absent}; fix the name or add the file"
            )
        self.files.append(RequirementsFile(path, content, constraint))
        for number, text in logical_lines(decode(content)):
            line = parse_line(_expand(text, self.environ), path, number, constraint)
            self.lines.append(line)
            if line.option in _INCLUDES and "://" not in line.value:
                target = posixpath.normpath(
                    posixpath.join(posixpath.dirname(path), line.value)
                )
                flag = "-r" if line.option == "--requirement" else "-c"
                also = constraint or line.option == "--constraint"
                self.add(target, f"{flag} in {path}", also, self.read(target))


def read_file(path: str) -> bytes | None:
    """A Reader of files on disk."""
    try:
        return Path(path).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def decode(content: bytes) -> str:
    """Text as pip reads it: a byte-order mark picks the encoding, else UTF-8."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(encoding, errors="replace")
    return content.decode("utf-8", errors="replace")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with continuations joined and comments cut."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        # As pip: a comment line never continues, and ends a continued one.
        if raw.endswith("\\") and not _COMMENT.match(raw):
            start = start or number
            pending.append(raw[:-1])
            continue
        if _COMMENT.match(raw):
            raw = " " + raw  # so that it is still cut once joined
        out.append((start or number, "".join([*pending, raw])))
        pending, start = [], 0
    if pending:
        out.append((start, "".join(pending)))
    cut = [(number, _COMMENT.sub("", line).strip()) for number, line in out]
    return [(number, line) for number, line in cut if line]


def _expand(line: str, environ: Mapping[str, str]) -> str:
    # pip and uv expand `${VAR}` (upper case only) and leave unset ones as written.
    return _ENV_VAR.sub(lambda m: environ.get(m[1]) or m[0], line)


def parse_line(
    text: str, file: str = "", number: int = 0, constraint: bool = False
) -> Line:
    """One logical line: arguments up to the first word starting with `-`."""
    words = text.split()
    first_option = next(
        (i for i, word in enumerate(words) if word.startswith("-")), len(words)
    )
    if first_option > 0:
        options = _options(words[first_option:])
        value = " ".join(words[:first_option])
        return Line(file, number, None, value, tuple(options), constraint)
    [(option, value), *rest] = _options(words) or [("", "")]
    return Line(file, number, option, value, tuple(rest), constraint)


def _options(words: list[str]) -> list[tuple[str, str]]:
    # optparse's forms: `--name=value`, `--name value`, `-rvalue`, `-r value`
    # (uv also takes `-r=value`).
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("--"):
            name, eq, value = word.partition("=")
        else:
            name, value = _SHORT.get(word[:2], word[:2]), word[2:].removeprefix("=")
            eq = "=" if value else ""
        if not eq and name not in _FLAGS and i < len(words):
            value, i = words[i], i + 1
        found.append((name, value))
    return found


def canonicalize_name(name: str) -> str:
    """A distribution name in PEP 503's normal form, exactly as packaging's.

    Written out here because importing packaging.utils loads packaging.tags
    and .version: more time than a whole `devkit hook` re-check of a cached
    tree takes.
    """
    value = name.lower().replace("_", "-").replace(".", "-")
    while "--" in value:
        value = value.replace("--", "-")
    return value


def requirement_name(spec: str) -> str | None:
    """The canonical name of a PEP 508 requirement (`name[extra] @ url; marker`)."""
    # Imported here: a hook re-check whose declarations are unchanged never parses.
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return canonicalize_name(Requirement(spec).name)
    except InvalidRequirement:
        return None


def _url_name(url: str) -> str | None:
    egg = _EGG.search(url)
    if egg:
        return canonicalize_name(egg.group(1))
    archive = _ARCHIVE.search(url.split("#", 1)[0])
    return canonicalize_name(archive.group(1)) if archive else None
