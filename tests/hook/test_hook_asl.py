"""Staged Step Functions definitions through the hook: `devkit sfn check`'s rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.errors import ConfigError
from devkit.hook.install import install
from devkit.hook.run import run_hook
from testing.gitrepo import git, head, write

FIXTURES = Path(__file__).parents[1] / "sfn" / "fixtures"
BROKEN = (FIXTURES / "broken" / "catch_drops_input.asl.json").read_text()
FIXED = (FIXTURES / "valid" / "recipe_fixed.asl.json").read_text()
NO_DOLLAR = (FIXTURES / "broken" / "no_dollar.asl.json").read_text()
NOT_JSON = (FIXTURES / "broken" / "not_json.asl.json").read_text()


def commit(repo):
    return git(repo, "commit", "-m", "change", check=False)


def lines(result):
    return [f.format() for f in result.findings]


def line_of(text, needle, nth=1):
    """1-based line of the nth line containing `needle`."""
    found = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return found[nth - 1]


def test_broken_definition_blocks_the_commit_and_the_fix_goes_through(repo):
    install(repo)
    write(repo, "sm/pipeline.asl.json", BROKEN)
    git(repo, "add", "sm/pipeline.asl.json")
    refused = commit(repo)
    assert refused.returncode == 1
    # The Catch entry's own line and column, in the hook's usual shape.
    line = line_of(BROKEN, '"Catch"') + 1
    col = BROKEN.splitlines()[line - 1].index("{") + 1
    assert (
        f"sm/pipeline.asl.json:{line}:{col}: CATCH_DROPS_INPUT Catch[0] of "
        "'GatekeeperState' replaces the input" in refused.stderr
    )
    assert "asl: 1 finding" in refused.stderr
    assert head(repo) == ""

    write(repo, "sm/pipeline.asl.json", FIXED)
    git(repo, "add", "sm/pipeline.asl.json")
    accepted = commit(repo)
    assert accepted.returncode == 0, accepted.stderr
    assert head(repo) != ""


def test_same_rules_as_sfn_check(repo):
    from devkit.sfn.asl import parse_definition
    from devkit.sfn.check import check_definition

    for name in ("broken/no_dollar", "broken/unreachable", "broken/express_too_long"):
        text = (FIXTURES / f"{name}.asl.json").read_text()
        write(repo, "m.asl.json", text)
        git(repo, "add", "m.asl.json")
        hook_codes = [f.code for f in run_hook(use_cache=False).findings]
        expected = check_definition(parse_definition(text, "m"), "m")
        assert sorted(hook_codes) == sorted(d.code for d in expected), name


def test_warnings_are_printed_but_do_not_fail_unless_strict(repo):
    install(repo)
    write(repo, "m.asl.json", NO_DOLLAR)
    git(repo, "add", "m.asl.json")
    result = commit(repo)
    assert result.returncode == 0, result.stderr
    line = line_of(NO_DOLLAR, '"prefix": "$.prefix"')
    assert f"m.asl.json:{line}:" in result.stderr
    assert "NO_DOLLAR" in result.stderr and "(warning)" in result.stderr

    write(repo, "pyproject.toml", "[tool.devkit.hook]\nasl-strict = true\n")
    write(repo, "m.asl.json", NO_DOLLAR + "\n")
    git(repo, "add", "pyproject.toml", "m.asl.json")
    strict = commit(repo)
    assert strict.returncode == 1
    assert "NO_DOLLAR" in strict.stderr


def test_not_json_gives_one_line_with_line_and_column(repo):
    install(repo)
    write(repo, "m.asl.json", NOT_JSON)
    git(repo, "add", "m.asl.json")
    refused = commit(repo)
    assert refused.returncode == 1
    found = [ln for ln in refused.stderr.splitlines() if ln.startswith("m.asl.json")]
    line = line_of(NOT_JSON, ",}")
    col = NOT_JSON.splitlines()[line - 1].index(",}") + 2
    assert found == [
        f"m.asl.json:{line}:{col}: INVALID_JSON not valid JSON: "
        "Expecting property name enclosed in double quotes"
    ]
    assert "Traceback" not in refused.stderr


def test_not_a_machine_and_not_utf8(repo):
    write(repo, "a.asl.json", "[1, 2]\n")
    write(repo, "b.asl.json", b"\xff\xfe{}")
    git(repo, "add", "a.asl.json", "b.asl.json")
    assert lines(run_hook()) == [
        "a.asl.json:1:1: SCHEMA_VALIDATION_FAILED not a state machine: "
        'no "States" object',
        "b.asl.json:1:1: INVALID_JSON not UTF-8: invalid start byte",
    ]


def test_the_glob_is_configurable_and_an_empty_list_turns_it_off(repo):
    install(repo)
    write(repo, "flows/main.json", BROKEN)
    write(repo, "other.asl.json", BROKEN)
    write(repo, "pyproject.toml", '[tool.devkit.hook]\nasl = ["flows/*.json"]\n')
    git(repo, "add", ".")
    refused = commit(repo)
    assert refused.returncode == 1
    assert "flows/main.json:" in refused.stderr
    assert "other.asl.json" not in refused.stderr  # the default is replaced

    write(repo, "pyproject.toml", "[tool.devkit.hook]\nasl = []\n")
    git(repo, "add", "pyproject.toml")
    assert commit(repo).returncode == 0
    write(repo, "pyproject.toml", '[tool.devkit.hook]\nskip = ["asl"]\n')
    write(repo, "other.asl.json", BROKEN + "\n")
    git(repo, "add", ".")
    result = commit(repo)
    assert result.returncode == 0, result.stderr
    assert "asl: skipped" in result.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("asl-strict = 1", "asl-strict must be true or false"),
        ('asl = "*.json"', "asl must be a list of strings"),
    ],
)
def test_bad_asl_settings_are_config_errors(repo, setting, message):
    write(repo, "pyproject.toml", f"[tool.devkit.hook]\n{setting}\n")
    write(repo, "m.asl.json", FIXED)
    git(repo, "add", ".")
    with pytest.raises(ConfigError, match=message):
        run_hook()


def test_a_changed_blob_is_checked_again_and_a_changed_glob_invalidates(repo):
    write(repo, "m.asl.json", BROKEN)
    git(repo, "add", "m.asl.json")
    cold = run_hook()
    warm = run_hook()
    assert (cold.cached, warm.cached) == (0, 1)
    assert lines(warm) == lines(cold) and not warm.ok

    write(repo, "m.asl.json", FIXED)
    git(repo, "add", "m.asl.json")
    fixed = run_hook()
    assert fixed.cached == 0 and fixed.ok and fixed.findings == []

    # Cached as "not checked" under one glob, checked once the glob names it.
    write(repo, "flows/x.json", BROKEN)
    git(repo, "add", "flows/x.json")
    assert not any(f.path == "flows/x.json" for f in run_hook().findings)
    write(repo, "pyproject.toml", '[tool.devkit.hook]\nasl = ["*.json"]\n')
    git(repo, "add", "pyproject.toml")
    widened = run_hook()
    assert widened.cached == 0
    assert any(f.path == "flows/x.json" for f in widened.findings)


def test_all_files_and_paths_on_disk_check_definitions_too(repo):
    write(repo, "m.asl.json", BROKEN)
    git(repo, "add", "m.asl.json")
    git(repo, "commit", "-m", "x", "--no-verify")
    assert [f.code for f in run_hook(all_files=True).findings] == ["CATCH_DROPS_INPUT"]
    assert [f.code for f in run_hook(["m.asl.json"]).findings] == ["CATCH_DROPS_INPUT"]
