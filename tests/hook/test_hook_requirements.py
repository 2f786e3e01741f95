"""The requirements check: imports from the code, mapped to declared distributions."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.errors import ConfigError
from devkit.hook import distributions
from devkit.hook import run as hook_run
from devkit.hook.declared import read_declared
from devkit.hook.run import run_hook
from testing.gitrepo import clean_env, commit_all, git, init_repo, write

BIN = Path(sys.executable).parent


def lines(result) -> list[str]:
    return [f.format() for f in result.findings]


def check(repo, files: dict[str, str]) -> list[str]:
    for path, content in files.items():
        write(repo, path, content)
    git(repo, "add", ".")
    return [f.format() for f in run_hook().findings if f.check == "requirements"]


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A real installed distribution whose import name differs from its name."""
    site = tmp_path / "site"
    (site / "fakemod").mkdir(parents=True)
    (site / "fakemod" / "__init__.py").write_text("")
    info = site / "Fake_Dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: Fake_Dist\nVersion: 1.0\n"
    )
    (info / "top_level.txt").write_text("fakemod\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    distributions.installed_map.cache_clear()
    yield
    distributions.installed_map.cache_clear()


def test_undeclared_import_names_the_distribution_to_add(repo):
    assert check(
        repo, {"requirements.txt": "requests\n", "app.py": "import yaml\n"}
    ) == ["app.py:1:1: 'yaml' is imported but no requirement provides it (add PyYAML)"]


@pytest.mark.parametrize(
    ("module", "dist"),
    [
        ("yaml", "pyyaml"),
        ("PIL", "Pillow"),
        ("cv2", "opencv-python"),
        ("sklearn", "scikit-learn"),
        ("bs4", "BeautifulSoup4"),
        ("dateutil", "python_dateutil"),
        ("jwt", "pyjwt"),
        ("dns", "dnspython"),
        ("google.cloud.storage", "google-cloud-storage"),
        ("google.protobuf", "protobuf"),
        ("googleapiclient", "google-api-python-client"),
        ("azure.storage.blob", "azure-storage-blob"),
        ("typing_extensions", "Typing.Extensions"),
    ],
)
def test_well_known_mismatches_are_satisfied_installed_or_not(repo, module, dist):
    # yaml, dateutil and typing_extensions are installed in the test
    # environment, the others are not: the verdict must not depend on it.
    files = {"requirements.txt": f"{dist}\n", "app.py": f"import {module}\n"}
    assert check(repo, files) == []


def test_namespace_imports_need_their_own_distribution(repo):
    files = {
        "requirements.txt": "google-cloud-storage\n",
        "app.py": "from google.cloud import storage, bigquery\n",
    }
    assert check(repo, files) == [
        "app.py:1:1: 'google.cloud.bigquery' is imported but no requirement "
        "provides it (add google-cloud-bigquery)"
    ]


def test_installed_metadata_maps_names_the_table_does_not_know(repo, installed):
    assert (
        check(
            repo, {"requirements.txt": "fake-dist>=1\n", "app.py": "import fakemod\n"}
        )
        == []
    )
    write(repo, "requirements.txt", "other\n")
    assert check(repo, {}) == [
        "app.py:1:1: 'fakemod' is imported but no requirement provides it "
        "(add Fake_Dist)"
    ]


def test_without_the_package_installed_the_import_name_is_the_guess(repo):
    assert check(
        repo, {"requirements.txt": "other\n", "app.py": "import fakemod\n"}
    ) == [
        "app.py:1:1: 'fakemod' is imported but no requirement provides it (add fakemod)"
    ]


def test_project_module_map_is_used(repo):
    files = {
        "pyproject.toml": '[project]\nname = "app"\ndependencies = ["acme-client"]\n'
        '[tool.devkit.hook]\nmodule-map = { acme = "acme-client" }\n',
        "app.py": "import acme.api\n",
    }
    assert check(repo, files) == []


def test_stdlib_first_party_relative_and_ignored_imports_never_count(repo):
    files = {
        "requirements.txt": "\n",
        "pyproject.toml": '[tool.devkit.hook]\nignore-modules = ["vendored_thing"]\n',
        "mypkg/__init__.py": "",
        "mypkg/core.py": "from . import util\nfrom .util import x\nimport mypkg.util\n",
        "mypkg/util.py": "x = 1\n",
        "src/other/__init__.py": "import other.sub\nimport mypkg\n",
        "src/other/sub.py": "",
        "scripts/run.py": "import helper\nimport os, json, tomllib\n"
        "import vendored_thing.x\n",
        "scripts/helper.py": "",
        "tools/nsdir/mod.py": "",
        "tools/use.py": "import nsdir.mod\n",
    }
    assert check(repo, files) == []


def test_optional_imports_do_not_count(repo):
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "import typing\n"
        "import sys\n"
        "try:\n    import ujson as json\nexcept ImportError:\n    import json\n"
        "try:\n    import orjson\nexcept (ModuleNotFoundError, OSError):\n"
        "    orjson = None\n"
        "if TYPE_CHECKING:\n    import mypy_boto3_s3\n"
        "if typing.TYPE_CHECKING:\n    from pandas import DataFrame\n"
        "if sys.platform == 'win32':\n    import winreg, pywintypes\n"
        "if sys.version_info < (3, 11):\n    import tomli\n"
        "from compat import HAS_CRT\n"
        "if HAS_CRT:\n    from awscrt import checksums\n"
        "if not compat.NUMPY_AVAILABLE:\n    pass\nelse:\n    import numpy\n"
    )
    files = {
        "requirements.txt": "\n",
        "compat.py": "HAS_CRT = False\n",
        "app.py": source,
    }
    assert check(repo, files) == []


def test_guarded_by_other_exceptions_still_counts(repo):
    source = (
        "try:\n    import yaml\nexcept KeyError:\n    pass\n\n"
        "def f():\n    import toml\n"
    )
    assert check(repo, {"requirements.txt": "\n", "app.py": source}) == [
        "app.py:2:5: 'yaml' is imported but no requirement provides it (add PyYAML)",
        "app.py:7:5: 'toml' is imported but no requirement provides it (add toml)",
    ]


def test_one_finding_per_missing_distribution_per_file(repo):
    source = (
        "import yaml\nfrom yaml import safe_load\nimport yaml.constructor\n"
        "import google.auth\nfrom google.oauth2 import service_account\n"
    )
    assert check(repo, {"requirements.txt": "x\n", "app.py": source}) == [
        "app.py:1:1: 'yaml' is imported but no requirement provides it (add PyYAML)",
        "app.py:4:1: 'google.auth' is imported but no requirement provides it "
        "(add google-auth)",
    ]


def test_requirement_files_with_includes_options_markers_and_urls(repo):
    write(
        repo,
        "requirements.txt",
        (
            "# comment\n-r requirements/base.txt\n--index-url https://example.invalid/simple\n"
            "-c constraints.txt\n"
            "PyYAML>=6 ; python_version >= '3.8'  # inline comment\n"
            "requests[socks] == 2.* \\\n    --hash=sha256:abc\n"
            "attrs @ https://example.invalid/attrs-23.1.0-py3-none-any.whl\n"
            "-e git+https://example.invalid/repo.git#egg=Some_Lib\n"
            "https://example.invalid/pkgs/click-8.1.0.tar.gz\n"
        ),
    )
    write(repo, "requirements/base.txt", "-r ../requirements.txt\nboto3\n")
    write(repo, "constraints.txt", "numpy\n")
    declared = read_declared(lambda p: _read(repo, p))
    assert declared.names == {
        "pyyaml",
        "requests",
        "attrs",
        "some-lib",
        "click",
        "boto3",
    }
    assert declared.sources == ["requirements.txt", "requirements/base.txt"]


def test_pyproject_dependencies_optional_and_configured_files(repo):
    write(
        repo,
        "pyproject.toml",
        (
            '[project]\nname = "My_App"\n'
            'dependencies = ["Click>=8", "rich[jupyter]; python_version>\'3\'"]\n'
            '[project.optional-dependencies]\ntest = ["pytest"]\n'
            '[dependency-groups]\ndev = ["ruff", {include-group = "test"}]\n'
        ),
    )
    write(repo, "reqs/extra.in", "moto\n")
    declared = read_declared(lambda p: _read(repo, p), ("reqs/extra.in",))
    assert declared.names == {"click", "rich", "pytest", "ruff", "moto"}
    assert declared.project_name == "my-app"


def test_configured_requirement_files_are_read(repo):
    files = {
        "pyproject.toml": '[tool.devkit.hook]\nrequirement-files = ["deps/prod.txt"]\n',
        "deps/prod.txt": "PyYAML\n",
        "app.py": "import yaml\n",
    }
    assert check(repo, files) == []


def test_requirements_are_read_from_the_index(repo):
    write(repo, "requirements.txt", "PyYAML\n")
    write(repo, "app.py", "import yaml\n")
    git(repo, "add", ".")
    write(repo, "requirements.txt", "\n")  # unstaged removal does not count
    assert [f for f in run_hook().findings if f.check == "requirements"] == []


def test_nothing_declared_skips_the_check_and_says_so(repo):
    write(repo, "app.py", "import yaml\nyaml.safe_load('')\n")
    git(repo, "add", ".")
    result = run_hook()
    assert result.findings == []
    [summary] = [s for s in result.summaries if s.check == "requirements"]
    assert "nothing declared" in summary.skipped


def _read(repo, path):
    target = repo / path
    return target.read_bytes() if target.exists() else None


def test_the_project_importing_itself_is_not_a_requirement(repo):
    files = {
        "pyproject.toml": '[project]\nname = "My-App"\ndependencies = []\n',
        "tests/test_app.py": "import my_app\n",
    }
    assert check(repo, files) == []


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "devkit"), "hook", "run", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
    )


def test_requirements_file_with_bom_and_crlf_is_read_as_pip_reads_it(repo):
    files = {
        "requirements.txt": (
            b"\xef\xbb\xbfrequests\r\nPyYAML>=6 \\\r\n  --hash=sha256:ab\r\n"
        ),
        "app.py": "import requests\nimport yaml\n",
    }
    assert check(repo, files) == []


def test_pyproject_with_bom_is_read(repo):
    files = {
        "pyproject.toml": (
            b'\xef\xbb\xbf[project]\nname = "x"\ndependencies = ["requests"]\n'
        ),
        "app.py": "import requests\n",
    }
    assert check(repo, files) == []


def test_dynamic_dependencies_from_setuptools_dynamic_files(repo):
    files = {
        "pyproject.toml": (
            '[project]\nname = "x"\n'
            'dynamic = ["dependencies", "optional-dependencies"]\n'
            "[tool.setuptools.dynamic]\n"
            'dependencies = {file = ["requirements.in"]}\n'
            'optional-dependencies.s3 = {file = "extras/s3.txt"}\n'
        ),
        "requirements.in": "requests\n",
        "extras/s3.txt": "boto3\n",
        "app.py": "import requests\nimport boto3\nimport yaml\n",
    }
    assert check(repo, files) == [
        "app.py:3:1: 'yaml' is imported but no requirement provides it (add PyYAML)"
    ]


def test_dynamic_dependencies_from_setup_cfg(repo):
    files = {
        "pyproject.toml": '[project]\nname = "x"\ndynamic = ["dependencies"]\n',
        "setup.cfg": (
            "[metadata]\nname = x\n[options]\ninstall_requires =\n"
            "    requests>=2\n    click ; python_version >= '3.8'\n"
            "[options.extras_require]\nyaml =\n    PyYAML\n"
        ),
        "app.py": "import requests\nimport click\nimport yaml\nimport toml\n",
    }
    assert check(repo, files) == [
        "app.py:4:1: 'toml' is imported but no requirement provides it (add toml)"
    ]


def test_setup_cfg_only_project_is_read(repo):
    files = {
        "setup.cfg": "[options]\ninstall_requires = file: requirements.in\n",
        "requirements.in": "requests\n",
        "app.py": "import requests\nimport yaml\n",
    }
    assert check(repo, files) == [
        "app.py:2:1: 'yaml' is imported but no requirement provides it (add PyYAML)"
    ]


def test_pdm_and_uv_dev_dependencies_count(repo):
    files = {
        "pyproject.toml": (
            '[project]\nname = "x"\ndependencies = []\n'
            '[tool.pdm.dev-dependencies]\ntest = ["pytest"]\n'
            '[tool.uv]\ndev-dependencies = ["hypothesis"]\n'
        ),
        "tests/test_x.py": "import pytest\nimport hypothesis\n",
    }
    assert check(repo, files) == []


def test_the_interpreters_own_modules_are_never_requirements(repo):
    files = {
        "requirements.txt": "requests\n",
        "app.py": "import __main__\nimport _thread\nimport sys\nimport posix\n",
    }
    assert check(repo, files) == []


def test_a_submodule_package_is_first_party(repo, tmp_path):
    lib = init_repo(tmp_path / "vendored")
    write(lib, "__init__.py", "VALUE = 1\n")
    commit_all(lib)
    allow = ("-c", "protocol.file.allow=always")
    git(repo, *allow, "submodule", "add", "-q", str(lib), "vendored")
    files = {"requirements.txt": "requests\n", "app.py": "import vendored\n"}
    assert check(repo, files) == []


def test_a_local_namespace_portion_does_not_hide_other_portions(repo):
    files = {
        "requirements.txt": "protobuf\n",
        "google/myproto/thing_pb2.py": "X = 1\n",
        "app.py": (
            "from google.myproto import thing_pb2\n"
            "from google.protobuf import message\n"
            "from google.cloud import storage\n"
        ),
    }
    assert check(repo, files) == [
        "app.py:3:1: 'google.cloud.storage' is imported but no requirement"
        " provides it (add google-cloud-storage)"
    ]


def test_a_module_beside_a_package_file_does_not_hide_a_distribution(repo):
    files = {
        "requirements.txt": "click\n",
        "pkg/__init__.py": "",
        "pkg/requests.py": "X = 1\n",
        "pkg/api.py": "import requests\nfrom pkg import requests as mine\n",
        "scripts/tool.py": "import helper\n",
        "scripts/helper.py": "X = 1\n",
    }
    assert check(repo, files) == [
        "pkg/api.py:1:1: 'requests' is imported but no requirement provides it"
        " (add requests)"
    ]


def test_a_run_by_worker_processes_judges_imports_as_a_serial_one(repo, monkeypatch):
    # While workers check the files, the main process reads the declarations
    # early: a broken one must still count only when an import needs it.
    monkeypatch.setattr(hook_run, "PARALLEL_MIN_BYTES", 1)
    write(repo, "requirements.txt", "requests\n-r more.txt\n")
    write(repo, "more.txt", "click\n")
    write(repo, "pkg/__init__.py", "")
    for n in range(6):
        write(repo, f"pkg/m{n}.py", f"import os\n\nX{n} = os.sep\n")
    write(repo, "pkg/app.py", "import click, requests, yaml\nclick, requests, yaml\n")
    commit_all(repo)
    expected = [
        "pkg/app.py:1:1: 'yaml' is imported but no requirement provides it (add PyYAML)"
    ]
    for jobs in (1, 2):
        assert lines(run_hook(all_files=True, jobs=jobs, use_cache=False)) == expected
    git(repo, "rm", "-q", "--cached", "more.txt", "pkg/app.py")
    for jobs in (1, 2):  # only the standard library: nothing to judge
        assert lines(run_hook(all_files=True, jobs=jobs, use_cache=False)) == []
    git(repo, "add", "pkg/app.py")
    for jobs in (1, 2):
        with pytest.raises(ConfigError, match="more.txt, which does not exist"):
            run_hook(all_files=True, jobs=jobs, use_cache=False)


def test_untracked_files_given_as_paths_are_the_projects_own_modules(repo):
    # The pre-commit framework's way: paths on disk, maybe not tracked yet.
    write(repo, "requirements.txt", "click\n")
    write(repo, "tool.py", "import helper\nimport yaml\n\nhelper, yaml\n")
    write(repo, "helper.py", "X = 1\n")
    assert lines(run_hook(["tool.py", "helper.py"])) == [
        "tool.py:2:1: 'yaml' is imported but no requirement provides it (add PyYAML)"
    ]


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_work_is_handed_out_in_shrinking_batches(jobs):
    sizes = [5_000_000, 7, 300_000, *range(1000, 200_000, 997)]
    batches = hook_run._guided(sizes, jobs)
    assert sorted(i for batch in batches for i in batch) == list(range(len(sizes)))
    totals = [sum(sizes[i] for i in batch) for batch in batches]
    assert batches[0][0] == 0  # the largest file goes first
    half = len(totals) // 2  # big batches first, small ones to finish with
    assert min(totals[:half]) > max(totals[half:])
    assert len(batches) >= 2 * jobs
    assert min(totals[:-1]) >= hook_run._MIN_BATCH_BYTES


def test_a_missing_include_is_a_one_line_config_error(repo):
    write(repo, "requirements.txt", "-r base.txt\nclick\n")
    write(repo, "app.py", "import requests\n")
    git(repo, "add", ".")
    proc = run_cli()
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "error: -r in requirements.txt names base.txt, which does not exist"
        " (or is not staged); fix the name or add the file"
    ]


def test_a_syntax_error_is_never_suppressed_by_noqa(repo):
    write(repo, "app.py", "def f(:  # noqa\n    pass\n")
    git(repo, "add", ".")
    [finding] = run_hook().findings
    assert finding.code == "E999" and finding.line == 1


def test_conflicted_files_are_checked_as_the_user_sees_them(repo):
    write(repo, "app.py", "import json\n\nprint(json.dumps(1))\n")
    commit_all(repo)
    git(repo, "checkout", "-q", "-b", "side")
    write(repo, "app.py", "import json\n\nprint(json.dumps(2))\n")
    commit_all(repo, "side")
    git(repo, "checkout", "-q", "main")
    write(repo, "app.py", "import json\n\nprint(json.dumps(3))\n")
    commit_all(repo, "main")
    assert git(repo, "merge", "side", check=False).returncode != 0
    for args in (["--all-files"], []):
        findings = run_hook(all_files=bool(args)).findings
        assert [(f.path, f.code) for f in findings] == [("app.py", "E999")], args


def test_imports_under_a_python_version_flag_are_optional(repo):
    files = {
        "requirements.txt": "click\n",
        "app.py": (
            "from compat import PY314, PY2\n"
            "if PY314:\n    import annotationlib\n"
            "if PY2:\n    import ConfigParser\n"
            "if PYRAMID:\n    import pyramid\n"
        ),
        "compat.py": "PY314 = PY2 = False\n",
    }
    assert check(repo, files) == [
        "app.py:7:5: 'pyramid' is imported but no requirement provides it (add pyramid)"
    ]
