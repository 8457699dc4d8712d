"""Storage as a Dagster resource: a local folder (default ``./data``) or an S3 prefix.

One code path: both are pyarrow filesystems behind :class:`corpus.io.CorpusStore`. For
S3, the endpoint, region and credentials come from the nested dagster-aws ``S3Resource``
(set them with ``dg.EnvVar``), or from the standard AWS environment variables; they are
never written into specs, metadata or logs.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field

from corpus.io import CorpusStore, S3Options, resolve_location
from resources.storage_env import DEFAULT_ROOT, PROJECT_ROOT, ROOT_ENV, env_s3_options, resolved_root

__all__ = ["DEFAULT_ROOT", "PROJECT_ROOT", "ROOT_ENV", "CorpusStorage"]


class CorpusStorage(dg.ConfigurableResource):
    """Where every pipeline's shards live. ``root`` is a path relative to the project, an
    absolute path, ``file://...`` or ``s3://bucket/prefix``; unset, it is
    ``$CORPUS_STORAGE_ROOT`` or ``./data``."""

    root: str | None = Field(default=None, description="storage root; default $CORPUS_STORAGE_ROOT or ./data")
    s3: S3Resource = Field(default_factory=S3Resource, description="S3 endpoint, region and credentials (dagster-aws)")

    def resolved_root(self) -> str:
        return resolved_root(self.root)

    def s3_options(self) -> S3Options:
        s3 = self.s3
        env = env_s3_options(s3.endpoint_url, s3.region_name, s3.max_attempts)
        return S3Options(
            endpoint_url=env.endpoint_url,
            region=env.region,
            access_key_id=s3.aws_access_key_id,
            secret_access_key=s3.aws_secret_access_key,
            session_token=s3.aws_session_token,
            max_attempts=env.max_attempts,
        )

    def store(self) -> CorpusStore:
        return CorpusStore(root=self.resolved_root(), base_dir=str(PROJECT_ROOT), s3=self.s3_options())

    def source_location(self, location: str) -> tuple[Any, str]:
        """(pyarrow filesystem, path) of a source location from a validated spec."""
        fs, path, _ = resolve_location(location, PROJECT_ROOT, self.s3_options())
        return fs, path
