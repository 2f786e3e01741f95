"""The OAuth client file from Google Cloud Console, and the redirect URI it allows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devkit.errors import ConfigError
from devkit.play.store import read_json

_REQUIRED = ("client_id", "client_secret", "auth_uri", "token_uri")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
_DOWNLOAD_HINT = (
    "download the OAuth client JSON (Desktop app) from Google Cloud Console > "
    "APIs & Services > Credentials"
)


@dataclass(frozen=True)
class ClientConfig:
    """The fields of a client file that the flow uses."""

    kind: str  # "installed" (Desktop app) or "web" (Web application)
    client_id: str
    client_secret: str
    auth_uri: str
    token_uri: str
    redirect_uris: tuple[str, ...]

    def flow_config(self) -> dict[str, Any]:
        """The mapping google-auth-oauthlib's Flow.from_client_config expects."""
        body = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "auth_uri": self.auth_uri,
            "token_uri": self.token_uri,
            "redirect_uris": list(self.redirect_uris),
        }
        return {self.kind: body}


@dataclass(frozen=True)
class Redirect:
    """Where the browser is sent back to: bound on 127.0.0.1 at `port` (0: any)."""

    host: str
    port: int
    path: str
    registered_uri: str | None  # web clients: sent exactly as registered

    def uri(self, bound_port: int) -> str:
        """The redirect_uri to send once the listening port is known."""
        if self.registered_uri is not None:
            return self.registered_uri
        return f"http://{self.host}:{bound_port}{self.path}"


def load_client_config(path: Path) -> ClientConfig:
    """Read and check a Google client file; ConfigError names what is wrong."""
    doc = read_json(path, "client file", _DOWNLOAD_HINT)
    if doc.get("type") == "service_account":
        raise ConfigError(
            f"{path} is a service-account key, not an OAuth client: use it with "
            "`devkit play-verify --service-account`, or pass a Desktop app client"
        )
    kind = next((k for k in ("installed", "web") if isinstance(doc.get(k), dict)), None)
    if kind is None:
        raise ConfigError(
            f"{path} has no 'installed' or 'web' client: {_DOWNLOAD_HINT}"
        )
    return _client_from(kind, doc[kind], path)


def _client_from(kind: str, body: dict[str, Any], path: Path) -> ClientConfig:
    missing = [
        key for key in _REQUIRED if not isinstance(body.get(key), str) or not body[key]
    ]
    if missing:
        raise ConfigError(f"{path} lacks {', '.join(missing)}: {_DOWNLOAD_HINT}")
    for key in ("auth_uri", "token_uri"):
        if urlsplit(body[key]).scheme not in ("http", "https"):
            raise ConfigError(f"{path}: {key} is not an http(s) URL: {body[key]}")
    uris = body.get("redirect_uris") or []
    if isinstance(uris, str):
        uris = [uris]  # a hand-edited file; Google's download has a list
    elif not isinstance(uris, list):
        raise ConfigError(f"{path}: redirect_uris is not a list: {_DOWNLOAD_HINT}")
    return ClientConfig(
        kind=kind,
        client_id=body["client_id"],
        client_secret=body["client_secret"],
        auth_uri=body["auth_uri"],
        token_uri=body["token_uri"],
        redirect_uris=tuple(u for u in uris if isinstance(u, str)),
    )


def plan_redirect(client: ClientConfig, port: int | None) -> Redirect:
    """Pick the redirect URI before anything starts; web clients need an exact match."""
    if client.kind == "installed":
        # Desktop clients accept any loopback port (RFC 8252 section 7.3), and
        # 127.0.0.1 avoids a browser trying ::1 first (section 8.3).
        return Redirect(host="127.0.0.1", port=port or 0, path="/", registered_uri=None)
    usable = [u for u in client.redirect_uris if _loopback_port(u) is not None]
    if port is not None:
        usable = [u for u in usable if _loopback_port(u) == port]
    if not usable:
        raise ConfigError(_web_mismatch_message(client, port))
    chosen = usable[0]
    parts = urlsplit(chosen)
    return Redirect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 0,
        path=parts.path or "/",
        registered_uri=chosen,
    )


def _loopback_port(uri: str) -> int | None:
    parts = urlsplit(uri)
    if parts.scheme != "http" or parts.hostname not in _LOOPBACK_HOSTS:
        return None
    try:
        return parts.port
    except ValueError:
        return None


def _web_mismatch_message(client: ClientConfig, port: int | None) -> str:
    registered = ", ".join(client.redirect_uris) or "none"
    want = f"http://127.0.0.1:{port or 8080}/"
    where = f" on port {port}" if port is not None else " with a port"
    return (
        f"web client {client.client_id} has no loopback redirect URI{where} "
        f"(registered: {registered}): add {want} exactly, trailing slash included, "
        "under Authorized redirect URIs in Google Cloud Console and download the "
        "client file again, or use a Desktop app client"
    )
