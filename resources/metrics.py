"""The metrics store as a Dagster resource; the Dagster-free client is :mod:`resources.metrics_client`."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from resources.metrics_client import METRICS_DIR, MetricsClient, StoredRecords
from resources.storage import CorpusStorage

__all__ = ["METRICS_DIR", "MetricsClient", "MetricsStore", "StoredRecords"]


class MetricsStore(dg.ConfigurableResource):
    """Where training runs report evaluation metrics (default: under the storage root)."""

    root: str | None = Field(
        default=None, description="metrics root; default: the storage root ($CORPUS_STORAGE_ROOT or ./data)"
    )

    def client(self, storage: CorpusStorage | None = None) -> MetricsClient:
        storage = storage or CorpusStorage()
        if self.root or os.environ.get("CORPUS_METRICS_ROOT"):
            storage = CorpusStorage(root=self.root or os.environ["CORPUS_METRICS_ROOT"], s3=storage.s3)
        return MetricsClient(storage.store())
