"""A manifest of many URLs for `s3-stream --manifest`: JSONL or CSV, read lazily.

JSONL: one object a line with `url` and `dest` (s3://BUCKET/KEY) or `key`
(under the DEST prefix given on the command line), optional `headers`,
`content_type` and `metadata` (objects of strings). CSV: `url,dest` rows, with
or without that header row (a header may also name `key`, `content_type`).

The format is judged on the first line: a file whose first line is neither a
JSON object with a `url` nor a CSV row with one is not a manifest, and that is
one error naming the line before anything runs. Past the first line, a line
that cannot be an item is a failed item (`BadLine`), not a crashed run: one
typo must not cost a 100,000-item run.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.errors import ConfigError, DevkitError
from devkit.s3stream.source import display_url


@dataclass(frozen=True)
class Item:
    """One manifest line: what to fetch and where it goes."""

    line: int
    url: str
    dest: str  # s3://BUCKET/KEY as asked (a KEY ending in / takes the file name)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def shown_url(self) -> str:
        """The URL without credentials or query string, for results and errors."""
        return display_url(self.url)


@dataclass(frozen=True)
class BadLine:
    """A line that cannot be an item: reported as a failed item."""

    line: int
    url: str | None
    dest: str | None
    error: DevkitError


def read_manifest(path: Path, prefix: str | None = None) -> Iterator[Item | BadLine]:
    """Yield the items of the manifest at `path`; `prefix` is s3://BUCKET/PREFIX/."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the manifest {path}: {exc.strerror or exc}"
        ) from None
    with handle:
        lines = enumerate(handle, 1)
        number, text = next(((n, t) for n, t in lines if t.strip()), (0, ""))
        if not number:
            raise ConfigError(f"the manifest {path} has no items")
        if text.lstrip().startswith("{"):
            yield _first(path, _json_item(number, text, prefix))
            for number, text in lines:
                if text.strip():
                    yield _json_item(number, text, prefix)
        else:
            yield from _csv_items(path, number, text, lines, prefix)


def _first(path: Path, item: Item | BadLine) -> Item:
    if isinstance(item, BadLine):
        raise ConfigError(
            f"{path} line {item.line} is not a manifest item ({item.error}): "
            "give JSONL with a url per line, or CSV rows url,dest"
        )
    return item


def _json_item(number: int, text: str, prefix: str | None) -> Item | BadLine:
    try:
        data = json.loads(text)
    except ValueError as exc:
        msg = getattr(exc, "msg", "bad JSON")
        return BadLine(
            number, None, None, ConfigError(f"line {number}: not JSON: {msg}")
        )
    if not isinstance(data, dict):
        return BadLine(
            number, None, None, ConfigError(f"line {number}: not a JSON object")
        )
    return parse_item(number, data, prefix)


def _csv_items(
    path: Path,
    number: int,
    text: str,
    lines: Iterator[tuple[int, str]],
    prefix: str | None,
) -> Iterator[Item | BadLine]:
    first = _row(text)
    names = ["url", "dest"]
    if [c.strip().lower() for c in first][:1] == ["url"]:
        names = [c.strip().lower() for c in first]  # a header row
    else:
        yield _first(
            path, parse_item(number, dict(zip(names, first, strict=False)), prefix)
        )
    for number, text in lines:
        if text.strip():
            row = _row(text)
            yield parse_item(number, dict(zip(names, row, strict=False)), prefix)


def _row(text: str) -> list[str]:
    return next(csv.reader([text]), [])


def parse_item(number: int, data: dict[str, Any], prefix: str | None) -> Item | BadLine:
    """One item from a decoded line (a dict); what is wrong with it is a BadLine."""
    url = data.get("url")
    if not isinstance(url, str) or not url.strip():
        return BadLine(number, None, None, ConfigError(f"line {number}: no url"))
    url = url.strip()
    try:
        return Item(
            line=number,
            url=url,
            dest=_dest(number, data, url, prefix),
            headers=_strings(number, data, "headers"),
            content_type=_optional(number, data, "content_type"),
            metadata=_strings(number, data, "metadata"),
        )
    except ConfigError as exc:
        raise_dest = data.get("dest") if isinstance(data.get("dest"), str) else None
        return BadLine(number, url, raise_dest, exc)


def _dest(number: int, data: dict[str, Any], url: str, prefix: str | None) -> str:
    from devkit.s3stream.api import parse_s3_url

    dest, key = data.get("dest"), data.get("key")
    if isinstance(dest, str) and dest.strip():
        parse_s3_url(dest.strip())  # a ConfigError names the expected form
        return dest.strip()
    if isinstance(key, str) and key.strip():
        if prefix is None:
            raise ConfigError(
                f"line {number}: `key` needs a destination prefix: "
                "give s3://BUCKET/PREFIX/ after --manifest FILE, or use `dest`"
            )
        return prefix + key.strip().lstrip("/")
    if prefix is not None:
        return prefix  # the source's file name is appended (object_key)
    raise ConfigError(f"line {number}: no dest (s3://BUCKET/KEY) or key")


def _strings(number: int, data: dict[str, Any], name: str) -> dict[str, str]:
    value = data.get(name) or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"line {number}: `{name}` must be an object of strings")
    return dict(value)


def _optional(number: int, data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value or None
    raise ConfigError(f"line {number}: `{name}` must be a string")
