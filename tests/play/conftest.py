from __future__ import annotations

from pathlib import Path

import pytest

from devkit.play.auth import AuthOptions, authorize
from testing.fake_google import FakeGoogle, ScriptedBrowser


@pytest.fixture(autouse=True)
def _play_env(monkeypatch):
    # The stand-in speaks plain http on loopback; oauthlib refuses that unless
    # told. Real Google endpoints are https, so devkit never sets this itself.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    for var in (
        "DEVKIT_PLAY_CREDENTIALS",
        "DEVKIT_PLAY_SERVICE_ACCOUNT",
        "DEVKIT_PLAY_API_ENDPOINT",
        "OAUTHLIB_RELAX_TOKEN_SCOPE",
        "BROWSER",
    ):
        monkeypatch.delenv(var, raising=False)


_SEEN = pytest.StashKey[list]()


def _seen(request) -> list[str]:
    return request.node.stash.setdefault(_SEEN, [])


@pytest.fixture
def fake(request, capfd, caplog):
    """The stand-in; at teardown, no secret it issued may appear in any output."""
    with FakeGoogle() as google:
        google.seed_purchases()
        yield google
    out, err = capfd.readouterr()
    text = "\n".join([*_seen(request), out, err, caplog.text])
    for secret in google.all_secrets():
        if secret in text:  # no assert: pytest would print the secret
            pytest.fail("a client secret or token reached the output", pytrace=False)


class Output:
    """capfd that remembers everything read, for the secret scan."""

    def __init__(self, capfd, seen: list[str]):
        self._capfd = capfd
        self._seen = seen

    def read(self) -> tuple[str, str]:
        out, err = self._capfd.readouterr()
        self._seen += [out, err]
        return out, err


@pytest.fixture
def output(request, capfd):
    return Output(capfd, _seen(request))


@pytest.fixture
def record_output(request):
    """Add a subprocess's output to what the secret scan checks."""
    return _seen(request).append


@pytest.fixture
def desktop_client(fake, tmp_path):
    client = fake.add_client()
    return client, fake.client_file(tmp_path / "client_secret.json", client)


@pytest.fixture
def stored_credentials(fake, desktop_client, tmp_path) -> Path:
    """A credentials file made by a real play-auth run against the stand-in."""
    _, client_file = desktop_client
    browser = ScriptedBrowser()
    target = tmp_path / "creds" / "play-credentials.json"
    authorize(
        AuthOptions(client_secrets=client_file, output=target, timeout=10),
        opener=browser,
    )
    browser.wait()
    return target
