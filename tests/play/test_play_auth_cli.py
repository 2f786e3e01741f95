from __future__ import annotations

import json
import os
import select
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from devkit.cli import main
from testing.fake_google import PACKAGE, ScriptedBrowser, consent_redirect


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_play_auth_then_play_verify(fake, desktop_client, output, monkeypatch):
    _, client_file = desktop_client
    browser = ScriptedBrowser()
    monkeypatch.setattr("devkit.cli.play._open_browser", browser)
    assert main(["play-auth", "--client-secrets", str(client_file)]) == 0
    browser.wait()
    out, err = output.read()
    default = Path(os.environ["XDG_CONFIG_HOME"]) / "devkit" / "play-credentials.json"
    assert out == f"{default}\n"
    assert _mode(default) == 0o600 and _mode(default.parent) == 0o700
    assert "Opened your browser" in err
    assert "warning: if the app's OAuth consent screen is in Testing status" in err
    assert "7 days" in err
    argv = ["play-verify", PACKAGE, "active-token", "--api-endpoint", fake.url]
    assert main(argv) == 0
    assert "entitled: yes" in output.read()[0]


def test_play_auth_json_and_output_flag(
    fake, desktop_client, output, monkeypatch, tmp_path
):
    _, client_file = desktop_client
    monkeypatch.setattr("devkit.cli.play._open_browser", ScriptedBrowser())
    target = tmp_path / "secrets" / "play.json"
    argv = ["play-auth", "--client-secrets", str(client_file), "--output", str(target)]
    assert main([*argv, "--json", "-q"]) == 0
    out, err = output.read()
    doc = json.loads(out)
    assert doc["credentials"] == str(target)
    assert doc["client_type"] == "installed"
    assert set(doc) == {"credentials", "client_id", "client_type", "scopes"}
    assert err.startswith("warning:")  # -q hides the info, not the warning


def test_play_auth_denied_is_one_line_exit_1(fake, desktop_client, output, monkeypatch):
    _, client_file = desktop_client
    monkeypatch.setattr(
        "devkit.cli.play._open_browser", ScriptedBrowser(decision="deny")
    )
    assert main(["play-auth", "--client-secrets", str(client_file)]) == 1
    out, err = output.read()
    assert out == ""
    assert err.splitlines()[-1].startswith("error: access was denied in the browser")


def test_play_auth_bad_client_file_exit_2(tmp_path, output):
    argv = ["play-auth", "--client-secrets", str(tmp_path / "missing.json")]
    assert main(argv) == 2
    assert "Google Cloud Console" in output.read()[1]


def _spawn(client_file: Path, *extra: str, stdin=subprocess.PIPE):
    env = dict(os.environ, OAUTHLIB_INSECURE_TRANSPORT="1")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devkit",
            "play-auth",
            "--client-secrets",
            str(client_file),
            "--no-browser",
            *extra,
        ],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _read_url(proc, deadline: float) -> str:
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            seen += os.read(proc.stderr.fileno(), 65536)
            for line in seen.decode().splitlines():
                if line.startswith("http") and "/o/oauth2/auth?" in line:
                    return line
    raise AssertionError(f"no URL printed: {seen!r}")


def test_no_browser_paste_through_a_real_process(fake, desktop_client, record_output):
    _, client_file = desktop_client
    proc = _spawn(client_file, "--timeout", "30")
    url = _read_url(proc, time.monotonic() + 20)
    location = consent_redirect(url)
    out, err = proc.communicate(location.encode() + b"\n", timeout=30)
    record_output(out.decode() + err.decode())
    assert proc.returncode == 0, err
    stored = Path(out.decode().strip())
    assert (
        json.loads(stored.read_text())["refresh_token"]
        == fake.issued_refresh_tokens[-1]
    )
    assert _mode(stored) == 0o600


def test_no_tty_and_nothing_pasted_fails_fast(fake, desktop_client, record_output):
    _, client_file = desktop_client
    started = time.monotonic()
    proc = _spawn(client_file, stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=30)
    record_output(out.decode() + err.decode())
    assert proc.returncode == 1
    assert (
        time.monotonic() - started < 15
    )  # the interpreter start, not the 300 s timeout
    assert b"error: stdin ended before an address was pasted" in err
    assert out == b""


def test_paste_timeout_through_a_real_process(fake, desktop_client, record_output):
    _, client_file = desktop_client
    proc = _spawn(client_file, "--timeout", "1")
    proc.wait(timeout=30)  # stdin stays open, nothing comes
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdin.close()
    record_output(out.decode() + err.decode())
    assert proc.returncode == 1
    assert b"error: nothing was pasted within 1 s" in err


def test_no_browser_found_prints_url_with_ssh_hint(
    fake, desktop_client, output, monkeypatch
):
    _, client_file = desktop_client
    browser = ScriptedBrowser()

    def user_opens_it_by_hand(url):
        browser(url)  # the person copies the printed URL into a browser
        return False  # webbrowser found none

    monkeypatch.setattr("devkit.cli.play._open_browser", user_opens_it_by_hand)
    monkeypatch.setattr("devkit.cli.play._stdin_is_tty", lambda: True)
    assert main(["play-auth", "--client-secrets", str(client_file)]) == 0
    browser.wait()
    _, err = output.read()
    port = urlsplit(fake.auth_requests[-1]["redirect_uri"]).port
    assert f"ssh -L {port}:127.0.0.1:{port} THIS-HOST" in err
    assert browser.opened[0] in err


def test_no_browser_found_and_no_terminal_fails_fast(
    fake, desktop_client, output, monkeypatch
):
    _, client_file = desktop_client
    monkeypatch.setattr("devkit.cli.play._open_browser", lambda url: False)
    monkeypatch.setattr("devkit.cli.play._stdin_is_tty", lambda: False)
    started = time.monotonic()
    assert main(["play-auth", "--client-secrets", str(client_file)]) == 1
    assert time.monotonic() - started < 5
    assert (
        "error: no browser could be opened and stdin is not a terminal"
        in output.read()[1]
    )


def test_a_console_browser_from_the_browser_variable(
    fake, desktop_client, record_output, tmp_path
):
    # BROWSER names a foreground program (like w3m): webbrowser.open blocks
    # until it exits, and it exits only once the redirect has been answered.
    _, client_file = desktop_client
    log = tmp_path / "browser.jsonl"
    target = tmp_path / "creds" / "play.json"
    root = Path(__file__).resolve().parents[2]
    browser = f"{sys.executable} -m testing.console_browser --log {log} %s"
    env = dict(
        os.environ,
        OAUTHLIB_INSECURE_TRANSPORT="1",
        BROWSER=browser,
        PYTHONPATH=str(root),
    )
    argv = ["play-auth", "--client-secrets", str(client_file), "--output", str(target)]
    proc = subprocess.run(
        [sys.executable, "-m", "devkit", *argv, "--timeout", "60"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=120,
    )
    record_output(proc.stdout.decode() + proc.stderr.decode())
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(log.read_text())
    assert seen["landing_status"] == 200, seen
    assert "devkit received the authorization" in seen["landing_text"]
    assert (
        json.loads(target.read_text())["refresh_token"]
        == (fake.issued_refresh_tokens[-1])
    )


def test_no_browser_reads_lines_that_arrive_in_one_piece(
    fake, desktop_client, record_output
):
    # An empty line and the address in one write: the second line must not be lost.
    _, client_file = desktop_client
    proc = _spawn(client_file, "--timeout", "30")
    url = _read_url(proc, time.monotonic() + 20)
    location = consent_redirect(url)
    out, err = proc.communicate(b"\n" + location.encode() + b"\n", timeout=30)
    record_output(out.decode() + err.decode())
    assert proc.returncode == 0, err
    assert Path(out.decode().strip()).exists()


def test_token_endpoint_outage_during_play_auth_exits_6(
    fake, desktop_client, output, monkeypatch
):
    from testing.fake_google import html_error_page

    _, client_file = desktop_client
    fake.token_answer = html_error_page(502)
    monkeypatch.setattr("devkit.cli.play._open_browser", ScriptedBrowser())
    assert main(["play-auth", "--client-secrets", str(client_file)]) == 6
    err = output.read()[1].strip().splitlines()[-1]
    assert err.startswith("error: the token endpoint http://127.0.0.1:")
    assert "answered 502 with an HTML page ('Error 502 (Bad Gateway)!!1')" in err
