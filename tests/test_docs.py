"""Every `devkit ...` example in the README and docs/ names real commands and options.

Examples are read from fenced code blocks: in `sh`/`bash`/plain fences a line
starting with `devkit `, in `console` fences one starting with `$ devkit `,
joined over trailing `\\`.
Each is checked at --help level: the subcommands exist and every option
given is one the command declares. Arguments are not run.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from devkit.cli import _register_commands, cli

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
SHELL_FENCES = {"", "sh", "bash", "console", "shell"}


def _examples() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        if not doc.exists():
            continue
        for lang, body in FENCE.findall(doc.read_text(encoding="utf-8")):
            if lang not in SHELL_FENCES:
                continue
            for line in body.replace("\\\n", " ").splitlines():
                line = line.strip()
                if lang == "console":  # commands carry a prompt; the rest is output
                    if not line.startswith("$ "):
                        continue
                    line = line[2:]
                if line.startswith("devkit "):
                    found.append((f"{doc.name}: {line[:60]}", line))
    return found


def _argv(line: str) -> list[str]:
    # Stop at the first shell operator: `devkit ... | jq`, `... && ...`, `# ...`.
    tokens = shlex.split(line, comments=True)[1:]
    for i, token in enumerate(tokens):
        if token in {"|", "||", "&&", ";", ">", "2>", "<"} or token.startswith(
            ("|", ">", "2>")
        ):
            return tokens[:i]
    return tokens


def _check(command: click.Command, argv: list[str], where: str) -> None:
    options = {
        name
        for param in command.params
        if isinstance(param, click.Option)
        for name in (*param.opts, *param.secondary_opts)
    } | {"-h", "--help"}
    rest = list(argv)
    while rest:
        token = rest.pop(0)
        if token == "--":
            return
        if token.startswith("-") and token != "-":
            name = token.split("=", 1)[0]
            if name not in options:
                raise AssertionError(f"{where}: no option {name} on {command.name}")
            continue
        if isinstance(command, click.Group):
            if token in {"SOURCE", "COMMAND"} or token.isupper():
                return  # a placeholder in a synopsis line
            sub = command.commands.get(token)
            assert sub is not None, f"{where}: no command {token!r} in {command.name}"
            _check(sub, rest, where)
            return


@pytest.mark.parametrize(("where", "line"), _examples())
def test_example_names_real_commands_and_options(where, line):
    _register_commands()
    _check(cli, _argv(line), where)


def test_there_are_examples_to_check():
    assert len(_examples()) > 10


def _docs_page(name: str) -> Path:
    # play-auth, play-verify, play-notify ... share docs/play.md.
    page = ROOT / "docs" / f"{name}.md"
    return page if page.exists() else ROOT / "docs" / f"{name.split('-')[0]}.md"


def test_every_command_has_its_docs_page_linked_from_the_readme():
    _register_commands()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in cli.commands:
        page = _docs_page(name)
        assert page.exists(), f"devkit {name} has no page in docs/"
        assert f"(docs/{page.name})" in readme, f"README does not link {page.name}"
        text = page.read_text(encoding="utf-8")
        assert f"devkit {name}" in text, f"{page.name} does not describe devkit {name}"
