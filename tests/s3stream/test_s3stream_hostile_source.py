"""Sources at their worst: versions that change under a resume, ranges ignored,
redirects to other hosts, and error texts that must not leak the URL's secrets."""

from __future__ import annotations

import pytest
from s3stream_support import NO_WAIT, SMALL, KiB, assert_nothing_written

from devkit.errors import SourceError
from devkit.s3stream import stream_to_s3


@pytest.mark.parametrize(
    ("knobs", "changed"),
    [
        ({}, 'its ETag was "v1", now "v2"'),
        (
            {"etag": None},
            "its Last-Modified was Wed, 25 Nov 2026 10:00:00 GMT, "
            "now Thu, 26 Nov 2026 10:00:00 GMT",
        ),
    ],
)
def test_resume_answered_with_another_version_is_never_joined(
    s3, bucket, source, knobs, changed
):
    # The server ignores If-Range: the resume gets 206 with version 2's bytes.
    old = b"the previous object"
    s3.put_object(Bucket=bucket, Key="k", Body=old)
    source.add("/v", 700 * KiB, drop_after=300 * KiB, change_after_drop=True,
               ignore_if_range=True, **knobs)  # fmt: skip
    with pytest.raises(SourceError) as err:
        stream_to_s3(source.url("/v"), bucket, "k", client=s3, limits=SMALL,
                     resume=NO_WAIT)  # fmt: skip
    assert str(err.value) == (
        f"source changed during the transfer after {300 * KiB} of {700 * KiB} "
        f"bytes: {changed}"
    )
    assert_nothing_written(s3, bucket, "k", old_body=old)


def test_resume_without_the_first_answers_etag_is_refused(s3, bucket, source):
    source.add("/e", 700 * KiB, drop_after=300 * KiB, change_after_drop=True,
               ignore_if_range=True, changed_etag=None)  # fmt: skip
    with pytest.raises(SourceError) as err:
        stream_to_s3(source.url("/e"), bucket, "k", client=s3, limits=SMALL,
                     resume=NO_WAIT)  # fmt: skip
    assert str(err.value).endswith(': the resumed response has no ETag (it was "v1")')
    assert_nothing_written(s3, bucket, "k")


def test_server_that_ignores_range_is_named_as_such(s3, bucket, source):
    source.add("/r", 400 * KiB, drop_after=100 * KiB, ignore_range=True)
    with pytest.raises(SourceError) as err:
        stream_to_s3(source.url("/r"), bucket, "k", client=s3, limits=SMALL,
                     resume=NO_WAIT)  # fmt: skip
    assert str(err.value) == (
        f"source ignored the Range request when resuming after {100 * KiB} of "
        f"{400 * KiB} bytes (it sent the whole body again)"
    )
    assert_nothing_written(s3, bucket, "k")


def test_weak_etag_is_named_as_such(s3, bucket, source):
    source.add("/w", 400 * KiB, drop_after=100 * KiB, etag='W/"v1"',
               last_modified=None)  # fmt: skip
    with pytest.raises(SourceError) as err:
        stream_to_s3(source.url("/w"), bucket, "k", client=s3, limits=SMALL,
                     resume=NO_WAIT)  # fmt: skip
    assert str(err.value) == (
        f"source closed after {100 * KiB} of {400 * KiB} bytes and has only a "
        "weak ETag, which cannot resume safely"
    )


def test_user_headers_reach_the_origin_only(s3, bucket, source):
    # Another port is another origin: the redirect target gets no user header.
    from testing.http_source import HttpSource

    with HttpSource() as other:
        there = other.add("/data", 100 * KiB)
        source.add("/same", 10, redirect_to=source.url("/moved"))
        here = source.add("/moved", 10, redirect_to=other.url("/data"))
        secrets = {"X-Api-Key": "K3Y", "Authorization": "Bearer T0K"}
        stream_to_s3(source.url("/same"), bucket, "k", client=s3, headers=secrets)
    assert here.requests[0]["X-Api-Key"] == "K3Y"  # same origin: kept
    sent = there.requests[0]
    assert "X-Api-Key" not in sent and "Authorization" not in sent
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == 100 * KiB


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_errors_never_show_the_query_string(s3, bucket, source):
    # TLS to a plain-HTTP server: urllib3's own text names the whole URL.
    source.add("/f", 10)
    query = "?X-Amz-Credential=CRED123&X-Amz-Signature=SIG456"
    url = f"https://127.0.0.1:{source.port}/f{query}"
    with pytest.raises(SourceError) as err:
        stream_to_s3(url, bucket, "k", client=s3)
    message = str(err.value)
    # the README's example of this message
    shown = f"https://127.0.0.1:{source.port}/f"
    assert message == f"cannot reach {shown}: TLS failed (WRONG_VERSION_NUMBER)"
    assert "CRED123" not in message and "SIG456" not in message
    with pytest.raises(SourceError) as err:
        stream_to_s3(f"http://127.0.0.1:{_free_port()}/f{query}", bucket, "k",
                     client=s3)  # fmt: skip
    assert str(err.value).endswith("/f: connection refused")
    assert "SIG456" not in str(err.value)


def test_a_long_url_is_cut_but_the_reason_kept(s3, bucket, source):
    long_path = "/" + "d" * 400
    url = f"https://127.0.0.1:{source.port}{long_path}"
    with pytest.raises(SourceError) as err:
        stream_to_s3(url, bucket, "k", client=s3)
    message = str(err.value)
    assert "..." in message and len(message) < 200
    assert message.endswith(")") and ": TLS failed (" in message


def test_content_encoding_is_carried_over(s3, bucket, source):
    source.add("/e.csv.gz", 50 * KiB, content_type="text/csv", content_encoding="gzip")
    stream_to_s3(source.url("/e.csv.gz"), bucket, "k", client=s3)
    head = s3.head_object(Bucket=bucket, Key="k")
    assert (head["ContentType"], head["ContentEncoding"]) == ("text/csv", "gzip")
    from testing.http_source import body_bytes

    body = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    assert body == body_bytes(0, 50 * KiB)  # the bytes as served, not decoded


@pytest.mark.parametrize(
    ("path", "disposition", "key"),
    [
        ("/dir/my%20report%C3%A9.tar", None, "in/my reporté.tar"),
        ("/export?id=7", 'attachment; filename="q3 export.csv"', "in/q3 export.csv"),
        ("/x", "attachment; filename*=UTF-8''na%C3%AFve.txt", "in/naïve.txt"),
        ("/x", 'attachment; filename="../../etc/passwd"', "in/passwd"),
    ],
)
def test_key_ending_in_slash_takes_the_file_name(
    s3, bucket, source, path, disposition, key
):
    source.add(path.split("?")[0], 10, content_disposition=disposition)
    result = stream_to_s3(source.url(path), bucket, "in/", client=s3)
    assert result.key == key
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == 10
