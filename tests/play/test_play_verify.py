from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from devkit.cli import main
from devkit.play.verify import (
    VerifyOptions,
    is_entitled,
    parse_time,
    summarize_subscription,
    verify_purchase,
)
from testing.fake_google import (
    CAPTIVE_PORTAL,
    FORBIDDEN_PACKAGE,
    OTHER_PACKAGE,
    PACKAGE,
    FakeGoogle,
    Raw,
    free_port,
    html_error_page,
    service_disabled_error,
    subscription_document,
)


def _verify(fake, creds, token, **kw):
    return verify_purchase(
        VerifyOptions(
            package=kw.pop("package", PACKAGE),
            purchase_token=token,
            credentials=creds,
            api_endpoint=fake.url,
            **kw,
        )
    )


def _cli(fake, creds, *args, endpoint=True):
    argv = ["play-verify", *args, "--credentials", str(creds)]
    if endpoint:
        argv += ["--api-endpoint", fake.url]
    return main(argv)


# -- every outcome, through the CLI: exit code and summary ---------------------

OUTCOMES = [
    ("active-token", 0, "ACTIVE", "auto-renew: on"),
    ("grace-token", 0, "IN_GRACE_PERIOD", "auto-renew: on"),
    ("canceled-token", 0, "CANCELED", "auto-renew: off"),
    ("expired-token", 1, "EXPIRED", "auto-renew: off"),
    ("pending-token", 1, "PENDING", "expires: -"),
    ("on-hold-token", 1, "ON_HOLD", "product: premium_monthly"),
    ("paused-token", 1, "PAUSED", "acknowledged: yes"),
    ("test-token", 0, "ACTIVE", "test purchase: yes"),
]


@pytest.mark.parametrize(("token", "code", "state", "line"), OUTCOMES)
def test_subscription_outcomes(
    fake, stored_credentials, output, token, code, state, line
):
    assert _cli(fake, stored_credentials, PACKAGE, token) == code
    out, err = output.read()
    assert f"state: {state}\n" in out
    assert f"entitled: {'yes' if code == 0 else 'no'}\n" in out
    assert line in out.splitlines()
    # Only a purchase that entitles can (and must) be acknowledged.
    assert err.startswith("warning: not acknowledged") == (token == "test-token")


def test_summary_fields(fake, stored_credentials):
    summary = _verify(fake, stored_credentials, "canceled-token")
    assert summary.entitled and summary.state == "CANCELED"
    assert summary.product_ids == ("premium_monthly",)
    assert summary.auto_renewing is False
    assert summary.acknowledged and not summary.test_purchase
    assert summary.expiry > datetime.now(UTC) + timedelta(days=9)
    assert summary.document["canceledStateContext"]["userInitiatedCancellation"]
    # The access token came from the stored refresh token, via the stored token URI.
    assert fake.token_grants[-1] == "refresh_token"
    assert fake.api_calls[-1].endswith("/subscriptionsv2/tokens/canceled-token")


VERDICT_KEYS = {
    "kind",
    "package",
    "purchase_token",
    "entitled",
    "reason",
    "state",
    "expiry",
    "product_ids",
    "acknowledged",
    "test_purchase",
    "linked_purchase_token",
    "advice",
    "auto_renewing",
    "external_account_ids",
    "purchased_at",
    "consumed",
    "exit_code",
    "raw",
}


def test_json_prints_one_verdict_object(fake, stored_credentials, output):
    assert _cli(fake, stored_credentials, PACKAGE, "expired-token", "--json") == 1
    out, _ = output.read()
    doc = json.loads(out)
    assert set(doc) == VERDICT_KEYS
    assert doc["entitled"] is False and doc["reason"] == "expired"
    assert doc["state"] == "EXPIRED" and doc["product_ids"] == ["premium_monthly"]
    assert doc["expiry"].endswith("Z") and doc["auto_renewing"] is False
    assert doc["linked_purchase_token"] is None and doc["exit_code"] == 1
    assert doc["raw"]["subscriptionState"] == "SUBSCRIPTION_STATE_EXPIRED"


def test_json_error_is_one_object_too(fake, stored_credentials, output):
    argv = [PACKAGE, "unknown-token-1234567890", "--json"]
    assert _cli(fake, stored_credentials, *argv) == 5
    out, err = output.read()
    doc = json.loads(out)
    assert set(doc) == {"error", "code", "exit_code", "hint"}
    assert doc["exit_code"] == 5 and doc["code"] == "purchaseTokenNotFound"
    assert doc["error"].startswith("no purchase with this token in com.example.app")
    assert doc["hint"].startswith("check the package name")
    assert err.startswith("error: no purchase with this token")


def test_linked_purchase_token_is_shown_with_what_to_do(
    fake, stored_credentials, output
):
    now = fake.clock()
    fake.add_subscription(
        "upgraded-token-1",
        subscription_document("ACTIVE", now=now, linked="old-token-1"),
    )
    fake.add_subscription(
        "pending-change-1",
        subscription_document(
            "PENDING_PURCHASE_CANCELED", now=now, expires_in=None, linked="old-token-2"
        ),
    )
    assert _cli(fake, stored_credentials, PACKAGE, "upgraded-token-1") == 0
    out = output.read()[0]
    assert "linked purchase token: old-token-1\n" in out
    assert "stop granting it through the linked token, without revoking" in out
    assert _cli(fake, stored_credentials, PACKAGE, "pending-change-1", "--json") == 1
    doc = json.loads(output.read()[0])
    assert doc["linked_purchase_token"] == "old-token-2"
    assert "check it (devkit play-verify com.example.app LINKED_TOKEN)" in doc["advice"]
    assert doc["reason"] == "the pending purchase was canceled before payment"


def test_external_account_ids(fake, stored_credentials, output):
    doc = subscription_document("ACTIVE", now=fake.clock(), account_id="user-42")
    fake.add_subscription("with-account-1", doc)
    assert _cli(fake, stored_credentials, PACKAGE, "with-account-1", "--json") == 0
    got = json.loads(output.read()[0])["external_account_ids"]
    assert got == {"obfuscatedExternalAccountId": "user-42"}


def test_canceled_without_expiry_is_entitled_and_says_why(fake, stored_credentials):
    doc = subscription_document("CANCELED", now=fake.clock(), expires_in=None)
    verdict = summarize_subscription(PACKAGE, doc, datetime.now(UTC))
    assert verdict.entitled
    assert verdict.reason == (
        "canceled, not expired yet according to Google (no expiryTime on any line item)"
    )


@pytest.mark.parametrize(
    ("token", "code", "state"),
    [
        ("product-token", 0, "PURCHASED"),
        ("product-canceled", 1, "CANCELED"),
        ("product-pending", 1, "PENDING"),
    ],
)
def test_one_time_products(fake, stored_credentials, output, token, code, state):
    args = [PACKAGE, token, "--product", "coins_100"]
    assert _cli(fake, stored_credentials, *args) == code
    out, _ = output.read()
    assert f"state: {state}\n" in out and "product: coins_100\n" in out
    assert fake.api_calls[-1].endswith(f"/products/coins_100/tokens/{token}")


def test_purchase_token_from_stdin(fake, stored_credentials, output, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("active-token\n"))
    assert _cli(fake, stored_credentials, PACKAGE, "-") == 0
    assert fake.api_calls[-1].endswith("/tokens/active-token")


def test_api_endpoint_from_environment(fake, stored_credentials, output, monkeypatch):
    monkeypatch.setenv("DEVKIT_PLAY_API_ENDPOINT", fake.url)
    assert _cli(fake, stored_credentials, PACKAGE, "active-token", endpoint=False) == 0


def test_default_credentials_location(
    fake, stored_credentials, output, tmp_path, monkeypatch
):
    config = tmp_path / "config"
    (config / "devkit").mkdir(parents=True)
    stored_credentials.rename(config / "devkit" / "play-credentials.json")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    argv = ["play-verify", PACKAGE, "active-token", "--api-endpoint", fake.url]
    assert main(argv) == 0


def test_canceled_subscription_stops_entitling_at_expiry(fake, stored_credentials):
    doc = _verify(fake, stored_credentials, "canceled-token").document
    expiry = parse_time(doc["lineItems"][0]["expiryTime"])
    before = summarize_subscription(PACKAGE, doc, expiry - timedelta(seconds=1))
    after = summarize_subscription(PACKAGE, doc, expiry + timedelta(seconds=1))
    assert before.entitled and not after.entitled


def test_entitlement_rule():
    now = datetime(2026, 11, 27, tzinfo=UTC)
    later, earlier = now + timedelta(hours=1), now - timedelta(hours=1)
    assert is_entitled("ACTIVE", earlier, now)  # Google's state wins
    assert is_entitled("IN_GRACE_PERIOD", None, now)
    assert is_entitled("CANCELED", later, now)
    assert not is_entitled("CANCELED", earlier, now)
    assert is_entitled("CANCELED", None, now)  # Google: "not expired yet"
    for state in (
        "EXPIRED",
        "PENDING",
        "ON_HOLD",
        "PAUSED",
        "PENDING_PURCHASE_CANCELED",
        "",
    ):
        assert not is_entitled(state, later, now)


def test_parse_time():
    assert parse_time("2026-11-27T10:00:00.123456789Z") == datetime(
        2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_time("2026-11-27T12:00:00+02:00") == datetime(
        2026, 11, 27, 10, tzinfo=UTC
    )
    assert parse_time("2026-11-27T10:00:00Z").tzinfo is not None
    assert parse_time("soon") is None and parse_time(None) is None


def test_unknown_state_does_not_entitle():
    doc = subscription_document("ACTIVE", now=0)
    doc["subscriptionState"] = "SUBSCRIPTION_STATE_SOMETHING_NEW"
    assert not summarize_subscription(PACKAGE, doc, datetime.now(UTC)).entitled


# -- service accounts ------------------------------------------------------------


def test_service_account_key(fake, tmp_path, output):
    key = fake.service_account_key(tmp_path / "key.json")
    argv = ["play-verify", PACKAGE, "active-token", "--service-account", str(key)]
    assert main([*argv, "--api-endpoint", fake.url]) == 0
    assert fake.token_grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert "state: ACTIVE" in output.read()[0]


def test_service_account_from_environment_and_flag_precedence(
    fake, tmp_path, stored_credentials, output, monkeypatch
):
    key = fake.service_account_key(tmp_path / "key.json")
    monkeypatch.setenv("DEVKIT_PLAY_SERVICE_ACCOUNT", str(key))
    # The --credentials flag beats the variable.
    assert _cli(fake, stored_credentials, PACKAGE, "active-token") == 0
    assert fake.token_grants[-1] == "refresh_token"
    argv = ["play-verify", PACKAGE, "active-token", "--api-endpoint", fake.url]
    assert main(argv) == 0
    assert fake.token_grants[-1].endswith("jwt-bearer")


def test_service_account_without_play_console_access(fake, tmp_path, output):
    key = fake.service_account_key(
        tmp_path / "key.json", "new-sa@example-project.iam.gserviceaccount.com"
    )
    argv = ["play-verify", PACKAGE, "active-token", "--service-account", str(key)]
    assert main([*argv, "--api-endpoint", fake.url]) == 4
    err = output.read()[1]
    assert "401 permissionDenied" in err and "about 24 hours" in err


def test_service_account_key_unknown_to_google(fake, tmp_path, output):
    key = fake.service_account_key(tmp_path / "key.json")
    fake.service_accounts.clear()  # the key was deleted in Cloud Console
    argv = ["play-verify", PACKAGE, "active-token", "--service-account", str(key)]
    assert main([*argv, "--api-endpoint", fake.url]) == 4
    assert "service-account key was refused (invalid_grant" in output.read()[1]


# -- errors and their exit codes ---------------------------------------------------


@pytest.mark.parametrize(
    ("package", "token", "code", "message"),
    [
        (
            OTHER_PACKAGE,
            "active-token",
            4,
            "401 permissionDenied for com.example.other",
        ),
        (FORBIDDEN_PACKAGE, "active-token", 4, "403 forbidden"),
        (
            PACKAGE,
            "x",
            5,
            "invalid purchase token for com.example.app (400 Invalid Value)",
        ),
        (PACKAGE, "unknown-token-1234567890", 5, "no purchase with this token"),
        (PACKAGE, "gone-token", 5, "no longer available (410"),
    ],
)
def test_api_errors(fake, stored_credentials, output, package, token, code, message):
    assert _cli(fake, stored_credentials, package, token) == code
    out, err = output.read()
    assert out == ""
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    if code == 4:
        assert "Users and permissions" in err and "about 24 hours" in err


def test_unknown_product_token(fake, stored_credentials, output):
    args = [PACKAGE, "unknown-token-1234567890", "--product", "coins_999"]
    assert _cli(fake, stored_credentials, *args) == 5
    assert "product coins_999 of com.example.app" in output.read()[1]


def test_revoked_refresh_token(fake, stored_credentials, output):
    fake.revoke(json.loads(stored_credentials.read_text())["refresh_token"])
    assert _cli(fake, stored_credentials, PACKAGE, "active-token") == 4
    err = output.read()[1]
    assert "invalid_grant: Token has been expired or revoked" in err
    assert "run devkit play-auth again" in err
    assert fake.api_calls == []


def test_testing_status_token_expires_after_7_days(fake, stored_credentials, output):
    fake.refresh_token_ttl = 7 * 86400
    assert _cli(fake, stored_credentials, PACKAGE, "active-token") == 0
    real_clock = fake.clock
    fake.clock = lambda: real_clock() + 7 * 86400 + 60
    assert _cli(fake, stored_credentials, PACKAGE, "active-token") == 4
    assert "7 days while the consent screen is in Testing" in output.read()[1]


def test_deleted_oauth_client(fake, stored_credentials, output):
    fake.clients.clear()
    assert _cli(fake, stored_credentials, PACKAGE, "active-token") == 4
    assert "OAuth client was refused (invalid_client: Unauthorized)" in output.read()[1]


def test_unreachable_token_endpoint(fake, stored_credentials, output):
    doc = json.loads(stored_credentials.read_text())
    doc["token_uri"] = f"http://127.0.0.1:{free_port()}/token"
    stored_credentials.write_text(json.dumps(doc))
    assert _cli(fake, stored_credentials, PACKAGE, "active-token") == 6
    assert f"cannot reach the token endpoint {doc['token_uri']}" in output.read()[1]


def test_access_token_refused_by_the_api(fake, stored_credentials, output):
    with FakeGoogle() as elsewhere:  # an API that did not issue the token
        argv = ["play-verify", PACKAGE, "active-token"]
        argv += [
            "--credentials",
            str(stored_credentials),
            "--api-endpoint",
            elsewhere.url,
        ]
        assert main(argv) == 4
    err = output.read()[1]
    assert "401 authError" in err and "lack the androidpublisher scope" in err


def test_unreachable_api(fake, stored_credentials, output):
    dead = f"http://127.0.0.1:{free_port()}"
    argv = [
        "play-verify",
        PACKAGE,
        "active-token",
        "--credentials",
        str(stored_credentials),
    ]
    assert main([*argv, "--api-endpoint", dead]) == 6
    assert f"cannot reach the Play Developer API at {dead}" in output.read()[1]


def test_server_error(fake, stored_credentials, output):
    fake.add_subscription("flaky-token-123456", 503)
    assert _cli(fake, stored_credentials, PACKAGE, "flaky-token-123456") == 6
    assert "answered 503 Backend Error: retry later" in output.read()[1]


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (None, 2, "no credentials file at"),
        ("[]", 2, "is not a JSON credentials file"),
        ('{"client_id": "x"}', 2, "lacks refresh_token, client_secret, token_uri"),
        (
            '{"type": "service_account", "client_email": "x"}',
            2,
            "not a usable service-account key",
        ),
    ],
)
def test_unusable_credentials_files(tmp_path, output, content, code, message):
    path = tmp_path / "creds.json"
    if content is not None:
        path.write_text(content)
    argv = ["play-verify", PACKAGE, "t", "--credentials", str(path)]
    assert main(argv) == code
    err = output.read()[1]
    assert message in err
    if content is None:
        assert "run `devkit play-auth --client-secrets FILE` first" in err


def test_both_credential_flags_is_a_usage_error(tmp_path, output):
    argv = [
        "play-verify",
        PACKAGE,
        "t",
        "--credentials",
        "a.json",
        "--service-account",
        "b.json",
    ]
    assert main(argv) == 2
    assert "either --credentials or --service-account" in output.read()[1]


# -- hostile answers: outages, proxies, captive portals (item 6, 9) -----------


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "<" not in lines[0], "raw HTML in the message"
    assert ": None" not in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (html_error_page(502), "answered 502 with an HTML page ('Error 502 (Bad"),
        (html_error_page(503), "answered 503 with an HTML page ('Error 503"),
        (CAPTIVE_PORTAL, "answered 200 with an HTML page ('Hotel Wi-Fi - Sign in')"),
        (
            Raw(200, '{"token_type": "Bearer"}', "application/json"),
            "answered 200 without an access_token",
        ),
        (
            Raw(500, '{"error": "internal_failure"}', "application/json"),
            "failed (500 internal_failure)",
        ),
        (
            Raw(400, '{"error": "temporarily_unavailable"}', "application/json"),
            "failed (400 temporarily_unavailable)",
        ),
    ],
)
def test_token_endpoint_outages_exit_6_not_4(
    fake, stored_credentials, output, answer, message
):
    fake.token_answer = answer
    assert _cli(fake, stored_credentials, PACKAGE, "active-token") == 6
    line = _one_line(output.read()[1])
    assert line.startswith("error: the token endpoint http://127.0.0.1:")
    assert message in line
    assert fake.api_calls == []


def test_token_endpoint_refusal_without_description_has_no_none(
    fake, stored_credentials, output
):
    fake.token_answer = Raw(400, '{"error": "invalid_grant"}', "application/json")
    assert _cli(fake, stored_credentials, PACKAGE, "active-token") == 4
    line = _one_line(output.read()[1])
    assert "(invalid_grant)" in line


@pytest.mark.parametrize(
    ("answer", "code", "message"),
    [
        (html_error_page(502), 6, "answered 502 with an HTML page ('Error 502"),
        (html_error_page(503), 6, "answered 503 with an HTML page ('Error 503"),
        (CAPTIVE_PORTAL, 6, "answered 200 with an HTML page ('Hotel Wi-Fi"),
        (Raw(200, "[1, 2]", "application/json"), 6, "instead of a JSON object"),
        (Raw(403, "<html>Forbidden by proxy</html>"), 6, "answered 403 with an HTML"),
    ],
)
def test_api_answers_that_are_not_google_exit_6(
    fake, stored_credentials, output, answer, code, message
):
    fake.add_subscription("odd-token-123456", answer)
    assert _cli(fake, stored_credentials, PACKAGE, "odd-token-123456") == code
    assert message in _one_line(output.read()[1])


def test_service_disabled_gets_the_enable_hint(fake, stored_credentials, output):
    fake.api_answer = service_disabled_error("4242")
    assert _cli(fake, stored_credentials, PACKAGE, "active-token") == 4
    line = _one_line(output.read()[1])
    assert "403 SERVICE_DISABLED" in line
    assert "enable it at https://console.developers.google.com/apis/api/" in line
    assert "project=4242" in line
    assert "Users and permissions" not in line


# -- batch checks (item 14) ----------------------------------------------------


def test_batch_checks_in_input_order_with_one_access_token(
    fake, stored_credentials, output, tmp_path
):
    fake.add_subscription("flaky-token-123456", 503)
    tokens = tmp_path / "tokens.txt"
    lines = [
        "# header comment",
        "active-token",
        f"{PACKAGE} expired-token",
        "",
        json.dumps({"token": "product-token", "product_id": "coins_100"}),
        "unknown-token-1234567890",
        "canceled-token",
    ]
    tokens.write_text("\n".join(lines) + "\n")
    grants_before = len(fake.token_grants)
    argv = [PACKAGE, "--tokens", str(tokens), "--concurrency", "3"]
    assert _cli(fake, stored_credentials, *argv) == 5  # the worst: not found
    out, err = output.read()
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["purchase_token"] for r in results] == [
        "active-token",
        "expired-token",
        "product-token",
        "unknown-token-1234567890",
        "canceled-token",
    ]
    assert [r["exit_code"] for r in results] == [0, 1, 0, 5, 0]
    assert results[2]["kind"] == "product" and results[2]["state"] == "PURCHASED"
    assert results[3]["code"] == "purchaseTokenNotFound" and results[3]["line"] == 6
    assert set(results[0]) == VERDICT_KEYS
    assert fake.token_grants[grants_before:] == ["refresh_token"]  # one per run
    assert "checked 5 purchase(s): 3 entitled, 1 not, 1 errors" in err


def test_batch_exit_code_is_the_worst_and_concurrency_is_bounded(
    fake, stored_credentials, output, tmp_path
):
    fake.add_subscription("flaky-token-123456", 503)
    fake.api_delay = 0.02
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(["active-token"] * 12 + ["flaky-token-123456"]))
    argv = [PACKAGE, "--tokens", str(tokens), "--concurrency", "3"]
    assert _cli(fake, stored_credentials, *argv) == 6
    results = [json.loads(line) for line in output.read()[0].splitlines()]
    assert len(results) == 13 and results[-1]["exit_code"] == 6
    assert fake.max_in_flight <= 3


def test_batch_from_stdin_and_bad_lines(fake, stored_credentials, output, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("active-token\n"))
    assert _cli(fake, stored_credentials, PACKAGE, "--tokens", "-") == 0
    assert json.loads(output.read()[0])["entitled"] is True
    monkeypatch.setattr("sys.stdin", io.StringIO("a b c\n"))
    assert _cli(fake, stored_credentials, PACKAGE, "--tokens", "-") == 2
    assert "line 1 of --tokens has 3 words" in output.read()[1]
    monkeypatch.setattr("sys.stdin", io.StringIO("active-token\n"))
    assert _cli(fake, stored_credentials, "--tokens", "-") == 2
    assert "line 1 of --tokens names no package" in output.read()[1]


def test_batch_with_refused_credentials_fails_once(fake, stored_credentials, output):
    import io

    fake.revoke(json.loads(stored_credentials.read_text())["refresh_token"])
    lines = "active-token\nexpired-token\n"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(lines))
        assert _cli(fake, stored_credentials, PACKAGE, "--tokens", "-") == 4
    out, err = output.read()
    assert out == "" and "invalid_grant" in err and fake.api_calls == []
