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
