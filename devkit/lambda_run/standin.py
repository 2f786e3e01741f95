"""The runtime's boto3, stood for by a small stub.

Lambda's Python runtimes ship boto3 and botocore in /var/lang's
site-packages, so a zip may import them without bundling them. Locally a
stub takes their place: imports and client construction work (handlers
often make clients at import time), and any call says plainly that no AWS
is behind it. A zip that bundles its own boto3 finds its copy first, as on
Lambda; `boto3.DEVKIT_STUB` tells the two apart.
"""

from __future__ import annotations

VERSION = "0.0.0+devkit.stub"

_BOTO3 = f'''"""devkit lambda-run's stand-in for the runtime's boto3 (no AWS)."""

__version__ = "{VERSION}"
DEVKIT_STUB = True


class _Stub:
    def __init__(self, kind, name=None, *args, **kwargs):
        self._kind = kind
        self._name = name

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)

        def call(*args, **kwargs):
            raise RuntimeError(
                "devkit lambda-run: {{}}({{!r}}).{{}}() reached the runtime's boto3 "
                "stand-in, which calls no AWS: bundle boto3 in the zip, or keep AWS "
                "calls out of a local run".format(self._kind, self._name, attr)
            )

        return call


class Session:
    def __init__(self, *args, **kwargs):
        self.region_name = kwargs.get("region_name")

    def client(self, service_name, *args, **kwargs):
        return _Stub("client", service_name)

    def resource(self, service_name, *args, **kwargs):
        return _Stub("resource", service_name)


def client(service_name, *args, **kwargs):
    return _Stub("client", service_name)


def resource(service_name, *args, **kwargs):
    return _Stub("resource", service_name)


def setup_default_session(*args, **kwargs):
    pass
'''

_BOTOCORE = f'''"""devkit lambda-run's stand-in for the runtime's botocore."""

__version__ = "{VERSION}"
DEVKIT_STUB = True
'''

_EXCEPTIONS = '''"""The botocore exceptions handlers catch, for the stand-in."""


class BotoCoreError(Exception):
    pass


class NoCredentialsError(BotoCoreError):
    pass


class NoRegionError(BotoCoreError):
    pass


class EndpointConnectionError(BotoCoreError):
    pass


class ParamValidationError(BotoCoreError):
    pass


class ClientError(Exception):
    def __init__(self, error_response=None, operation_name=None):
        self.response = error_response or {}
        self.operation_name = operation_name
        super().__init__(str(self.response.get("Error", {}).get("Message", "")))
'''

_CONFIG = '''"""botocore.config.Config for the stand-in: keeps its arguments."""


class Config:
    def __init__(self, *args, **kwargs):
        self.__dict__.update(kwargs)

    def merge(self, other):
        return Config(**{**self.__dict__, **other.__dict__})
'''

FILES = {
    "boto3/__init__.py": _BOTO3,
    "botocore/__init__.py": _BOTOCORE,
    "botocore/exceptions.py": _EXCEPTIONS,
    "botocore/config.py": _CONFIG,
}
