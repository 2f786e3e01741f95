"""The command line: output on stdout, one-line errors on stderr, exit codes."""

from __future__ import annotations

import os
import shutil
import zipfile

import pytest

from devkit.cli import main
from devkit.lambda_run.runtime import find_python

PY312 = find_python("3.12")  # at collection: the tests' HOME hides pyenv


@pytest.fixture
def run(wheelhouse, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    def invoke(*args):
        argv = [
            "lambda-package",
            *args,
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
        rc = main(argv)
        out, err = capsys.readouterr()
        return rc, out, err

    return invoke


def test_prints_zip_hashes_and_environment(run, function_dir, tmp_path):
    rc, out, err = run(str(function_dir), "--runtime", "python3.12", "-o", "f.zip")
    assert rc == 0, err
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["zip"] == str(tmp_path / "f.zip")
    assert lines["target"] == "python3.12 x86_64 (glibc <= 2.34)"
    assert len(lines["sha256"]) == 64 and lines["CodeSha256"].endswith("=")
    assert lines["environment"].startswith("none needed: lib/ is put on sys.path")
    assert "installing dependencies" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing-dir"], "error: source folder missing-dir not found"),
        (["{fn}", "-r", "nope.txt"], "error: requirements file nope.txt not found"),
        (["{fn}", "--runtime", "python2.7"], "error: unknown runtime 'python2.7'"),
        (["{fn}", "--arch", "ppc64le"], "error: unknown architecture 'ppc64le'"),
        (["{fn}", "-o", "no/such/dir/out.zip"], "error: cannot write"),
        (["{fn}", "--installer", "poetry"], "error: unknown installer 'poetry'"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(run, function_dir, args, message):
    rc, out, err = run(*[a.replace("{fn}", str(function_dir)) for a in args])
    assert rc == 2
    assert out == ""
    assert err.startswith(message) and err.count("\n") == 1


@pytest.mark.parametrize(
    ("requirements", "message"),
    [
        ("nosuchpkg\n", "error: no usable version of nosuchpkg for python3.12"),
        ("newglibc\n", "error: no wheel of newglibc==1.0 for python3.12"),
        ("purepkg==1.0\npurepkg==2.0\n", "error: conflicting requirements: "),
    ],
)
def test_install_failures_give_one_line_and_exit_1(
    run, function_dir, requirements, message
):
    (function_dir / "requirements.txt").write_text(requirements)
    rc, out, err = run(str(function_dir), "--runtime", "python3.12", "-q")
    assert rc == 1
    assert err.startswith(message) and err.count("\n") == 1
    assert "Traceback" not in err


def test_outside_symlink_gives_one_line(run, function_dir, tmp_path):
    (function_dir / "leak").symlink_to(tmp_path)
    rc, _, err = run(str(function_dir), "--runtime", "python3.12", "-q")
    assert rc == 1 and err.startswith("error: symlink ") and err.count("\n") == 1


@pytest.mark.skipif(PY312 is None, reason="needs a python3.12 interpreter")
def test_compile_adds_hash_checked_pyc_that_repeat(
    run, function_dir, tmp_path, monkeypatch
):
    assert PY312 is not None
    monkeypatch.setenv("PATH", f"{os.path.dirname(PY312.path)}:{os.environ['PATH']}")
    assert (
        run(str(function_dir), "--runtime", "python3.12", "--compile", "-o", "a.zip")[0]
        == 0
    )
    shutil.rmtree(tmp_path / "cache")
    assert (
        run(str(function_dir), "--runtime", "python3.12", "--compile", "-o", "b.zip")[0]
        == 0
    )
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        pyc = zf.read("__pycache__/handler.cpython-312.pyc")
        assert "lib/purepkg/__pycache__/__init__.cpython-312.pyc" in zf.namelist()
    flags = int.from_bytes(pyc[4:8], "little")
    assert flags == 0b11  # hash-based, check_source (PEP 552)


def test_compile_without_target_python_fails_naming_it(run, function_dir, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    rc, _, err = run(str(function_dir), "--runtime", "python3.13", "--compile")
    assert rc == 1
    assert err.startswith("error: --compile needs python3.13 on PATH")


def test_layer_prints_both_zips(run, function_dir, tmp_path):
    rc, out, err = run(str(function_dir), "--runtime", "python3.12", "--layer")
    assert rc == 0, err
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["zip"] == str(tmp_path / "fn.zip")
    assert lines["layer"] == str(tmp_path / "fn-layer.zip")
    assert "dependencies from requirements.txt" in err
    assert out.count("python/lib/python3.12/site-packages") == 1
    with zipfile.ZipFile(tmp_path / "fn-layer.zip") as zf:
        assert (
            "python/lib/python3.12/site-packages/purepkg/__init__.py" in zf.namelist()
        )


def test_unreadable_pyproject_is_one_line_without_a_source_line(run, function_dir):
    (function_dir / "requirements.txt").unlink()
    (function_dir / "pyproject.toml").write_text(
        '[project]\nname = "fn"\nversion = "0"\ndynamic = ["dependencies"]\n'
    )
    rc, out, err = run(str(function_dir), "--runtime", "python3.12")
    assert rc == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "lists them as dynamic" in err
