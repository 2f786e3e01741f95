"""play-acknowledge, play-consume and play-voided against the stand-in."""

from __future__ import annotations

import json
import os
import stat

import pytest

from devkit.cli import main
from devkit.play.api import PlayApi
from devkit.play.voided import list_voided
from testing.fake_google import PACKAGE, subscription_document


def _run(fake, creds, *argv):
    return main([*argv, "--credentials", str(creds), "--api-endpoint", fake.url])


# -- acknowledge and consume (item 11) -------------------------------------------


def test_acknowledge_a_subscription_reads_its_id_and_is_idempotent(
    fake, stored_credentials, output
):
    doc = subscription_document("ACTIVE", now=fake.clock(), acknowledged=False)
    fake.add_subscription("new-sub-token-1", doc)
    argv = ["play-acknowledge", PACKAGE, "new-sub-token-1"]
    assert _run(fake, stored_credentials, *argv, "--developer-payload", "u42") == 0
    assert output.read()[0] == "acknowledged\n"
    post = [r for r in fake.api_requests if r[0] == "POST"]
    assert post[-1][1].endswith(
        "/purchases/subscriptions/premium_monthly/tokens/new-sub-token-1:acknowledge"
    )
    assert post[-1][3] == {"developerPayload": "u42"}
    assert doc["acknowledgementState"] == "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED"
    # Again: success, and nothing posted (the purchase says it is done).
    assert _run(fake, stored_credentials, *argv, "--json") == 0
    result = json.loads(output.read()[0])
    assert result["already"] is True and result["kind"] == "subscription"
    assert len([r for r in fake.api_requests if r[0] == "POST"]) == len(post)


def test_acknowledge_again_with_the_subscription_id_is_success(
    fake, stored_credentials, output
):
    # Google refuses the repeat (the stand-in does, on purpose): devkit reads back.
    argv = ["play-acknowledge", PACKAGE, "active-token"]
    assert (
        _run(fake, stored_credentials, *argv, "--subscription", "premium_monthly") == 0
    )
    assert output.read()[0] == "already acknowledged\n"


def test_acknowledge_a_pending_subscription_exits_7(fake, stored_credentials, output):
    argv = ["play-acknowledge", PACKAGE, "pending-token", "--subscription"]
    assert _run(fake, stored_credentials, *argv, "premium_monthly") == 7
    err = output.read()[1]
    assert "refused to acknowledge the purchase in state PENDING" in err
    assert "until its payment completes" in err


def test_acknowledge_with_the_wrong_subscription_id(fake, stored_credentials, output):
    doc = subscription_document("ACTIVE", now=fake.clock(), acknowledged=False)
    fake.add_subscription("new-sub-token-2", doc)
    argv = ["play-acknowledge", PACKAGE, "new-sub-token-2", "--subscription", "yearly"]
    assert _run(fake, stored_credentials, *argv, "--json") == 7
    err = json.loads(output.read()[0])
    assert err["code"] == "purchaseTokenDoesNotMatchSubscriptionId"


def test_acknowledge_and_consume_a_product(fake, stored_credentials, output):
    from testing.fake_google import product_document

    doc = product_document(0, now=fake.clock())
    doc["acknowledgementState"] = 0
    fake.add_product("coins_100", "fresh-product-1", doc)
    ack = ["play-acknowledge", PACKAGE, "fresh-product-1", "--product", "coins_100"]
    assert _run(fake, stored_credentials, *ack) == 0
    assert _run(fake, stored_credentials, *ack) == 0
    assert output.read()[0] == "acknowledged\nalready acknowledged\n"
    consume = ["play-consume", PACKAGE, "fresh-product-1", "--product", "coins_100"]
    assert _run(fake, stored_credentials, *consume) == 0
    assert _run(fake, stored_credentials, *consume) == 0
    assert output.read()[0] == "consumed\nalready consumed\n"
    assert doc["consumptionState"] == 1
    assert fake.api_requests[-2][1].endswith(
        "/purchases/products/coins_100/tokens/fresh-product-1:consume"
    )


@pytest.mark.parametrize(
    ("token", "code", "message"),
    [
        ("product-pending", 7, "in state PENDING"),
        ("product-canceled", 7, "it does not entitle (canceled"),
        ("unknown-token-1234567890", 5, "no purchase with this token"),
    ],
)
def test_consume_refusals(fake, stored_credentials, output, token, code, message):
    argv = ["play-consume", PACKAGE, token, "--product", "coins_100"]
    assert _run(fake, stored_credentials, *argv) == code
    assert message in output.read()[1]


# -- voided purchases (item 12) --------------------------------------------------


def _seed_voided(fake, n, *, subscription_every=3):
    now = fake.clock()
    return [
        fake.add_voided(
            f"voided-{i}",
            voided_at=now - 86400 * (10 - i),
            subscription=i % subscription_every == 0,
        )
        for i in range(n)
    ]


def test_voided_follows_every_page(fake, stored_credentials, output):
    _seed_voided(fake, 7)
    assert _run(fake, stored_credentials, "play-voided", PACKAGE) == 0
    out, err = output.read()
    tokens = [json.loads(line)["purchaseToken"] for line in out.splitlines()]
    assert tokens == [f"voided-{i}" for i in range(7)]
    pages = [r for r in fake.api_requests if r[1].endswith("/voidedpurchases")]
    assert len(pages) == 4  # page size 2
    assert pages[0][2]["type"] == "1"  # subscriptions included
    assert all(set(p[2]) == {"token"} for p in pages[1:])
    assert "7 voided purchase(s)" in err
    first = json.loads(out.splitlines()[0])
    assert (
        first["voidedReasonName"] == "remorse" and first["voidedSourceName"] == "user"
    )


def test_voided_products_only_and_window(fake, stored_credentials, output):
    _seed_voided(fake, 7)
    argv = ["play-voided", PACKAGE, "--products-only"]
    assert _run(fake, stored_credentials, *argv) == 0
    tokens = [json.loads(x)["purchaseToken"] for x in output.read()[0].splitlines()]
    assert tokens == ["voided-1", "voided-2", "voided-4", "voided-5"]


def test_voided_since_lists_each_void_once(fake, stored_credentials, output, tmp_path):
    _seed_voided(fake, 5)
    state = tmp_path / "cron" / "voided-state.json"
    argv = ["play-voided", PACKAGE, "--since", str(state)]
    assert _run(fake, stored_credentials, *argv) == 0
    first = output.read()[0].splitlines()
    assert len(first) == 5
    saved = json.loads(state.read_text())
    assert saved["package"] == PACKAGE and len(saved["last_keys"]) == 5
    assert [p.name for p in state.parent.iterdir()] == [state.name]  # no temp left
    # Nothing new: nothing listed.
    assert _run(fake, stored_credentials, *argv) == 0
    assert output.read()[0] == ""
    # One new void, seen after the last window ended: only that one.
    fake.add_voided("voided-late", voided_at=fake.clock() - 5)
    real_clock = fake.clock
    fake.clock = lambda: real_clock() + 120
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "devkit.play.voided.datetime",
            _FrozenDatetime.at(real_clock() + 120),
        )
        assert _run(fake, stored_credentials, *argv) == 0
    assert [json.loads(x)["purchaseToken"] for x in output.read()[0].splitlines()] == [
        "voided-late"
    ]


def test_voided_since_repeats_nothing_on_the_boundary(
    fake, stored_credentials, tmp_path
):
    from datetime import UTC, datetime

    from devkit.play.voided import CLOCK_MARGIN, voided_since

    state = tmp_path / "state.json"
    now = datetime.fromtimestamp(fake.clock(), UTC)
    end = now - CLOCK_MARGIN
    # Seen exactly at the end of the first window: inside both windows.
    fake.add_voided("edge", voided_at=end.timestamp())
    emitted = []
    with PlayApi(stored_credentials, fake.url, 10) as api:
        first = voided_since(api, PACKAGE, state, emitted.append, now=now)
        second = voided_since(
            api, PACKAGE, state, emitted.append, now=now + CLOCK_MARGIN
        )
    assert [r["purchaseToken"] for r in emitted] == ["edge"]
    assert first.count == 1 and second.count == 0 and second.skipped_repeats == 1


def test_voided_state_is_not_written_when_a_page_fails(
    fake, stored_credentials, output, tmp_path
):
    _seed_voided(fake, 5)
    state = tmp_path / "state.json"
    fake.voided_page_size = 2
    original = fake._voided_page

    def fail_on_the_second_page(package, query):
        if "token" in query:
            return 503, {"error": {"code": 503, "message": "Backend Error"}}
        return original(package, query)

    fake._voided_page = fail_on_the_second_page
    argv = ["play-voided", PACKAGE, "--since", str(state)]
    assert _run(fake, stored_credentials, *argv) == 6
    assert not state.exists()  # the next run lists these again


def test_voided_state_file_for_another_package(
    fake, stored_credentials, output, tmp_path
):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"package": "com.other", "end_time_millis": 1}))
    argv = ["play-voided", PACKAGE, "--since", str(state)]
    assert _run(fake, stored_credentials, *argv) == 2
    assert "belongs to com.other" in output.read()[1]


def test_list_voided_stops_on_a_repeated_page_token(fake, stored_credentials):
    _seed_voided(fake, 3)
    original = fake._voided_page

    def loop_forever(package, query):
        status, doc = original(package, query)
        doc["tokenPagination"] = {"nextPageToken": "same"}
        fake._voided_pages["same"] = ([], 0)
        return status, doc

    fake._voided_page = loop_forever
    with PlayApi(stored_credentials, fake.url, 10) as api:
        got = list(list_voided(api, PACKAGE))
    assert len(got) == 2


class _FrozenDatetime:
    """datetime with now() moved, for the --since run that comes later."""

    @staticmethod
    def at(ts):
        from datetime import UTC, datetime

        class Frozen(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.fromtimestamp(ts, tz or UTC)

        return Frozen


def test_state_file_mode_is_ordinary(fake, stored_credentials, output, tmp_path):
    state = tmp_path / "s.json"
    old = os.umask(0o022)
    try:
        assert (
            _run(
                fake, stored_credentials, "play-voided", PACKAGE, "--since", str(state)
            )
            == 0
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE(state.stat().st_mode) == 0o644
