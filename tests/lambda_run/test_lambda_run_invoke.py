"""Real zips from lambda-package, run under awslambdaric against the local API."""

from __future__ import annotations

import zipfile

NEXT = "GET /2018-06-01/runtime/invocation/next"


def test_a_handler_that_returns(build, make_function, invoke):
    zip_path = build(make_function(requirements="purepkg==1.0\n"))
    out = invoke(zip_path, event=b'{"order": 7}')
    assert out.status == "response"
    assert out.result["event"] == {"order": 7}
    assert out.result["origins"] == {
        "boto3": "stub",  # the runtime's boto3, stood for
        "layermod": None,
        "purepkg": "lib",
        "app": "task",
    }
    assert out.result["request_id"] == out.request_id
    assert out.result["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert 0 < out.result["left_ms"] <= 3000
    env = out.result["env"]
    assert env["_HANDLER"] == "handler.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["PYTHONPATH"] is None and env["_DEVKIT_OPT"] is None
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert out.error is None and out.init_ms > 0 and out.duration_ms > 0


def test_runtime_api_requests_in_the_real_runtimes_order(build, make_function, invoke):
    # awslambdaric: GET /next, POST /response, then GET /next again (where
    # Lambda freezes it); a handler error posts /error instead.
    out = invoke(build(make_function()))
    rid = out.request_id
    assert out.requests == [
        NEXT,
        f"POST /2018-06-01/runtime/invocation/{rid}/response",
        NEXT,
    ]
    raising = make_function("raising", "def handler(e, c):\n    raise KeyError('k')\n")
    out = invoke(build(raising))
    assert out.requests == [
        NEXT,
        f"POST /2018-06-01/runtime/invocation/{out.request_id}/error",
        NEXT,
    ]


def test_a_handler_that_raises(build, make_function, invoke):
    src = make_function(
        "raising", "def handler(event, context):\n    raise ValueError('bad order')\n"
    )
    out = invoke(build(src))
    assert out.status == "error"
    assert out.error["errorType"] == "ValueError"
    assert out.error["errorMessage"] == "bad order"
    (frame,) = out.error["stackTrace"]
    assert 'handler.py", line 2, in handler' in frame
    assert "raise ValueError('bad order')" in frame


def test_a_missing_dependency_is_the_runtimes_import_error(
    build, make_function, invoke
):
    src = make_function("missing", "import purepkg\n\ndef handler(e, c):\n    pass\n")
    out = invoke(build(src))  # no requirements.txt: purepkg is not in the zip
    assert out.status == "init_error"
    assert out.error == {
        "errorMessage": "Unable to import module 'handler': No module named 'purepkg'",
        "errorType": "Runtime.ImportModuleError",
        "stackTrace": [],
    }
    assert out.requests == ["POST /2018-06-01/runtime/init/error"]
    assert out.duration_ms is None


def test_a_missing_handler_function(build, make_function, invoke):
    out = invoke(build(make_function()), handler="handler.nope")
    assert out.status == "init_error"
    assert out.error["errorType"] == "Runtime.HandlerNotFound"
    assert out.error["errorMessage"] == "Handler 'nope' missing on module 'handler'"


def test_a_timeout(build, make_function, invoke):
    src = make_function(
        "slow", "import time\n\ndef handler(e, c):\n    time.sleep(60)\n"
    )
    out = invoke(build(src), timeout_s=0.5)
    assert out.status == "timeout"
    assert out.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {out.request_id} Error: Task timed out after "
        "0.50 seconds",
    }
    assert out.requests == [NEXT]


def test_a_crash(build, make_function, invoke):
    src = make_function("crash", "import os\n\ndef handler(e, c):\n    os._exit(3)\n")
    out = invoke(build(src))
    assert out.status == "crash"
    assert out.error["errorType"] == "Runtime.ExitError"
    assert out.error["errorMessage"].endswith(
        "Error: Runtime exited with error: exit status 3"
    )


def test_a_layer_provides_a_module(build, make_function, invoke, make_layer):
    layer = make_layer({"python/layermod.py": "WHERE = 'layer'\n"})
    out = invoke(build(make_function()), layers=[layer])
    assert out.result["origins"]["layermod"] == "layer"


def test_env_values_are_seen_by_the_handler(build, make_function, invoke):
    out = invoke(build(make_function()), env={"GREETING": "hello"})
    assert out.result["greeting"] == "hello"


def test_a_bundled_boto3_wins_over_the_runtimes(build, make_function, invoke):
    out = invoke(build(make_function(requirements="boto3==99.0\n")))
    assert out.result["origins"]["boto3"] == "lib"


def test_memory_is_reported_within_reason(build, make_function, invoke):
    small = invoke(build(make_function("small", "def handler(e, c):\n    pass\n")))
    big_src = make_function(
        "big",
        "def handler(e, c):\n    block = b'x' * (120 * 1024 * 1024)\n"
        "    return len(block)\n",
    )
    big = invoke(build(big_src), memory_mb=512)
    # An interpreter with awslambdaric loaded is tens of MB; the big one
    # wrote 120 MB more.
    assert 5 < small.max_memory_mb < 80
    assert big.max_memory_mb >= small.max_memory_mb + 115
    assert not big.warnings
    over = invoke(build(big_src, output=big_src.parent / "again.zip"), memory_mb=128)
    assert over.status == "response"
    assert "Runtime.OutOfMemory" in over.warnings[-1]


def test_a_wrong_platform_module_fails_as_on_lambda(invoke, tmp_path):
    # Not built by lambda-package (which refuses it): an x86_64-named module
    # whose ELF is aarch64, as a zip built on the wrong machine carries.
    from testing.wheels import fake_extension

    path = tmp_path / "foreign.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "handler.py", "import native._ext\n\ndef handler(e, c):\n    pass\n"
        )
        zf.writestr("native/__init__.py", "")
        zf.writestr(
            "native/_ext.cpython-311-x86_64-linux-gnu.so", fake_extension("aarch64")
        )
    out = invoke(path)
    assert out.status == "init_error"
    assert out.error["errorType"] == "Runtime.ImportModuleError"
    assert out.error["errorMessage"].startswith("Unable to import module 'handler': ")
    assert any("ELF machine is aarch64" in w for w in out.warnings)


def test_modes_stored_in_the_zip_are_kept(build, make_function, invoke):
    src = make_function(
        "modes",
        "import os\n\ndef handler(e, c):\n"
        "    return oct(os.stat('tool.sh').st_mode & 0o777)\n",
        files={"tool.sh": "#!/bin/sh\n"},
    )
    (src / "tool.sh").chmod(0o755)
    assert invoke(build(src)).result == "0o755"


def test_the_runtime_boto3_stand_in(build, make_function, invoke):
    # What handlers that rely on the runtime's boto3 do at import time works;
    # a call says there is no AWS behind it.
    src = make_function(
        "stub",
        "import boto3\n"
        "from botocore.config import Config\n"
        "from botocore.exceptions import ClientError\n\n"
        "s3 = boto3.client('s3', config=Config(retries={'max_attempts': 2}))\n\n"
        "def handler(e, c):\n"
        "    try:\n"
        "        s3.list_buckets()\n"
        "    except ClientError:\n"
        "        return 'client error'\n",
    )
    out = invoke(build(src))
    assert out.status == "error"
    assert out.error["errorType"] == "RuntimeError"
    assert (
        "client('s3').list_buckets() reached the runtime's boto3 stand-in"
        in (out.error["errorMessage"])
    )


def test_the_init_phase_has_lambdas_limit(build, make_function, invoke, monkeypatch):
    from devkit.lambda_run import invoke as invoke_mod

    monkeypatch.setattr(invoke_mod, "INIT_LIMIT_S", 0.5)  # Lambda's is 10 s
    src = make_function("slowinit", "import time\ntime.sleep(60)\n")
    out = invoke(build(src))
    assert out.status == "timeout"
    assert out.error["errorMessage"].endswith(
        "Error: Init phase did not finish within 0.5 s"
    )
    assert out.requests == [] and out.init_ms is None
