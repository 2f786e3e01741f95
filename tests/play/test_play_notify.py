"""play-notify decode and decode_push: Pub/Sub pushes signed by the stand-in."""

from __future__ import annotations

import json
import re
import threading
from http.server import HTTPServer
from pathlib import Path

import pytest
import requests

from devkit.cli import main
from devkit.play.errors import NotificationRejected, ServiceUnavailable
from devkit.play.notify import PushCheck, decode_push
from testing.fake_google import (
    CAPTIVE_PORTAL,
    PACKAGE,
    PUSH_SERVICE_ACCOUNT,
    developer_notification,
    push_body,
)

AUDIENCE = "https://example.com/play-rtdn"


def _check(fake, **kw):
    return PushCheck(audience=AUDIENCE, certs_url=fake.certs_url, **kw)


def test_a_signed_push_decodes_to_a_typed_event(fake):
    body = push_body(developer_notification("subscription", 4, token="tok-1"))
    event = decode_push(
        body, authorization=fake.push_authorization(AUDIENCE), check=_check(fake)
    )
    assert event.package == PACKAGE and event.kind == "subscription"
    assert event.notification_type == "SUBSCRIPTION_PURCHASED"
    assert event.purchase_token == "tok-1"
    assert event.subscription_id == "premium_monthly"
    assert event.verified_by == PUSH_SERVICE_ACCOUNT
    assert event.message_id == "136969346945"
    assert event.event_time.year == 2025


@pytest.mark.parametrize(
    ("notification", "kind", "name", "field", "value"),
    [
        (
            developer_notification("subscription", 20),
            "subscription",
            "SUBSCRIPTION_PENDING_PURCHASE_CANCELED",
            "subscription_id",
            "premium_monthly",
        ),
        (
            developer_notification("subscription", 99),
            "subscription",
            "UNKNOWN_99",
            "purchase_token",
            "active-token",
        ),
        (
            developer_notification("one_time_product", 1, product_id="coins_100"),
            "one_time_product",
            "ONE_TIME_PRODUCT_PURCHASED",
            "product_id",
            "coins_100",
        ),
        (
            developer_notification("voided_purchase", 1),
            "voided_purchase",
            "PRODUCT_TYPE_SUBSCRIPTION",
            "order_id",
            "GPA.3312-5516-2291-70412",
        ),
        (developer_notification("test"), "test", "TEST", "purchase_token", None),
    ],
)
def test_every_kind_of_notification(notification, kind, name, field, value):
    event = decode_push(push_body(notification))  # no check: decode only
    assert event.kind == kind and event.notification_type == name
    assert getattr(event, field) == value


@pytest.mark.parametrize(
    ("authorization", "check_kw", "message"),
    [
        (lambda f: f.push_authorization("https://attacker.example"), {}, "audience"),
        (lambda f: f.push_authorization(AUDIENCE, lifetime=-120), {}, "did not verify"),
        (lambda f: f.push_authorization(AUDIENCE, trusted=False), {}, "did not verify"),
        (
            lambda f: f.push_authorization(AUDIENCE, issuer="https://evil.example"),
            {},
            "not Google",
        ),
        (
            lambda f: f.push_authorization(AUDIENCE, email="other@example.com"),
            {"service_account_email": PUSH_SERVICE_ACCOUNT},
            "not " + PUSH_SERVICE_ACCOUNT,
        ),
        (lambda f: None, {}, "no bearer token"),
        (lambda f: "Basic dXNlcjpwYXNz", {}, "no bearer token"),
    ],
)
def test_pushes_that_do_not_verify_are_rejected(fake, authorization, check_kw, message):
    body = push_body(developer_notification("subscription", 4))
    with pytest.raises(NotificationRejected, match=message) as caught:
        decode_push(
            body, authorization=authorization(fake), check=_check(fake, **check_kw)
        )
    assert caught.value.exit_code == 8


def test_certificates_that_are_not_json_are_an_outage(fake):
    fake.certs_answer = CAPTIVE_PORTAL
    body = push_body(developer_notification("subscription", 4))
    with pytest.raises(ServiceUnavailable, match="answered 200 with an HTML page"):
        decode_push(
            body, authorization=fake.push_authorization(AUDIENCE), check=_check(fake)
        )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>", "not a JSON object"),
        (b'{"message": {}}', "no message.data"),
        (b'{"message": {"data": "***"}}', "not a base64 JSON"),
        (push_body({"version": "1.0"}), "no packageName"),
        (push_body({"packageName": PACKAGE}), "no notification devkit knows"),
    ],
)
def test_bodies_that_are_not_play_notifications(body, message):
    with pytest.raises(NotificationRejected, match=message):
        decode_push(body)


def _decode_cli(fake, creds, tmp_path, notification, *extra, authorization=None):
    path = tmp_path / "push.json"
    path.write_bytes(push_body(notification))
    argv = ["play-notify", "decode", str(path), "--audience", AUDIENCE]
    argv += ["--certs-url", fake.certs_url, "--credentials", str(creds)]
    argv += ["--api-endpoint", fake.url, "--authorization"]
    argv += [authorization or fake.push_authorization(AUDIENCE), *extra]
    return main(argv)


def test_cli_decode_and_verify_the_purchase(fake, stored_credentials, output, tmp_path):
    notification = developer_notification("subscription", 13, token="expired-token")
    code = _decode_cli(
        fake, stored_credentials, tmp_path, notification, "--verify", "--json"
    )
    assert code == 1  # play-verify's answer: expired, not entitled
    doc = json.loads(output.read()[0])
    assert doc["notification_type"] == "SUBSCRIPTION_EXPIRED"
    assert doc["verified_by"] == PUSH_SERVICE_ACCOUNT
    assert doc["verdict"]["state"] == "EXPIRED" and doc["verdict"]["entitled"] is False
    assert fake.api_calls[-1].endswith("/subscriptionsv2/tokens/expired-token")


def test_cli_one_time_product_verify(fake, stored_credentials, output, tmp_path):
    notification = developer_notification(
        "one_time_product", 1, token="product-token", product_id="coins_100"
    )
    assert (
        _decode_cli(fake, stored_credentials, tmp_path, notification, "--verify") == 0
    )
    out = output.read()[0]
    assert "kind: one_time_product\n" in out and "entitled: yes\n" in out
    assert fake.api_calls[-1].endswith("/products/coins_100/tokens/product-token")


def test_cli_forged_push_exits_8_with_json_error(
    fake, stored_credentials, output, tmp_path
):
    notification = developer_notification("subscription", 4)
    forged = fake.push_authorization(AUDIENCE, trusted=False)
    code = _decode_cli(
        fake, stored_credentials, tmp_path, notification, "--json", authorization=forged
    )
    assert code == 8
    doc = json.loads(output.read()[0])
    assert doc["code"] == "invalid_token" and doc["exit_code"] == 8
    assert fake.api_calls == []


def test_cli_unverified_decode_warns(fake, output, tmp_path, monkeypatch):
    import io

    body = push_body(developer_notification("test"))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(body)))
    assert main(["play-notify", "decode"]) == 0
    out, err = output.read()
    assert "kind: test\n" in out
    assert "warning: the push was not verified" in err


def test_authorization_without_audience_is_a_usage_error(fake, output, tmp_path):
    path = tmp_path / "p.json"
    path.write_bytes(push_body(developer_notification("test")))
    argv = ["play-notify", "decode", str(path), "--authorization", "Bearer x"]
    assert main(argv) == 2
    assert "--authorization needs --audience" in output.read()[1]


def test_the_readme_webhook(fake):
    readme = (Path(__file__).parents[2] / "docs" / "play.md").read_text()
    code = re.search(r"```python\n(# webhook\.py.*?)```", readme, re.S)[1]
    code = code.replace(
        f'PushCheck(audience="{AUDIENCE}")',
        f'PushCheck(audience="{AUDIENCE}", certs_url="{fake.certs_url}")',
    )
    serve = 'HTTPServer(("", 8080), Webhook).serve_forever()'
    assert serve in code
    events = []
    namespace = {"__name__": "webhook"}
    exec(code.replace(serve, ""), namespace)  # noqa: S102 - the README's own code
    namespace["handle"] = events.append
    server = HTTPServer(("127.0.0.1", 0), namespace["Webhook"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    body = push_body(developer_notification("subscription", 12, token="tok-9"))
    try:
        good = requests.post(
            url, data=body, headers={"Authorization": fake.push_authorization(AUDIENCE)}
        )
        forged = requests.post(
            url,
            data=body,
            headers={"Authorization": fake.push_authorization(AUDIENCE, trusted=False)},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert good.status_code == 204 and forged.status_code == 403
    assert [(e.notification_type, e.purchase_token) for e in events] == [
        ("SUBSCRIPTION_REVOKED", "tok-9")
    ]
