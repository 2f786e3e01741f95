"""devkit.requirements: the one requirements-file parser of hook and lambda-package."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from devkit.cli import main
from devkit.errors import ConfigError
from devkit.requirements import (
    Requirements,
    canonicalize_name,
    decode,
    logical_lines,
    parse_line,
    read_file,
    read_requirements,
)
from testing.gitrepo import git, init_repo, write
from testing.wheels import build_wheel

# Every rule at once: a UTF-8 byte-order mark, CRLF line ends, continued lines
# (before --hash, where pip-compile puts them), a marker, one false on Lambda's
# x86_64, a -r include in a folder (whose own -r is relative to it), a -c
# constraints file, an options line, comments of both kinds.
TRICKY = {
    "requirements.txt": (
        "\ufeff# what the function needs\r\n"
        "--prefer-binary\r\n"
        "-r reqs/base.txt\r\n"
        "-c reqs/constraints.txt\r\n"
        'purepkg==1.0 ; python_version >= "3.8" \\\r\n'
        "    --hash=sha256:{purepkg}  # inline comment\r\n"
        'armonly==1.0 ; platform_machine == "aarch64" --hash=sha256:{armonly}\r\n'
    ),
    "reqs/base.txt": (
        "-r more.txt\nscripted==1.0 \\\n  --hash=sha256:{scripted}  # tool\n"
    ),
    "reqs/more.txt": "# a comment line \\\nlast==1.0 --hash sha256:{last}\n",
    "reqs/constraints.txt": "boto3==99.0 --hash=sha256:{boto3}\n",
}
IMPORTS = (
    "import armonly\nimport boto3\nimport last\nimport purepkg\nimport scripted\n\n"
    "print(armonly, boto3, last, purepkg, scripted)\n"
)


def _wheels(folder: Path) -> dict[str, str]:
    """Build the wheels; their sha256 by name."""
    wheels = [
        build_wheel(folder, name, "1.0", {f"{name}/__init__.py": ""})
        for name in ("purepkg", "armonly", "scripted", "last")
    ]
    wheels.append(build_wheel(folder, "boto3", "99.0", {"boto3/__init__.py": ""}))
    return {
        w.name.split("-")[0]: hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels
    }


def _dists(zip_path: Path) -> set[str]:
    with zipfile.ZipFile(zip_path) as zf:
        infos = {n.split("/")[1] for n in zf.namelist() if ".dist-info/" in n}
    return {info.split("-")[0] for info in infos}


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_hook_and_lambda_package_read_a_tricky_file_the_same_way(
    tmp_path, monkeypatch, capsys, installer
):
    hashes = _wheels(tmp_path / "wheels")
    repo = init_repo(tmp_path / "fn")
    for path, content in TRICKY.items():
        write(repo, path, content.format(**hashes).encode())
    write(repo, "handler.py", IMPORTS)
    git(repo, "add", ".")
    monkeypatch.chdir(repo)

    # The hook: everything the files declare (markers do not matter: code runs
    # everywhere), nothing a constraint names.
    assert main(["hook", "run", "-q"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "handler.py:2:1: 'boto3' is imported but no requirement provides it (add boto3)"
    ]

    # lambda-package: the same declarations, markers evaluated for the target.
    argv = ["lambda-package", ".", "-o", str(tmp_path / "f.zip"), "--no-index"]
    argv += ["--find-links", str(tmp_path / "wheels")]
    argv += ["--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, "--installer", installer, "--runtime", "python3.12"]) == 0, (
        capsys.readouterr().err
    )
    assert _dists(tmp_path / "f.zip") == {"purepkg", "scripted", "last"}


def test_a_missing_include_is_the_same_one_line_error_in_both(
    tmp_path, monkeypatch, capsys
):
    repo = init_repo(tmp_path / "fn")
    write(repo, "requirements.txt", "-c pins.txt\npurepkg\n")
    write(repo, "handler.py", "import purepkg\n")
    git(repo, "add", ".")
    monkeypatch.chdir(repo)
    assert main(["hook", "run", "-q"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: -c in requirements.txt names pins.txt, which does not exist"
        " (or is not staged); fix the name or add the file"
    ]
    argv = ["lambda-package", ".", "-o", str(tmp_path / "f.zip"), "--no-index"]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "error" in line] == [
        "error: -c in requirements.txt names pins.txt, which does not exist;"
        " fix the name or add the file"
    ]


@pytest.mark.parametrize(
    "name",
    ["Django", "oslo.concurrency", "Foo__Bar", "a-_.-b", "ruamel.yaml", "X", "zope_"],
)
def test_distribution_names_are_normalised_as_packaging_does(name):
    # devkit spells PEP 503's rule out (packaging.utils is slow to import).
    from packaging.utils import canonicalize_name as packagings

    assert canonicalize_name(name) == packagings(name)


def test_byte_order_marks_pick_the_encoding():
    assert decode(b"\xef\xbb\xbfa==1\n") == "a==1\n"
    assert decode("a==1\n".encode("utf-16")) == "a==1\n"
    assert decode("a==1\n".encode("utf-32")) == "a==1\n"
    assert decode(b"caf\xc3\xa9") == "café"


def test_continuations_and_comments_follow_pip():
    text = "a \\\n  >=1 # c\n#x \\\nb\r\n\n  c \\\n# ends it\nd\\\n"
    assert logical_lines(text) == [(1, "a   >=1"), (4, "b"), (6, "c"), (8, "d")]
    assert logical_lines("x @ https://h/x.zip#egg=x # note\n") == [
        (1, "x @ https://h/x.zip#egg=x")
    ]


@pytest.mark.parametrize(
    ("text", "option", "value", "options"),
    [
        ("-r base.txt", "--requirement", "base.txt", ()),
        ("-rbase.txt", "--requirement", "base.txt", ()),
        ("-r=base.txt", "--requirement", "base.txt", ()),
        ("--constraint=c.txt", "--constraint", "c.txt", ()),
        ("-i https://i/simple", "--index-url", "https://i/simple", ()),
        ("--no-index", "--no-index", "", ()),
        ("--pre --find-links ./w", "--pre", "", (("--find-links", "./w"),)),
        ("-e ./local", "--editable", "./local", ()),
        (
            'x==1 ; python_version < "3.13" --hash=sha256:aa --hash sha256:bb',
            None,
            'x==1 ; python_version < "3.13"',
            (("--hash", "sha256:aa"), ("--hash", "sha256:bb")),
        ),
    ],
)
def test_option_forms(text, option, value, options):
    line = parse_line(text)
    assert (line.option, line.value, line.options) == (option, value, options)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Foo.Bar_baz==1", "foo-bar-baz"),
        ("rich[jupyter]>=13 ; python_version > '3'", "rich"),
        ("-e git+https://h/repo.git#egg=Some_Lib", "some-lib"),
        ("-e ./local", None),
        ("https://h/pkgs/click-8.1.0.tar.gz", "click"),
        ("attrs @ https://h/attrs-23.1.0-py3-none-any.whl", "attrs"),
        ("./wheels/tool-1.0-py3-none-any.whl", "tool"),
        ("--index-url https://h/simple", None),
        ("not a requirement !!", None),
    ],
)
def test_the_name_a_line_declares(text, name):
    assert parse_line(text).name == name


def test_includes_are_relative_to_the_including_file_and_cycles_stop(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "requirements.txt").write_text("-r a/one.txt\ntop\n")
    (tmp_path / "a" / "one.txt").write_text("-r ../requirements.txt\n-c c.txt\none\n")
    (tmp_path / "a" / "c.txt").write_text("pinned==1\n")
    parsed = read_requirements(read_file, str(tmp_path / "requirements.txt"), by="test")
    assert [Path(f.path).name for f in parsed.files] == [
        "requirements.txt",
        "one.txt",
        "c.txt",
    ]
    assert parsed.names() == {"top", "one"}
    [pin] = [line for line in parsed.lines if line.constraint]
    assert (pin.value, pin.declares) == ("pinned==1", False)


def test_environment_variables_expand_as_pip_does(tmp_path):
    (tmp_path / "r.txt").write_text("${PKG}==1\n${UNSET}x\n-r ${DIR}/b.txt\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("other\n")
    environ = {"PKG": "mine", "DIR": "sub"}
    parsed = read_requirements(
        read_file, str(tmp_path / "r.txt"), by="test", environ=environ
    )
    assert parsed.names() == {"mine", "other"}
    assert parsed.lines[1].value == "${UNSET}x"


def test_a_missing_file_is_an_error_only_when_named(tmp_path):
    read = read_file
    nothing = read_requirements(read, str(tmp_path / "no.txt"), by="x", required=False)
    assert nothing == Requirements()
    with pytest.raises(ConfigError, match=r"^--r names .*no\.txt, which does not"):
        read_requirements(read, str(tmp_path / "no.txt"), by="--r")
    (tmp_path / "r.txt").write_text("-r gone.txt\n")
    with pytest.raises(ConfigError, match=r"^-r in .*r\.txt names .*gone\.txt"):
        read_requirements(read, str(tmp_path / "r.txt"), by="x", required=False)


def test_an_unreadable_file_is_a_config_error(tmp_path):
    (tmp_path / "r.txt").mkdir()
    with pytest.raises(ConfigError, match=r"^cannot read .*r\.txt: Is a directory"):
        read_requirements(read_file, str(tmp_path / "r.txt"), by="x")
