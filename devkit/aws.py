"""AWS options shared by every command, with the AWS CLI's names."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devkit.errors import ConfigError

if TYPE_CHECKING:
    import botocore.session
    from botocore.credentials import Credentials
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

# What botocore itself may create a client for while resolving credentials
# (AssumeRole and web identity: sts; SSO: sso, sso-oidc; `aws login`: signin).
_CREDENTIAL_SERVICES = ("sts", "sso", "sso-oidc", "signin")
_EXTENSIONS = (".json", ".json.gz")  # botocore's own order


@dataclass(frozen=True)
class AwsOptions:
    """None means unset: botocore's own chain (env, config files, IMDS) decides."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    def session(self, service: str | None = None) -> botocore.session.Session:
        """One botocore session for a client of `service` (None: any service).

        A botocore session: s3-stream makes its client straight from it,
        without boto3's 2 MiB of imports (and, for S3, s3transfer's). botocore
        is imported here, not at the top: every command's options go through
        this module, and `devkit hook run` must start fast.
        """
        import botocore.session
        from botocore.exceptions import ProfileNotFound

        session = botocore.session.Session(profile=self.profile)
        if self.region:
            session.set_config_variable("region", self.region)
        try:
            session.get_scoped_config()  # an unknown profile fails here, not later
        except ProfileNotFound as exc:
            raise ConfigError(
                f"AWS profile {self.profile!r} not found: "
                "check --profile/AWS_PROFILE and ~/.aws/config"
            ) from exc
        loader: Any = session.get_component("data_loader")
        loader.file_loader = _LeanJSONLoader(service)
        return session

    def client(
        self,
        service: str,
        session: botocore.session.Session | None = None,
        **config: Any,
    ) -> Any:
        """A client for `service` honouring --endpoint-url; `config` goes to Config.

        Given a `session` from `self.session(service)` (e.g. one that checked
        the credentials), a plain botocore client made from it; otherwise a
        boto3 client, with boto3's additions (S3's upload_file and the like).
        """
        import botocore.config

        cfg = botocore.config.Config(**config) if config else None
        if session is None:
            import boto3

            made: Any = boto3.Session(botocore_session=self.session(service))
            return made.client(service, endpoint_url=self.endpoint_url, config=cfg)
        core: Any = session  # untyped: the stubs overload every service
        return core.create_client(service, endpoint_url=self.endpoint_url, config=cfg)

    def s3(
        self, session: botocore.session.Session | None = None, **config: Any
    ) -> S3Client:
        """An S3 client."""
        client: S3Client = self.client("s3", session, **config)
        return client

    def lambda_(self, **config: Any) -> LambdaClient:
        """A Lambda client."""
        client: LambdaClient = self.client("lambda", **config)
        return client


def require_credentials(session: botocore.session.Session) -> Credentials:
    """Fail early, with the next step, when no AWS credentials can be found."""
    from botocore.exceptions import NoCredentialsError

    try:
        creds = session.get_credentials()
    except NoCredentialsError:
        creds = None
    if creds is None:
        raise ConfigError(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "pass --profile, or run `aws configure`"
        )
    return creds


def credential_environment(aws: AwsOptions) -> dict[str, str]:
    """The credentials botocore's chain finds (env, profile, SSO, ...), as the
    variables Lambda sets in a function from its role; ConfigError if none."""
    frozen = require_credentials(aws.session()).get_frozen_credentials()
    env = {
        "AWS_ACCESS_KEY_ID": str(frozen.access_key),
        "AWS_SECRET_ACCESS_KEY": str(frozen.secret_key),
    }
    if frozen.token:
        env["AWS_SESSION_TOKEN"] = frozen.token
    return env


class _LeanJSONLoader:
    """botocore's data files, loaded to hold a third of the memory.

    botocore parses each JSON model into OrderedDicts with every operation's
    and shape's documentation, and its endpoints.json (every service in
    every partition) for whichever client it makes: 14 MiB resident for one
    S3 client, counted against s3-stream's --max-memory. This loader keeps
    plain dicts (ordered since Python 3.7), drops documentation strings
    (emptied: only docstrings show them) and, when the session is for one service,
    keeps only that service's and the credential providers' entries in
    endpoints.json: 5 MiB for the same client. It has JSONFileLoader's
    interface (`exists`, `load_file`), which botocore's Loader calls.
    """

    def __init__(self, service: str | None) -> None:
        self.keep = None if service is None else {service, *_CREDENTIAL_SERVICES}

    def exists(self, file_path: str) -> bool:
        return any(os.path.isfile(file_path + ext) for ext in _EXTENSIONS)

    def load_file(self, file_path: str) -> Any:
        text = _read(file_path)
        if text is None:
            return None
        data = json.loads(text, object_pairs_hook=_undocumented)
        if os.path.basename(file_path) == "endpoints" and self.keep:
            _only_services(data, self.keep)
        return data


def _read(file_path: str) -> bytes | None:
    for ext in _EXTENSIONS:
        path = file_path + ext
        if os.path.isfile(path):
            if ext.endswith(".gz"):
                with gzip.open(path, "rb") as packed:
                    return packed.read()
            with open(path, "rb") as plain:
                return plain.read()
    return None


def _undocumented(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    # The key stays (botocore reads some), its text goes; a member *named*
    # documentation would map to a dict and is kept.
    return {
        k: "" if k == "documentation" and isinstance(v, str) else v for k, v in pairs
    }


def _only_services(endpoints: Any, keep: set[str]) -> None:
    for partition in endpoints.get("partitions", []):
        services = partition.get("services", {})
        partition["services"] = {k: v for k, v in services.items() if k in keep}
