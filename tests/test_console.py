"""devkit.console: results on stdout, a transfer bar on stderr only for a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from devkit.console import Output


def _terminal(output: Output) -> io.StringIO:
    stream = io.StringIO()
    output.err = Console(file=stream, force_terminal=True, width=100)
    return stream


def test_a_terminal_gets_a_bar_that_names_the_phase_after_the_bytes():
    output = Output()
    stream = _terminal(output)
    with output.byte_progress("upload", total=2048) as bar:
        bar(1024)
        bar(1024)
        bar.phase("verifying")
    # The last frame before the (transient) bar is cleared.
    assert "upload (verifying)" in stream.getvalue()
    assert "2.0/2.0 KiB" in stream.getvalue()


@pytest.mark.parametrize("flags", [{"quiet": True}, {"json": True}, {}])
def test_quiet_json_or_no_terminal_draws_nothing(flags, capsys):
    output = Output(**flags)
    if flags:
        _terminal(output)
    with output.byte_progress("upload", total=10) as bar:
        bar(10)
        bar.phase("verifying")
    assert bar.progress is None
    if flags:
        assert output.err.file.getvalue() == ""
    assert capsys.readouterr().err == ""
