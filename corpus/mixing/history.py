"""One evaluated mixture version, as the weight policies see the loop's history."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict


class RoundResult(BaseModel):
    """One evaluated mixture version: its weights and final per-domain validation loss.

    ``val_loss`` may hold domains that are not trained on (held-out target domains);
    ``val_loss_se`` is the evaluation's standard error per domain, when the trainer reports it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    weights: dict[str, float]
    val_loss: dict[str, float]
    tokens_seen: int | None = None
    val_loss_se: dict[str, float] | None = None

    def average_loss(self, domains: Sequence[str] | None = None) -> float:
        names = list(domains) if domains is not None else list(self.val_loss)
        return sum(self.val_loss[d] for d in names) / len(names)
