"""The arms of the mixing benchmark on one suite: training runs, the feedback loop, a run cache."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping

from benchmarks.mixing_data import Suite
from corpus.feedback import FeedbackState, NewVersion, decide
from corpus.metrics import MetricsRecord
from corpus.mixing.domain_tokens import DomainTokens, natural_weights, validation_tokens
from corpus.mixing.policies import initial_weights
from corpus.mixing.sampler import materialize, plan_mixture
from corpus.mixing.target import target_loss
from corpus.proxy.online import OnlineSamplerConfig
from corpus.proxy.train import TrainOptions, TrainResult, target_options, train
from corpus.spec import MixtureSpec, ProxySpec, TargetSpec

ARMS = ["uniform", "natural", "excess_loss", "regression", "online", "online_loss", "online_frozen"]
# every arm but the control is a policy or sampler setting a user can select; online_frozen is the online
# data path with the sampler held at its prior (max_shift 0): it separates the sampler's effect from its data path
SHIPPED = [a for a in ARMS if a != "online_frozen"]
ONLINE = {
    "progress": OnlineSamplerConfig(),
    "loss": OnlineSamplerConfig(reward="loss"),
    "frozen": OnlineSamplerConfig(max_shift=0.0),
}
PIPELINE = "bench_mixing"
STOP_WITHIN_SE = 1.0  # the loops stop when a version beats the best earlier one by less than 1 SE


class SuiteBench:
    """Runs of one suite: trained domains train, trained + held-out domains are evaluated."""

    def __init__(
        self, suite: Suite, domains: Mapping[str, DomainTokens], vocab: int, proxy: ProxySpec, args: argparse.Namespace
    ):
        self.suite = suite
        self.names = list(suite.trained)
        self.domains = {d: domains[d] for d in self.names}
        self.val = validation_tokens({d: domains[d] for d in suite.evaluated}, proxy.eval_tokens)
        self.vocab = vocab
        self.proxy = proxy
        self.budget = args.budget
        self.max_epochs = args.max_epochs
        self.n_evals = args.n_evals
        self.curve_tokens = args.curve_tokens
        self.order = getattr(args, "order", "shuffle")
        self.natural = natural_weights(self.domains)
        self.uniform = initial_weights("uniform", self.names, self.natural)
        self.target = suite.target
        self.target_spec = TargetSpec(kind=suite.target.kind, weights=dict(suite.target.weights) or None)
        self._cache: dict[tuple, TrainResult] = {}
        self.reference_info: dict = {}

    # --- single runs ----------------------------------------------------------------------

    def target_of(self, val_loss: Mapping[str, float]) -> float:
        return target_loss(val_loss, self.target, self.names)

    def run(
        self,
        weights: Mapping[str, float],
        seed: int,
        *,
        online: str | None = None,
        budget: int | None = None,
        proxy: ProxySpec | None = None,
        n_evals: int | None = None,
    ) -> TrainResult:
        """One proxy run (cached: the same weights, seed and settings give the same deterministic run)."""
        budget = budget or self.budget
        proxy = (proxy or self.proxy).model_copy(update={"seed": seed, "online_sampler": online is not None})
        key = (tuple(round(weights[d], 9) for d in self.names), seed, online, budget, proxy.model_dump_json(), n_evals)
        if key in self._cache:
            return self._cache[key]
        options = target_options(
            self.target,
            self.names,
            n_evals=n_evals or self.n_evals,
            eval_batch_size=64,
            online=ONLINE[online] if online else OnlineSamplerConfig(),
            curve_eval_tokens=self.curve_tokens,
            order=self.order,
        )
        if online:  # the sampler draws from one epoch of every domain, starting from `weights`
            total = sum(d.index.available_tokens for d in self.domains.values())
            plan = plan_mixture(self.domains, self.natural, total, max_epochs=1.0, seed=seed)
        else:
            plan = plan_mixture(self.domains, weights, budget, max_epochs=self.max_epochs, seed=seed)
        streams = materialize(plan, self.domains)
        result = train(streams, self.val, proxy, budget, vocab_size=self.vocab, weights=weights, options=options)
        self._cache[key] = result
        return result

    def trial(self, seed: int, tokens: int) -> TrainResult:
        """A short uniform run, not cached (for timing)."""
        proxy = self.proxy.model_copy(update={"seed": seed})
        plan = plan_mixture(self.domains, self.uniform, tokens, max_epochs=self.max_epochs, seed=seed)
        return train(
            materialize(plan, self.domains), {}, proxy, tokens, vocab_size=self.vocab, options=TrainOptions(n_evals=1)
        )

    def summarize(self, result: TrainResult, weights: Mapping[str, float]) -> dict:
        return {
            "weights": dict(weights),
            "val_loss": result.val_loss,
            "val_loss_se": result.val_loss_se,
            "target": self.target_of(result.val_loss),
            # the curve: evaluations on a fixed window sample of each val stream (the final one too, for comparison)
            "curve": [(e.tokens_seen, self.target_of(e.curve_loss)) for e in result.evals],
            "tokens_seen": result.tokens_seen,
            "tokens_per_domain": result.tokens_per_domain,
            "seconds": round(result.seconds, 2),
            "tokens_per_s": round(result.tokens_per_s, 1),
            "achieved_gflops": round(result.achieved_flops / 1e9, 3),
            "n_params": result.n_params,
            "final_sampler_weights": result.weight_trajectory[-1][1],
        }

    # --- the feedback loop --------------------------------------------------------------

    def reference(self) -> dict[str, float]:
        """DoReMi's reference model: uniform mixture, twice the budget, a seed of its own (one per suite)."""
        if not self.reference_info:
            res = self.run(self.uniform, seed=10_000, budget=2 * self.budget, n_evals=1)
            self.reference_info = {
                "val_loss": res.val_loss,
                "budget": 2 * self.budget,
                "seed": 10_000,
                "seconds": round(res.seconds, 1),
            }
        return {d: self.reference_info["val_loss"][d] for d in self.names}

    def loop(self, policy: str, policy_config: dict, rounds: int, seed: int) -> list[dict]:
        """The eval_feedback loop: decide -> train the new version -> metrics records -> decide ..."""
        spec = MixtureSpec(
            policy=policy,
            policy_config=policy_config,
            initial="uniform",
            budget_tokens=self.budget,
            max_epochs=self.max_epochs,
            rounds=rounds,
            seed=seed,
            proxy=self.proxy,
            target=self.target_spec,
            stop_within_se=STOP_WITHIN_SE,
        )
        state, records, out = FeedbackState(), [], []
        while True:
            decision = decide(records, state, spec, self.names, self.natural, pipeline=PIPELINE)
            state = decision.state
            if not isinstance(decision, NewVersion):
                if out:
                    out[-1]["stop_reason"] = decision.reason
                return out
            result = self.run(decision.weights, seed)
            run_id = f"{policy}-s{seed}-{decision.version}"
            for e in result.evals:
                records.append(
                    MetricsRecord(
                        run_id=run_id,
                        pipeline=PIPELINE,
                        mixture_version=decision.version,
                        step=e.step,
                        tokens_seen=e.tokens_seen,
                        val_loss=dict(e.val_loss),
                        val_loss_se=dict(e.val_loss_se),
                        finished=e.finished,
                        weights=decision.weights,
                    )
                )
            row = self.summarize(result, decision.weights)
            out.append({"version": decision.version, "reason": decision.reason, **row})

    # --- arms ------------------------------------------------------------------------------

    def arm(self, arm: str, seed: int) -> dict:
        if arm == "uniform":
            return {**self.summarize(self.run(self.uniform, seed), self.uniform), "search_runs": 0}
        if arm == "natural":
            return {**self.summarize(self.run(self.natural, seed), self.natural), "search_runs": 0}
        if arm in ("online", "online_loss", "online_frozen"):
            kind = {"online": "progress", "online_loss": "loss", "online_frozen": "frozen"}[arm]
            return {**self.summarize(self.run(self.uniform, seed, online=kind), self.uniform), "search_runs": 0}
        if arm == "excess_loss":
            cfg = {"reference": "given", "reference_losses": self.reference()}
            rounds = self.loop("excess_loss", cfg, 3, seed)
        elif arm == "regression":
            rounds = self.loop("regression", {"min_history": 2}, 3, seed)
        else:
            raise ValueError(f"unknown arm {arm!r}; arms: {', '.join(ARMS)}")
        best = min(rounds, key=lambda r: r["target"])
        extra = 1 if arm == "excess_loss" else 0  # the reference run (2x budget, shared by the seeds)
        return {**best, "chosen_version": best["version"], "rounds": rounds, "search_runs": len(rounds) - 1 + extra}

    def run_all(self, arms: list[str], seeds: int) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {a: [] for a in arms}
        for seed in range(seeds):
            for arm in arms:
                t0 = time.perf_counter()
                entry = self.arm(arm, seed)
                out[arm].append(entry)
                print(
                    f"{self.suite.name} seed {seed} {arm:<12} target {entry['target']:.4f}  "
                    f"{time.perf_counter() - t0:.0f}s",
                    flush=True,
                )
        return out
