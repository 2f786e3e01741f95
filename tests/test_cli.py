from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from devkit import __version__
from devkit.cli import main, run_command
from devkit.errors import ConfigError, ExitCode


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_commands_with_summaries(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Commands:" in out


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "devkit", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert __version__ in proc.stdout


def test_help_lists_every_registered_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("s3-stream", "hook", "lambda-package", "play-auth", "play-verify"):
        assert f"  {name} " in out


def test_hook_entry_point_shares_the_one_error_handler(tmp_path):
    # Outside a git repository: a GitError. The fast entry point must end it
    # exactly as `devkit hook run` does: one `error:` line, exit 1.
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }
    fast = subprocess.run(
        [sys.executable, "-m", "devkit.cli.hook", "run"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    full = subprocess.run(
        [sys.executable, "-m", "devkit", "hook", "run"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert fast.returncode == full.returncode == 1
    assert fast.stderr == full.stderr
    assert fast.stderr.startswith("error: ") and fast.stderr.count("\n") == 1
    assert "Traceback" not in fast.stderr


SPEAKER = """
import click, sys
from devkit.cli import run_command

@click.command()
def speak():
    for i in range(200_000):
        sys.stdout.write(f"line {i}\\n")

sys.exit(run_command(speak, [], prog_name="speak"))
"""


def test_a_closed_stdout_ends_quietly(tmp_path):
    # `devkit ... | head -c1`: the pipe closes while devkit still writes; no
    # traceback, and no "Exception ignored" from the interpreter's last flush.
    script = tmp_path / "speak.py"
    script.write_text(SPEAKER)
    proc = subprocess.run(
        f"{sys.executable} {script} | head -c1; exit ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
    )
    assert proc.stdout == "l"
    assert proc.stderr == ""
    assert proc.returncode == 1


def test_readme_exit_code_table_matches_the_code():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert documented == {int(code) for code in ExitCode}


def _raising(exc: BaseException) -> click.Command:
    @click.command()
    def boom() -> None:
        raise exc

    return boom


@pytest.mark.parametrize(
    ("exc", "code", "stderr"),
    [
        (KeyboardInterrupt(), 130, "\n"),  # click ends the ^C line
        (click.exceptions.Abort(), 130, ""),
        (BrokenPipeError(), 1, ""),
        (
            ConfigError("no region: pass --region\nsecond line"),
            2,
            "error: no region: pass --region\n",
        ),
        (
            RuntimeError("a bug"),
            3,
            "error: internal error; rerun with DEVKIT_DEBUG=1 and report it\n",
        ),
    ],
)
def test_every_outcome_has_one_exit_code_and_at_most_one_line(
    exc, code, stderr, capsys
):
    assert run_command(_raising(exc), [], prog_name="boom") == code
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", stderr)


def test_devkit_debug_shows_the_traceback_of_an_internal_error(capsys, monkeypatch):
    monkeypatch.setenv("DEVKIT_DEBUG", "1")
    assert run_command(_raising(RuntimeError("a bug")), [], prog_name="boom") == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: a bug" in err
    assert err.endswith(
        "error: internal error; rerun with DEVKIT_DEBUG=1 and report it\n"
    )
