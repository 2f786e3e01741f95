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
    FORBIDDEN_PACKAGE,
    OTHER_PACKAGE,
    PACKAGE,
    FakeGoogle,
    free_port,
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
    assert err.startswith("warning: not acknowledged") == (
        token in ("pending-token", "test-token")
    )


def test_summary_fields(fake, stored_credentials):
    summary = _verify(fake, stored_credentials, "canceled-token")
    assert summary.entitled and summary.state == "CANCELED"
    assert summary.product_ids == ("premium_monthly",)
    assert summary.auto_renew is False
    assert summary.acknowledged and not summary.test_purchase
    assert summary.expiry > datetime.now(UTC) + timedelta(days=9)
    assert summary.document["canceledStateContext"]["userInitiatedCancellation"]
    # The access token came from the stored refresh token, via the stored token URI.
    assert fake.token_grants[-1] == "refresh_token"
    assert fake.api_calls[-1].endswith("/subscriptionsv2/tokens/canceled-token")


def test_json_prints_the_api_document(fake, stored_credentials, output):
    assert _cli(fake, stored_credentials, PACKAGE, "expired-token", "--json") == 1
    out, _ = output.read()
    doc = json.loads(out)
    assert doc["subscriptionState"] == "SUBSCRIPTION_STATE_EXPIRED"
    assert doc["lineItems"][0]["productId"] == "premium_monthly"


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
    assert not is_entitled("CANCELED", None, now)
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
    assert "OAuth client was refused (invalid_client)" in output.read()[1]


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
