"""The storage root and S3 settings from the environment, without Dagster.

``root`` is a path relative to the project, an absolute path, ``file://...`` or
``s3://bucket/prefix``; unset, it is ``$CORPUS_STORAGE_ROOT`` or ``./data``. The S3 endpoint and
region come from the standard AWS variables; credentials are left to pyarrow, which reads the
standard AWS environment itself, so they never pass through this code. The Dagster resource
(:class:`resources.storage.CorpusStorage`) and the ``corpus-metrics`` command share these defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

from corpus.io import CorpusStore, S3Options

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = "data"
ROOT_ENV = "CORPUS_STORAGE_ROOT"
DEFAULT_S3_ATTEMPTS = 5  # what the dagster-aws S3Resource defaults to


def resolved_root(root: str | None = None) -> str:
    return root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT


def env_s3_options(
    endpoint_url: str | None = None, region: str | None = None, max_attempts: int | None = None
) -> S3Options:
    """S3 options: the given values first, else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` and ``AWS_REGION``."""
    return S3Options(
        endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
        region=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        max_attempts=max_attempts or DEFAULT_S3_ATTEMPTS,
    )


def store_from_env(root: str | None = None) -> CorpusStore:
    """The corpus store at ``root`` (default ``$CORPUS_STORAGE_ROOT`` or ``./data``), set up from the environment."""
    return CorpusStore(root=resolved_root(root), base_dir=str(PROJECT_ROOT), s3=env_s3_options())
