"""Sources: an HTTP(S) download that resumes with Range, stdin, or a file.

Each source fills caller-owned buffers (`readinto`), so the engine decides how
much memory exists, and tracks its own offset, so a short or long body is
caught whatever the transport says.
"""

from __future__ import annotations

import http.client
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions

from devkit.errors import ConfigError, SourceError

CONNECT_TIMEOUT = 10.0
# Errors that mean "the body stopped", as opposed to "the server said no".
_DROPPED = (
    OSError,  # resets, socket timeouts (a stall), TimeoutError
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
    requests.RequestException,
)


class Source(Protocol):
    """What the upload engine reads from."""

    size: int | None
    content_type: str | None
    name: str
    resumes: int

    def readinto(self, buffer: memoryview) -> int:
        """Fill up to len(buffer) bytes; 0 only at the true end of the body."""

    def close(self) -> None:
        """Release the connection or file."""


def display_url(url: str) -> str:
    """The URL without credentials or query string (presigned URLs are secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass
class ResumePolicy:
    """How often and how patiently a dropped HTTP body is resumed."""

    max_consecutive: int = 5  # failures in a row without new bytes
    max_total: int = 50
    backoff: float = 0.5  # seconds, doubled per consecutive failure
    max_backoff: float = 10.0
    read_timeout: float = 30.0  # no byte for this long counts as a stall
    sleep: Callable[[float], None] = time.sleep  # the clock, for tests


class HttpSource:
    """An HTTP(S) GET body that reopens at the exact offset when it drops."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        policy: ResumePolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self.name = os.path.basename(urlsplit(url).path) or "download"
        self._shown = display_url(url)
        self._headers = {"Accept-Encoding": "identity", **(headers or {})}
        self._policy = policy or ResumePolicy()
        self._session = session or requests.Session()
        self.offset = 0
        self.resumes = 0
        self._response = self._open(None)
        self._validator = _validator(self._response)
        self._ranges = (
            self._response.headers.get("Accept-Ranges", "").lower() == "bytes"
        )
        self.size = _content_length(self._response)
        self.content_type = self._response.headers.get("Content-Type")

    def _open(self, range_from: int | None) -> requests.Response:
        headers = dict(self._headers)
        if range_from is not None:
            headers["Range"] = f"bytes={range_from}-"
            if self._validator:
                headers["If-Range"] = self._validator
        try:
            response = self._session.get(
                self.url,
                headers=headers,
                stream=True,
                timeout=(CONNECT_TIMEOUT, self._policy.read_timeout),
            )
        except requests.exceptions.InvalidURL as exc:
            raise ConfigError(f"not a valid URL: {self._shown}") from exc
        except requests.ConnectionError as exc:
            raise SourceError(f"cannot reach {self._shown}: {_reason(exc)}") from exc
        except requests.RequestException as exc:
            raise SourceError(
                f"request to {self._shown} failed: {_reason(exc)}"
            ) from exc
        if range_from is None and response.status_code != 200:
            response.close()
            raise SourceError(
                f"{response.status_code} {response.reason} from {self._shown}"
            )
        return response

    def readinto(self, buffer: memoryview) -> int:
        """Fill from the body, resuming transparently after a drop or stall."""
        consecutive = 0
        while True:
            try:
                n = self._read_some(buffer)
            except _DROPPED as exc:
                n, why = -1, _reason(exc)
            else:
                why = "connection closed"
            if n > 0 or (n == 0 and self._complete()):
                self.offset += max(n, 0)
                return max(n, 0)
            consecutive += 1
            self._resume(why, consecutive)

    def _read_some(self, buffer: memoryview) -> int:
        raw = self._response.raw
        fp = getattr(raw, "_fp", None)
        # Fast path: http.client reads straight into our buffer (no copies).
        # urllib3's own read() would copy each chunk twice more.
        if isinstance(fp, http.client.HTTPResponse):
            return fp.readinto(buffer)
        data = raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _complete(self) -> bool:
        return self.size is None or self.offset >= self.size

    def _resume(self, why: str, consecutive: int) -> None:
        total = self.size if self.size is not None else "?"
        where = f"after {self.offset} of {total} bytes"
        self._response.close()
        if not self._ranges or not self._validator:
            lacking = (
                "does not support ranges"
                if not self._ranges
                else "has no ETag or Last-Modified to resume safely"
            )
            raise SourceError(f"source closed {where} and {lacking}")
        policy = self._policy
        if consecutive > policy.max_consecutive or self.resumes >= policy.max_total:
            raise SourceError(
                f"source kept failing ({why}) {where}; "
                f"gave up after {self.resumes} resumes"
            )
        policy.sleep(min(policy.backoff * 2 ** (consecutive - 1), policy.max_backoff))
        self.resumes += 1
        try:
            response = self._open(self.offset)
        except SourceError:
            if consecutive >= policy.max_consecutive:
                raise
            return
        if response.status_code != 206 or not _starts_at(response, self.offset):
            response.close()
            if response.status_code == 200:
                raise SourceError(
                    f"source changed during the transfer ({self._validator} "
                    f"no longer matches) {where}"
                )
            raise SourceError(
                f"{response.status_code} {response.reason} "
                f"when resuming {self._shown} {where}"
            )
        self._response = response

    def close(self) -> None:
        self._response.close()
        self._session.close()


class StreamSource:
    """stdin or a local file: read once, never resumed."""

    def __init__(self, stream: BinaryIO, name: str, size: int | None) -> None:
        self._stream = stream
        self.name = name
        self.size = size
        self.content_type: str | None = None
        self.resumes = 0
        self.offset = 0

    def readinto(self, buffer: memoryview) -> int:
        try:
            n = self._stream.readinto(buffer)  # type: ignore[attr-defined]
        except OSError as exc:
            raise SourceError(
                f"reading {self.name} failed after {self.offset} bytes: "
                f"{exc.strerror or exc}"
            ) from exc
        self.offset += n or 0
        return n or 0

    def close(self) -> None:
        if self._stream is not sys.stdin.buffer:
            self._stream.close()


def open_source(
    spec: str,
    headers: Mapping[str, str] | None = None,
    policy: ResumePolicy | None = None,
    stdin: BinaryIO | None = None,
) -> Source:
    """Open SOURCE: an http(s) URL, `-` for stdin, or a local file path."""
    scheme = urlsplit(spec).scheme.lower()
    if scheme in ("http", "https"):
        return HttpSource(spec, headers=headers, policy=policy)
    if spec == "-":
        return StreamSource(stdin or sys.stdin.buffer, "stdin", None)
    if "://" in spec:
        raise ConfigError(
            f"unsupported source {spec.split('://')[0]}://: "
            "use an http(s) URL, '-' or a file path"
        )
    try:
        stream = open(spec, "rb", buffering=0)  # noqa: SIM115 - closed by close()
    except FileNotFoundError as exc:
        raise ConfigError(f"no such file: {spec}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{spec} is a folder: give a file, a URL or '-'") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {spec}: {exc.strerror}") from exc
    st = os.fstat(stream.fileno())
    size = st.st_size if os.path.isfile(spec) else None  # pipes and devices: unknown
    return StreamSource(stream, os.path.basename(spec), size)


def _content_length(response: requests.Response) -> int | None:
    if (
        "Transfer-Encoding" in response.headers
        or "Content-Encoding" in response.headers
    ):
        return None
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _validator(response: requests.Response) -> str | None:
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):  # If-Range needs a strong validator
        return etag
    return response.headers.get("Last-Modified")


def _starts_at(response: requests.Response, offset: int) -> bool:
    value = response.headers.get("Content-Range", "")
    return value.startswith(f"bytes {offset}-")


def _reason(exc: BaseException) -> str:
    """The innermost useful message of a requests/urllib3 exception chain."""
    text = str(exc)
    if (
        "Name or service not known" in text
        or "nodename nor servname" in text
        or "NameResolutionError" in text
    ):
        return "host name does not resolve"
    if "Connection refused" in text:
        return "connection refused"
    if "BadStatusLine" in text or "RemoteDisconnected" in text:
        return "the server did not answer with HTTP"
    if isinstance(exc, TimeoutError) or "timed out" in text:
        return "stalled (no data before the read timeout)"
    return text.splitlines()[0][:200] if text else type(exc).__name__
