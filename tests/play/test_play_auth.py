from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from devkit.errors import AuthError, ConfigError
from devkit.play import ANDROIDPUBLISHER_SCOPE
from devkit.play.auth import AuthOptions, authorize, parse_pasted
from devkit.play.loopback import LoopbackReceiver, RedirectTimeout
from testing.fake_google import ScriptedBrowser, consent_redirect, free_port


def _options(client_file: Path, tmp_path: Path, **kw) -> AuthOptions:
    kw.setdefault("timeout", 10)
    return AuthOptions(
        client_secrets=client_file, output=tmp_path / "out" / "c.json", **kw
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_desktop_flow_stores_refresh_token_privately(fake, desktop_client, tmp_path):
    client, client_file = desktop_client
    browser = ScriptedBrowser()
    result = authorize(_options(client_file, tmp_path), opener=browser)
    browser.wait()

    stored = json.loads(result.path.read_text())
    assert stored["refresh_token"] == fake.issued_refresh_tokens[-1]
    assert stored["client_id"] == client.client_id
    assert stored["client_secret"] == client.client_secret
    assert stored["token_uri"] == fake.token_uri  # kept from the client file
    assert stored["scopes"] == [ANDROIDPUBLISHER_SCOPE]
    assert stored["type"] == "authorized_user"
    assert _mode(result.path) == 0o600
    assert _mode(result.path.parent) == 0o700
    assert [p.name for p in result.path.parent.iterdir()] == ["c.json"]  # no temp left
    # What the authorization request carried.
    sent = fake.auth_requests[-1]
    assert sent["access_type"] == "offline"
    assert sent["prompt"] == "consent"
    assert sent["code_challenge_method"] == "S256"
    assert len(sent["code_challenge"]) == 43
    assert sent["scope"] == ANDROIDPUBLISHER_SCOPE
    assert "include_granted_scopes" not in sent
    assert urlsplit(sent["redirect_uri"]).hostname == "127.0.0.1"
    assert result.redirect_uri == sent["redirect_uri"]
    assert "You can close this window" in browser.landing_text
    assert fake.token_grants == ["authorization_code"]


def test_second_consent_still_gets_a_refresh_token(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    for _ in range(2):
        browser = ScriptedBrowser()
        authorize(_options(client_file, tmp_path), opener=browser)
        browser.wait()
    # Google omits it on re-consent unless prompt=consent; the stand-in too.
    assert len(fake.issued_refresh_tokens) == 2
    stored = json.loads((tmp_path / "out" / "c.json").read_text())
    assert stored["refresh_token"] == fake.issued_refresh_tokens[1]


def test_wrong_state_is_answered_ignored_and_the_wait_goes_on(
    fake, desktop_client, tmp_path
):
    _, client_file = desktop_client
    browser = ScriptedBrowser(
        rewrite_redirect=lambda url: url.replace("state=", "state=x")
    )
    with pytest.raises(AuthError, match=r"within 1 s.*1 answer\(s\) without this run"):
        authorize(_options(client_file, tmp_path, timeout=1), opener=browser)
    browser.wait()
    assert fake.token_grants == []  # the code of a foreign answer is never exchanged
    assert browser.landing_status == 400
    assert "does not belong" in browser.landing_text
    assert "still waiting" in browser.landing_text
    assert not (tmp_path / "out").exists()


def _local_process_then(browser, *queries):
    """An opener: another local program hits the listener first, then the browser."""
    answers = []

    def opener(url):
        port = urlsplit(parse_qs(urlsplit(url).query)["redirect_uri"][0]).port
        for query in queries:
            got = requests.get(f"http://127.0.0.1:{port}/{query}", timeout=10)
            answers.append((got.status_code, got.text))
        return browser(url)

    return opener, answers


@pytest.mark.parametrize(
    "queries",
    [
        ["?code=forged&state=wrong", "?code=forged"],  # item 2: a forged code
        ["?error=access_denied", "?error=access_denied&state=wrong"],  # item 3
    ],
)
def test_answers_without_our_state_cannot_end_the_flow(
    fake, desktop_client, tmp_path, queries
):
    _, client_file = desktop_client
    browser = ScriptedBrowser()
    opener, answers = _local_process_then(browser, *queries)
    result = authorize(_options(client_file, tmp_path), opener=opener)
    browser.wait()
    assert [status for status, _ in answers] == [400, 400]
    assert all("does not belong" in text for _, text in answers)
    assert result.path.exists()
    assert browser.landing_status == 200
    assert fake.token_grants == ["authorization_code"]  # only the real code


def test_a_browser_that_blocks_until_the_redirect_is_answered(
    fake, desktop_client, tmp_path
):
    # What webbrowser.open does with w3m or lynx: it returns when they exit,
    # and they exit once the redirect page has been answered.
    _, client_file = desktop_client
    browser = ScriptedBrowser()

    def console_browser(url):
        browser.visit(url)  # returns only once the redirect page has answered
        return True

    result = authorize(_options(client_file, tmp_path), opener=console_browser)
    assert browser.error is None
    assert browser.landing_status == 200
    assert "devkit received the authorization" in browser.landing_text
    assert result.path.exists()


def test_missing_parent_folders_are_created_0700_whatever_the_umask(
    fake, desktop_client, tmp_path
):
    _, client_file = desktop_client
    target = tmp_path / "a" / "b" / "c" / "play.json"
    browser = ScriptedBrowser()
    old = os.umask(0)
    try:
        options = AuthOptions(client_secrets=client_file, output=target, timeout=10)
        authorize(options, opener=browser)
    finally:
        os.umask(old)
    browser.wait()
    for folder in (tmp_path / "a", tmp_path / "a" / "b", target.parent):
        assert _mode(folder) == 0o700, folder
    assert _mode(target) == 0o600


def test_redirect_uris_given_as_a_string(fake, tmp_path):
    port = free_port()
    client = fake.add_client("web", [f"http://127.0.0.1:{port}/"])
    path = tmp_path / "web.json"
    fake.client_file(path, client)
    doc = json.loads(path.read_text())
    doc["web"]["redirect_uris"] = f"http://127.0.0.1:{port}/"
    path.write_text(json.dumps(doc))
    browser = ScriptedBrowser()
    result = authorize(_options(path, tmp_path), opener=browser)
    browser.wait()
    assert result.redirect_uri == f"http://127.0.0.1:{port}/"
    doc["web"]["redirect_uris"] = "https://example.com/cb"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"registered: https://example\.com/cb\)"):
        authorize(_options(path, tmp_path), opener=lambda url: True)


def test_denied_consent(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    browser = ScriptedBrowser(decision="deny")
    with pytest.raises(AuthError, match="access was denied in the browser"):
        authorize(_options(client_file, tmp_path), opener=browser)
    browser.wait()
    assert "access_denied" in browser.landing_text
    assert not (tmp_path / "out").exists()


def test_no_refresh_token_returned_stores_nothing(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    fake.issue_refresh_tokens = False
    browser = ScriptedBrowser()
    with pytest.raises(
        AuthError, match="no refresh token.*prompt=consent.*permissions"
    ):
        authorize(_options(client_file, tmp_path), opener=browser)
    browser.wait()
    assert fake.token_grants == ["authorization_code"]
    assert not (tmp_path / "out").exists()


def test_widened_scope_from_earlier_grants_is_accepted(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    fake.extra_granted_scope = "openid"  # oauthlib calls this "Scope has changed"
    browser = ScriptedBrowser()
    result = authorize(_options(client_file, tmp_path), opener=browser)
    browser.wait()
    assert json.loads(result.path.read_text())["refresh_token"]


def test_web_client_uses_the_exact_registered_uri(fake, tmp_path):
    port = free_port()
    uri = f"http://127.0.0.1:{port}/oauth2callback"
    client = fake.add_client("web", [uri, "https://app.example.com/cb"])
    client_file = fake.client_file(tmp_path / "web.json", client)
    browser = ScriptedBrowser()
    result = authorize(_options(client_file, tmp_path), opener=browser)
    browser.wait()
    assert fake.auth_requests[-1]["redirect_uri"] == uri
    assert result.client_type == "web"
    assert json.loads(result.path.read_text())["refresh_token"]


def test_web_client_port_mismatch_fails_before_anything_starts(fake, tmp_path):
    registered = f"http://localhost:{free_port()}/"
    client = fake.add_client("web", [registered])
    client_file = fake.client_file(tmp_path / "web.json", client)
    opened = []
    with pytest.raises(ConfigError) as info:
        authorize(_options(client_file, tmp_path, port=9), opener=opened.append)
    message = str(info.value)
    assert "no loopback redirect URI on port 9" in message
    assert registered in message
    assert "http://127.0.0.1:9/" in message
    assert opened == [] and fake.auth_requests == []


def test_web_client_without_loopback_uri(fake, tmp_path):
    client = fake.add_client("web", ["https://app.example.com/oauth2callback"])
    client_file = fake.client_file(tmp_path / "web.json", client)
    with pytest.raises(ConfigError, match=r"add http://127\.0\.0\.1:8080/ exactly"):
        authorize(_options(client_file, tmp_path), opener=lambda url: True)


def test_stale_web_client_file_times_out_naming_redirect_uri_mismatch(fake, tmp_path):
    port = free_port()
    # Google has the URI without the trailing slash; the downloaded file has it.
    client = fake.add_client("web", [f"http://127.0.0.1:{port}"])
    client.redirect_uris = [f"http://127.0.0.1:{port}"]
    stale = fake.client_file(tmp_path / "web.json", client)
    doc = json.loads(stale.read_text())
    doc["web"]["redirect_uris"] = [f"http://127.0.0.1:{port}/"]
    stale.write_text(json.dumps(doc))
    browser = ScriptedBrowser()
    with pytest.raises(AuthError, match="within 1 s.*redirect_uri_mismatch"):
        authorize(_options(stale, tmp_path, timeout=1), opener=browser)
    browser.wait()
    assert browser.consent_status == 400


def test_port_in_use(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        opened = []
        with pytest.raises(AuthError, match=f"port {port} on localhost is in use"):
            authorize(_options(client_file, tmp_path, port=port), opener=opened.append)
    assert opened == []


def test_fixed_port_is_used_and_released(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    port = free_port()
    for _ in range(2):  # a second run on the same port straight after works
        browser = ScriptedBrowser()
        result = authorize(_options(client_file, tmp_path, port=port), opener=browser)
        browser.wait()
        assert result.redirect_uri == f"http://127.0.0.1:{port}/"


def test_timeout_when_the_browser_never_comes_back(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    started = time.monotonic()
    with pytest.raises(AuthError, match="no answer from the browser within 0.5 s"):
        authorize(_options(client_file, tmp_path, timeout=0.5), opener=lambda url: True)
    assert time.monotonic() - started < 5


def test_no_browser_and_no_terminal_fails_fast(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    started = time.monotonic()
    with pytest.raises(AuthError, match="no browser could be opened and stdin is not"):
        authorize(
            _options(client_file, tmp_path, interactive=False, timeout=60),
            opener=lambda url: False,
        )
    assert time.monotonic() - started < 5


def test_no_browser_on_a_terminal_prints_the_url_and_waits(
    fake, desktop_client, tmp_path
):
    _, client_file = desktop_client
    prompts = []

    def on_url(url, opened):
        prompts.append(opened)
        # The user opens the URL by hand, e.g. after `ssh -L`.
        ScriptedBrowser()(url)

    result = authorize(
        _options(client_file, tmp_path), opener=lambda u: False, on_url=on_url
    )
    assert prompts == [False]
    assert result.path.exists()


def _paster(answer_for):
    """A read_paste callback answering with answer_for(auth_url), once."""
    state = {}

    def on_url(url, opened):
        state["url"] = url
        state["opened"] = opened

    def read(timeout):
        if "done" in state:
            return None
        state["done"] = True
        return answer_for(state["url"])

    return on_url, read, state


def test_paste_the_redirected_address(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    on_url, read, state = _paster(lambda url: consent_redirect(url) + "\n")
    result = authorize(
        _options(client_file, tmp_path, paste=True), read_paste=read, on_url=on_url
    )
    assert state["opened"] is False
    assert json.loads(result.path.read_text())["refresh_token"]
    redirect = fake.auth_requests[-1]["redirect_uri"]
    assert redirect.startswith("http://127.0.0.1:")
    with pytest.raises(requests.ConnectionError):  # nothing listens in paste mode
        requests.get(redirect, timeout=2)


def test_paste_just_the_code_still_percent_encoded(fake, desktop_client, tmp_path):
    _, client_file = desktop_client

    def code_only(url):
        code = parse_qs(urlsplit(consent_redirect(url)).query)["code"][0]
        return "  " + quote(code, safe="") + "  \n"

    on_url, read, _ = _paster(code_only)
    result = authorize(
        _options(client_file, tmp_path, paste=True), read_paste=read, on_url=on_url
    )
    assert result.path.exists()


def test_paste_skips_blank_lines(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    lines = ["\n", "   \n"]
    urls = []

    def read(timeout):
        return lines.pop(0) if lines else consent_redirect(urls[0])

    authorize(
        _options(client_file, tmp_path, paste=True),
        read_paste=read,
        on_url=lambda url, opened: urls.append(url),
    )
    assert lines == []


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda loc: loc.replace("state=", "state=forged"), "state mismatch"),
        (lambda loc: loc.split("?")[0] + "?scope=x", "has no code"),
    ],
)
def test_paste_bad_addresses(fake, desktop_client, tmp_path, tamper, message):
    _, client_file = desktop_client
    on_url, read, _ = _paster(lambda url: tamper(consent_redirect(url)))
    with pytest.raises(AuthError, match=message):
        authorize(
            _options(client_file, tmp_path, paste=True), read_paste=read, on_url=on_url
        )
    assert fake.token_grants == []


def test_paste_denied(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    on_url, read, _ = _paster(lambda url: consent_redirect(url, "deny"))
    with pytest.raises(AuthError, match="access was denied"):
        authorize(
            _options(client_file, tmp_path, paste=True), read_paste=read, on_url=on_url
        )


def test_paste_end_of_input_fails_at_once(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    with pytest.raises(AuthError, match="stdin ended before an address was pasted"):
        authorize(
            _options(client_file, tmp_path, paste=True),
            read_paste=lambda timeout: None,
        )


def test_paste_timeout(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    waits = []

    def read(timeout):
        waits.append(timeout)
        raise TimeoutError

    with pytest.raises(AuthError, match="nothing was pasted within 7 s"):
        authorize(
            _options(client_file, tmp_path, paste=True, timeout=7), read_paste=read
        )
    assert 0 < waits[0] <= 7


def test_a_code_is_single_use(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    codes = []

    def first(url):
        location = consent_redirect(url)
        codes.append(parse_qs(urlsplit(location).query)["code"][0])
        return location

    on_url, read, _ = _paster(first)
    authorize(
        _options(client_file, tmp_path, paste=True), read_paste=read, on_url=on_url
    )
    # Replaying the code (in a new run, so no state to match) is refused.
    with pytest.raises(
        AuthError, match="authorization code was refused.*invalid_grant"
    ):
        authorize(
            _options(client_file, tmp_path, paste=True),
            read_paste=lambda timeout: codes[0],
        )


def test_wrong_client_secret(fake, desktop_client, tmp_path):
    client, client_file = desktop_client
    doc = json.loads(client_file.read_text())
    doc["installed"]["client_secret"] = "GOCSPX-not-the-secret"
    client_file.write_text(json.dumps(doc))
    browser = ScriptedBrowser()
    with pytest.raises(AuthError, match="refused the client .invalid_client."):
        authorize(_options(client_file, tmp_path), opener=browser)
    browser.wait()


def test_unreachable_token_endpoint(fake, desktop_client, tmp_path):
    _, client_file = desktop_client
    doc = json.loads(client_file.read_text())
    dead = f"http://127.0.0.1:{free_port()}/token"
    doc["installed"]["token_uri"] = dead
    client_file.write_text(json.dumps(doc))
    browser = ScriptedBrowser()
    with pytest.raises(AuthError, match=f"cannot reach the token endpoint {dead}"):
        authorize(_options(client_file, tmp_path), opener=browser)
    browser.wait()


def test_pkce_verifier_is_checked_by_the_stand_in(fake, desktop_client, tmp_path):
    client, client_file = desktop_client
    on_url, read, state = _paster(consent_redirect)
    location = None

    def grab(timeout):
        nonlocal location
        location = read(timeout)
        return location

    # A real run, to get a code bound to a real challenge...
    authorize(
        _options(client_file, tmp_path, paste=True), read_paste=grab, on_url=on_url
    )
    # ...then a fresh code exchanged with the wrong verifier.
    location = consent_redirect(state["url"])
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": fake.auth_requests[-1]["redirect_uri"],
        "code_verifier": "x" * 64,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
    }
    answer = requests.post(fake.token_uri, data=form, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no client file at"),
        ("not json", "is not JSON"),
        ('{"type": "service_account"}', "is a service-account key"),
        ('{"other": {}}', "has no 'installed' or 'web' client"),
        (
            '{"installed": {"client_id": "x", "auth_uri": "http://a", "token_uri": "http://b"}}',
            "lacks client_secret",
        ),
        (
            '{"installed": {"client_id": "x", "client_secret": "s", "auth_uri": "ftp://a",'
            ' "token_uri": "http://b"}}',
            "auth_uri is not an http",
        ),
    ],
)
def test_invalid_client_files(tmp_path, content, message):
    path = tmp_path / "client.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        authorize(_options(path, tmp_path), opener=lambda url: True)


def test_existing_own_folder_is_tightened_and_user_folder_left(
    fake, desktop_client, tmp_path
):
    _, client_file = desktop_client
    own = tmp_path / "config" / "devkit"
    own.mkdir(parents=True, mode=0o755)
    own.chmod(0o755)
    browser = ScriptedBrowser()
    authorize(
        AuthOptions(client_secrets=client_file, output=own / "p.json", own_dir=True),
        opener=browser,
    )
    browser.wait()
    assert _mode(own) == 0o700
    assert _mode(own / "p.json") == 0o600
    mine = tmp_path / "shared"
    mine.mkdir(mode=0o755)
    mine.chmod(0o755)
    browser = ScriptedBrowser()
    authorize(
        AuthOptions(client_secrets=client_file, output=mine / "p.json"), opener=browser
    )
    browser.wait()
    assert _mode(mine) == 0o755
    assert _mode(mine / "p.json") == 0o600


def test_parse_pasted_forms():
    assert (
        parse_pasted("http://127.0.0.1:5/?state=s&code=4/0Ab&scope=x", "s") == "4/0Ab"
    )
    assert parse_pasted("?state=s&code=abc", "s") == "abc"
    assert parse_pasted("state=s&code=abc\n", "s") == "abc"
    assert parse_pasted("4%2F0Abc", "s") == "4/0Abc"


def test_loopback_ignores_stray_requests_until_the_redirect():
    with LoopbackReceiver(0, "/cb") as receiver:
        receiver.expect_state("s1")
        statuses = []

        def browse():
            base = f"http://127.0.0.1:{receiver.port}"
            for path in (
                "/favicon.ico",
                "/cb",
                "/cb?code=c&state=s2",
                "/cb?error=access_denied",
                "/cb?code=c&state=s1",
                "/cb?code=again&state=s1",  # a replay after the answer
            ):
                statuses.append(requests.get(base + path, timeout=5).status_code)

        thread = threading.Thread(target=browse)
        thread.start()
        params = receiver.wait(time.monotonic() + 10)
        thread.join()
        assert receiver.ignored == 3
    assert params == {"code": "c", "state": "s1"}
    assert statuses == [404, 404, 400, 400, 200, 400]


def test_loopback_deadline():
    with LoopbackReceiver(0, "/") as receiver, pytest.raises(RedirectTimeout):
        receiver.wait(time.monotonic() + 0.2)


def test_web_client_registered_as_localhost(fake, tmp_path):
    port = free_port()
    uri = f"http://localhost:{port}/"
    client = fake.add_client("web", [uri])
    client_file = fake.client_file(tmp_path / "web.json", client)
    # pytest-socket allows 127.0.0.1 only; a real browser falls back to it from ::1.
    browser = ScriptedBrowser(
        rewrite_redirect=lambda u: u.replace("localhost", "127.0.0.1")
    )
    result = authorize(_options(client_file, tmp_path), opener=browser)
    browser.wait()
    assert fake.auth_requests[-1]["redirect_uri"] == uri  # sent exactly as registered
    assert result.path.exists()


def test_web_client_paste_uses_the_registered_uri(fake, tmp_path):
    uri = f"http://127.0.0.1:{free_port()}/oauth2callback"
    client = fake.add_client("web", [uri])
    client_file = fake.client_file(tmp_path / "web.json", client)
    on_url, read, _ = _paster(consent_redirect)
    authorize(
        _options(client_file, tmp_path, paste=True), read_paste=read, on_url=on_url
    )
    assert fake.auth_requests[-1]["redirect_uri"] == uri
