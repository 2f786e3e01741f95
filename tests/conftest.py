from __future__ import annotations

import os
from pathlib import Path

import pytest

# moto reads this when first imported: let tests use kilobyte parts so the
# 10,000-part rules can be exercised with megabytes (the 5 MiB rule is moto's
# only difference from S3 here).
os.environ.setdefault("S3_UPLOAD_PART_MIN_SIZE", "1024")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """No test sees the developer's HOME, git identity or AWS credentials."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for var in ("GIT_AUTHOR", "GIT_COMMITTER"):
        monkeypatch.setenv(f"{var}_NAME", "devkit test")
        monkeypatch.setenv(f"{var}_EMAIL", "test@example.invalid")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("DEVKIT_DEBUG", raising=False)
    # Never ask the EC2 metadata service (a network call) for credentials.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def shared_cache_dir(tmp_path_factory) -> Path:
    """devkit's cache folder for the whole session, xdist workers included:
    lambda-package's dependencies and devkit wheels, lambda-run's runtimes
    (`lambda-run/`), uv's cache (`uv/`), each installed once."""
    return tmp_path_factory.getbasetemp().parent / "devkit-cache"


@pytest.fixture
def shared_cache(shared_cache_dir, monkeypatch) -> Path:
    """DEVKIT_CACHE_DIR and UV_CACHE_DIR set to the session's shared folder."""
    monkeypatch.setenv("DEVKIT_CACHE_DIR", str(shared_cache_dir))
    monkeypatch.setenv("UV_CACHE_DIR", str(shared_cache_dir / "uv"))
    return shared_cache_dir
