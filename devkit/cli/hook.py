"""`devkit hook run|install|uninstall`: the git pre-commit checker."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from devkit.cli import run_command
from devkit.errors import ExitCode


@click.group("hook")
def hook_group() -> None:
    """Check Python files (and Step Functions definitions) before each commit.

    Checks on exactly what is staged: imports no requirement declares,
    pyflakes, leftover debugger calls, and `devkit sfn check`'s rules on
    *.asl.json files. Settings: [tool.devkit.hook] in pyproject.toml.
    """


@hook_group.command("run")
@click.option("--all-files", is_flag=True, help="Check every tracked Python file.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Processes (default: one per core).",
)
@click.option("-q", "--quiet", is_flag=True, help="No per-check summary on stderr.")
@click.option(
    "--no-cache",
    is_flag=True,
    help="Check every file afresh; neither read nor write the result cache.",
)
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
def run_cmd(
    all_files: bool,
    jobs: int | None,
    quiet: bool,
    no_cache: bool,
    paths: tuple[str, ...],
) -> int:
    """Check staged files; exit 1 on findings (ASL warnings alone: 0).

    With no arguments, the staged content of the staged Python files (and
    *.asl.json definitions) is read from the index (the working tree is never
    touched); an ASL warning fails only with asl-strict. --all-files checks
    every tracked file as staged; PATHs are checked as they are on disk.
    Per-file results are cached by content in the user cache folder, so
    unchanged files are not checked again.
    """
    from devkit.hook.run import run_hook

    result = run_hook(paths, all_files=all_files, jobs=jobs, use_cache=not no_cache)
    # Bytes, so a path that is not valid UTF-8 prints as git stores it.
    out = sys.stdout.buffer
    out.writelines(os.fsencode(f.format() + "\n") for f in result.findings)
    out.flush()
    if not quiet:
        for summary in result.summaries:
            state = summary.skipped or _plural(summary.findings, "finding")
            sys.stderr.write(f"{summary.check}: {state}\n")
        cached = (
            f" ({result.cached} unchanged, from the cache)" if result.cached else ""
        )
        sys.stderr.write(f"checked {_plural(result.files, 'file')}{cached}\n")
    return ExitCode.OK if result.ok else ExitCode.FAILURE


@hook_group.command("install")
@click.option("-f", "--force", is_flag=True, help="Replace a hook that is not ours.")
def install_cmd(force: bool) -> int:
    """Install the git pre-commit hook.

    Goes where git runs hooks (worktrees and core.hooksPath included). A hook
    that is not devkit's is kept as pre-commit.legacy and runs first, unless
    --force. A hook written by pre-commit, husky, lefthook or simple-git-hooks
    is left alone (unless --force) with the lines to add to its config, and a
    hook file tracked in git is never written over. Installing twice changes
    nothing.
    """
    from devkit.hook.install import ManagedHookError, install

    try:
        result = install(force=force)
    except ManagedHookError as exc:
        sys.stderr.write(f"error: {exc}\n{exc.advice}\n")
        return exc.exit_code
    if result.runner:
        _info(f"devkit hook already installed: {result.runner} runs {result.hook}")
        return ExitCode.OK
    if result.kept:
        _info(f"kept the existing hook as {result.kept}; it runs first")
    if result.removed_foreign:
        _info("removed the existing hook (--force)")
    verb = "installed" if result.changed else "already installed"
    _info(f"devkit hook {verb} at {result.hook}")
    return ExitCode.OK


@hook_group.command("uninstall")
def uninstall_cmd() -> int:
    """Remove the hook; restore a kept one."""
    from devkit.hook.install import uninstall

    result = uninstall()
    if result.legacy_removed:
        kept = result.hook.with_name("pre-commit.legacy")
        _info(f"removed devkit hook from {kept}; {result.hook} is left as it is")
    elif result.removed:
        _info(f"removed devkit hook from {result.hook}")
    else:
        _info(f"no devkit hook at {result.hook}")
    if result.restored:
        _info(f"restored the previous hook at {result.hook}")
    return ExitCode.OK


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _info(text: str) -> None:
    sys.stderr.write(text + "\n")


def hook_main(argv: Sequence[str] | None = None) -> int:
    """Run only the `hook` group, as the installed git hook does.

    The git hook calls `python -m devkit.cli.hook` so a commit pays only for
    the hook's imports, not for every other command's (boto3 alone is ~0.1 s).
    """
    return run_command(hook_group, argv, prog_name="devkit hook")


if __name__ == "__main__":
    raise SystemExit(hook_main())
