"""Sources: an HTTP(S) download that resumes with Range, stdin, or a file.

Each source fills caller-owned buffers (`readinto`), so the engine decides how
much memory exists, and tracks its own offset, so a short or long body is
caught whatever the transport says.
"""

from __future__ import annotations

import email.message
import http.client
import os
import posixpath
import re
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
import urllib3.exceptions

from devkit.errors import ConfigError, SourceError

CONNECT_TIMEOUT = 10.0
# The most one read asks for: every slice reaches the progress bar, the
# deadline and the stall detector, even from a slow source (512 KiB/s is
# half a second per slice, not ten seconds per 5 MiB part).
SLICE = 256 * 1024
# Errors that mean "the body stopped", as opposed to "the server said no".
_DROPPED = (
    OSError,  # resets, socket timeouts (a stall), TimeoutError
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
    requests.RequestException,
)
_URL_SHOWN = 120  # longer display URLs are cut in the middle, never the reason


class Source(Protocol):
    """What the upload engine reads from."""

    size: int | None
    content_type: str | None
    content_encoding: str | None
    name: str  # a file name: shown in messages, appended to a key ending in /
    resumes: int

    def readinto(self, buffer: memoryview) -> int:
        """Fill up to len(buffer) bytes; 0 only at the true end of the body."""

    def close(self) -> None:
        """Release the connection or file."""


def display_url(url: str) -> str:
    """The URL without credentials or query string (presigned URLs are secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = parts.port
    except ValueError:  # a malformed host or port: cut by hand
        scheme, _, rest = url.partition("://")
        authority, slash, path = rest.partition("/")
        authority = authority.rpartition("@")[2]
        path = re.split(r"[?#]", path, maxsplit=1)[0]
        return _shorten(f"{scheme}://{authority}{slash}{path}")
    if port:
        host = f"{host}:{port}"
    return _shorten(urlunsplit((parts.scheme, host, parts.path, "", "")))


def _shorten(text: str) -> str:
    if len(text) <= _URL_SHOWN:
        return text
    half = _URL_SHOWN // 2 - 1
    return f"{text[:half]}...{text[-half:]}"


def check_headers(headers: Mapping[str, str]) -> None:
    """Refuse a header HTTP cannot carry, naming it but never its value."""
    for name, value in headers.items():
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            # Not echoed: a misplaced colon can put a token in the name.
            raise ConfigError(
                "a header name is not a valid HTTP header name "
                "(letters, digits and -, then ':' and the value)"
            )
        if "\r" in value or "\n" in value:
            raise ConfigError(f"header {name} has a line break in its value")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ConfigError(
                f"header {name} has characters HTTP cannot send (use ASCII)"
            ) from None


@dataclass
class ResumePolicy:
    """How often and how patiently a dropped HTTP body is resumed."""

    max_consecutive: int = 5  # failures in a row without new bytes
    max_total: int = 50
    backoff: float = 0.5  # seconds, doubled per consecutive failure
    max_backoff: float = 10.0
    read_timeout: float = 30.0  # no byte for this long counts as a stall
    sleep: Callable[[float], None] = time.sleep  # the clock, for tests


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


class _OriginSession(requests.Session):
    """A session that sends the user's headers to the source's origin only.

    requests drops only `Authorization` on a redirect to another host; an
    `X-Api-Key` or `PRIVATE-TOKEN` would follow `Location` anywhere.
    """

    def __init__(self, url: str, private: Mapping[str, str]) -> None:
        super().__init__()
        self._origin = _origin(url)
        self._private = dict(private)

    def rebuild_auth(self, prepared_request: Any, response: Any) -> None:
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        same = _origin(prepared_request.url) == self._origin
        for name, value in self._private.items():
            if same:
                prepared_request.headers[name] = value
            else:
                prepared_request.headers.pop(name, None)


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
        self._shown = display_url(url)
        _check_url(url, self._shown)
        check_headers(headers or {})
        self._headers = {"Accept-Encoding": "identity", **(headers or {})}
        self._policy = policy or ResumePolicy()
        self._session = session or _OriginSession(url, headers or {})
        self.offset = 0
        self.resumes = 0
        self._validator: str | None = None
        self._response = self._open(None)
        first = self._response.headers
        self._validator = _validator(self._response)
        self._etag = first.get("ETag")
        self._last_modified = first.get("Last-Modified")
        self._ranges = first.get("Accept-Ranges", "").lower() == "bytes"
        self.size = _content_length(self._response)
        self.content_type = first.get("Content-Type")
        encoding = first.get("Content-Encoding", "").strip()
        self.content_encoding = encoding if encoding.lower() != "identity" else None
        self.content_encoding = self.content_encoding or None
        self.name = _file_name(first.get("Content-Disposition"), url)

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
        except (requests.exceptions.InvalidURL, requests.exceptions.URLRequired):
            raise ConfigError(f"not a valid URL: {self._shown}") from None
        except requests.RequestException as exc:
            verb = "cannot reach" if _is_connect(exc) else "request to"
            tail = "" if verb == "cannot reach" else " failed"
            raise SourceError(f"{verb} {self._shown}{tail}: {_reason(exc)}") from None
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
        # read1: whatever has arrived, up to one slice, so a slow source still
        # reports progress; decode_content=False stores the bytes as served.
        data = self._response.raw.read1(min(len(buffer), SLICE), decode_content=False)
        buffer[: len(data)] = data
        return len(data)

    def _complete(self) -> bool:
        return self.size is None or self.offset >= self.size

    def _resume(self, why: str, consecutive: int) -> None:
        total = self.size if self.size is not None else "?"
        where = f"after {self.offset} of {total} bytes"
        self._response.close()
        if not self._ranges or not self._validator:
            raise SourceError(f"source closed {where} and {self._why_no_resume()}")
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
        try:
            self._check_resumed(response, where)
        except SourceError:
            response.close()
            raise
        self._response = response

    def _why_no_resume(self) -> str:
        if not self._ranges:
            return "does not support ranges"
        if self._etag and self._etag.startswith("W/"):
            return "has only a weak ETag, which cannot resume safely"
        return "has no ETag or Last-Modified to resume safely"

    def _check_resumed(self, response: requests.Response, where: str) -> None:
        """The resumed body must be the same version, from the same offset.

        A server may ignore If-Range and answer 206 with another version's
        bytes: its own ETag and Last-Modified must equal the first answer's.
        """
        changed = self._changed(response)
        if changed:
            raise SourceError(f"source changed during the transfer {where}: {changed}")
        if response.status_code == 200:
            raise SourceError(
                f"source ignored the Range request when resuming {where} "
                "(it sent the whole body again)"
            )
        if response.status_code != 206:
            raise SourceError(
                f"{response.status_code} {response.reason} "
                f"when resuming {self._shown} {where}"
            )
        if not _starts_at(response, self.offset, self.size):
            raise SourceError(
                f"source answered the resume {where} with a different range "
                f"({response.headers.get('Content-Range') or 'none'})"
            )

    def _changed(self, response: requests.Response) -> str | None:
        for header, first in (
            ("ETag", self._etag),
            ("Last-Modified", self._last_modified),
        ):
            now = response.headers.get(header)
            if first and now is None:
                return f"the resumed response has no {header} (it was {first})"
            if first and now != first:
                return f"its {header} was {first}, now {now}"
        return None

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
        self.content_encoding: str | None = None
        self.resumes = 0
        self.offset = 0
        # readinto1: what a pipe has now, not a wait for the whole buffer.
        self._read = getattr(stream, "readinto1", None) or stream.readinto  # type: ignore[attr-defined]

    def readinto(self, buffer: memoryview) -> int:
        try:
            n = self._read(buffer[:SLICE])
        except OSError as exc:
            raise SourceError(
                f"reading {self.name} failed after {self.offset} bytes: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None
        self.offset += n or 0
        return int(n or 0)

    def close(self) -> None:
        if self._stream is not getattr(sys.stdin, "buffer", None):
            self._stream.close()


def open_source(
    spec: str,
    headers: Mapping[str, str] | None = None,
    policy: ResumePolicy | None = None,
    stdin: BinaryIO | None = None,
) -> Source:
    """Open SOURCE: an http(s) URL, `-` for stdin, or a local file path."""
    scheme = spec.partition("://")[0].lower() if "://" in spec else ""
    if scheme in ("http", "https"):
        return HttpSource(spec, headers=headers, policy=policy)
    if spec == "-":
        return StreamSource(stdin or _stdin(), "stdin", None)
    if scheme:
        raise ConfigError(
            f"unsupported source {scheme}://: use an http(s) URL, '-' or a file path"
        )
    try:
        stream = open(spec, "rb", buffering=0)  # noqa: SIM115 - closed by close()
    except FileNotFoundError:
        raise ConfigError(f"no such file: {spec}") from None
    except IsADirectoryError:
        raise ConfigError(f"{spec} is a folder: give a file, a URL or '-'") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {spec}: {exc.strerror}") from None
    st = os.fstat(stream.fileno())
    size = st.st_size if os.path.isfile(spec) else None  # pipes and devices: unknown
    return StreamSource(stream, os.path.basename(spec), size)


def _stdin() -> BinaryIO:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # started with stdin closed (`<&-`)
        raise ConfigError("stdin is closed: pipe data into devkit or give a file")
    return stream  # type: ignore[no-any-return]


def _check_url(url: str, shown: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError:  # urlsplit's only complaint: an unbalanced [ or ]
        raise ConfigError(
            f"not a valid URL (unclosed [ in the host): {shown}"
        ) from None
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ConfigError(
            f"not a valid URL (the port must be a number, 1 to 65535): {shown}"
        ) from None
    if not parts.hostname:
        raise ConfigError(f"not a valid URL (no host): {shown}")


def _file_name(disposition: str | None, url: str) -> str:
    """The name a key ending in / takes: Content-Disposition's, else the URL's."""
    name = None
    if disposition:
        msg = email.message.Message()
        msg["Content-Disposition"] = disposition
        name = msg.get_filename()
    if not name:
        name = unquote(urlsplit(url).path)
    name = posixpath.basename(name.replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name if name not in ("", ".", "..") else "download"


def _content_length(response: requests.Response) -> int | None:
    if "Transfer-Encoding" in response.headers:
        return None
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _validator(response: requests.Response) -> str | None:
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):  # If-Range needs a strong validator
        return etag
    return response.headers.get("Last-Modified")


def _starts_at(response: requests.Response, offset: int, size: int | None) -> bool:
    m = re.fullmatch(
        r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", "").strip()
    )
    if not m or int(m.group(1)) != offset:
        return False
    return size is None or m.group(2) in ("*", str(size))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (cause, context, args, .reason)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        more: list[object] = [e.__cause__, e.__context__, getattr(e, "reason", None)]
        more.extend(e.args)
        todo.extend(x for x in more if isinstance(x, BaseException))


# Exception types, most specific first, and what to tell the user. Messages
# come from types, never from a library's text: that text can carry the URL's
# query string (a presigned signature) or a header.
_Types = type[BaseException] | tuple[type[BaseException], ...]
_REASONS: tuple[tuple[_Types, str], ...] = (
    (
        (urllib3.exceptions.NameResolutionError, socket.gaierror),
        "host name does not resolve",
    ),
    (ConnectionRefusedError, "connection refused"),
    (requests.exceptions.TooManyRedirects, "too many redirects"),
    (
        (urllib3.exceptions.ConnectTimeoutError, requests.exceptions.ConnectTimeout),
        "connection timed out",
    ),
    (
        (http.client.RemoteDisconnected, http.client.BadStatusLine),
        "the server did not answer with HTTP",
    ),
    (
        (http.client.IncompleteRead, urllib3.exceptions.IncompleteRead),
        "the body ended early",
    ),
    (
        (
            urllib3.exceptions.ReadTimeoutError,
            requests.exceptions.ReadTimeout,
            TimeoutError,
        ),
        "stalled (no data before the read timeout)",
    ),
    (ConnectionResetError, "connection reset"),
    (ConnectionAbortedError, "connection aborted"),
)


def _reason(exc: BaseException) -> str:
    """A short reason for a requests/urllib3/socket error, from its types."""
    chain = list(_causes(exc))
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted ({e.verify_message})"
    for e in chain:
        if isinstance(e, ssl.SSLError):
            return f"TLS failed ({e.reason or 'handshake error'})"
    for types, text in _REASONS:
        if any(isinstance(e, types) for e in chain):
            return text
    for e in chain:
        if isinstance(e, OSError) and e.strerror:
            return e.strerror.lower()
    return f"connection failed ({type(chain[-1]).__name__})"


def _is_connect(exc: BaseException) -> bool:
    return isinstance(exc, requests.ConnectionError) and not isinstance(
        exc, requests.exceptions.ReadTimeout
    )
