"""AWS options shared by every command, with the AWS CLI's names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devkit.errors import ConfigError

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class AwsOptions:
    """None means unset: boto3's own chain (env, config files, IMDS) decides."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    def session(self) -> boto3.Session:
        """One boto3 session for the command."""
        # boto3 is imported here, not at the top: every command's options go
        # through this module, and `devkit hook run` must start fast.
        import boto3
        from botocore.exceptions import ProfileNotFound

        try:
            return boto3.Session(profile_name=self.profile, region_name=self.region)
        except ProfileNotFound as exc:
            raise ConfigError(
                f"AWS profile {self.profile!r} not found: "
                "check --profile/AWS_PROFILE and ~/.aws/config"
            ) from exc

    def client(self, service: str, **config: Any) -> Any:
        """A client for `service` honouring --endpoint-url; `config` goes to Config."""
        import botocore.config

        cfg = botocore.config.Config(**config) if config else None
        session: Any = self.session()  # untyped: the stubs overload every service
        return session.client(service, endpoint_url=self.endpoint_url, config=cfg)

    def s3(self, **config: Any) -> S3Client:
        """An S3 client."""
        client: S3Client = self.client("s3", **config)
        return client

    def lambda_(self, **config: Any) -> LambdaClient:
        """A Lambda client."""
        client: LambdaClient = self.client("lambda", **config)
        return client


def require_credentials(session: boto3.Session) -> None:
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
