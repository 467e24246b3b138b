"""Rerank strategies behind one interface: server, greedy, beam, adaptive_beam, python_beam.

A strategy turns one validated set of rerank inputs (the contract's tensors, candidates
padded to M_max) into an order over the candidate slots. It names the signatures it needs; the ``Reranker`` resolves them from the
artifact (``model.tflite``, and ``policy.tflite`` when the manifest lists it) and caches their
runners. The protocol and the one registry live in ``strategy_api``; this module registers every
built-in strategy (including the compact policy's, defined in ``policy_strategy``), and apps add
theirs with ``register_strategy``.

| strategy | signature | what it does |
|---|---|---|
| ``server`` | — | the order the server sent |
| ``greedy`` | ``score`` | point-wise: sort by α·p_ev + β·p_like with an empty prefix |
| ``beam`` | ``rerank`` | in-graph beam search with threshold 1 (runs to L_max) |
| ``adaptive_beam`` | ``rerank`` | in-graph adaptive beam search, the manifest's threshold |
| ``python_beam`` | ``score`` | numpy Algorithm 1 over ``score`` (the benchmark baseline) |
| ``policy``, ``policy_beam`` | ``policy_rerank`` (+ ``score``, ``policy_guide``) | the compact policy (``policy_strategy``) |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device_runtime import contract as C
from device_runtime.beam_search import beam_search, greedy_order, signature_scorer
from device_runtime.policy_strategy import PolicyBeam, PolicyRerank
from device_runtime.strategy_api import (
    STRATEGIES,
    RerankInputs,
    Runner,
    SearchParams,
    Strategy,
    StrategyOutput,
    register_strategy,
)


def _server(inputs: RerankInputs) -> np.ndarray:
    valid = inputs["cand_mask"] > 0.5
    order = np.full(valid.shape[0], -1, np.int32)
    idx = np.flatnonzero(valid)
    order[: idx.size] = idx
    return order


def _rerank_feeds(inputs: RerankInputs, params: SearchParams, threshold: float) -> dict:
    return {**inputs, "alpha": np.float32(params.alpha), "beta": np.float32(params.beta),
            "threshold": np.float32(threshold), "n_show": np.int32(params.n_show)}


def _empty_prefix(plen: int) -> dict[str, np.ndarray]:
    return {"prefix_dense": np.zeros((plen, C.N_VIDEO_DENSE), C.FLOAT),
            "prefix_ids": np.zeros((plen, C.N_IDS), C.INT), "prefix_mask": np.zeros((plen,), C.FLOAT)}


@dataclass(frozen=True)
class ServerOrder:
    """The order the server sent: no model call."""

    name: str = "server"
    signatures: tuple[str, ...] = ()

    def __call__(self, runners, inputs, params) -> StrategyOutput:
        return StrategyOutput(_server(inputs), 0, float("nan"))


@dataclass(frozen=True)
class Greedy:
    """Point-wise greedy: one ``score`` call with an empty prefix, sort by α·p_ev + β·p_like."""

    name: str = "greedy"
    signatures: tuple[str, ...] = (C.SCORE_SIGNATURE,)

    def __call__(self, runners, inputs, params) -> StrategyOutput:
        out = runners[C.SCORE_SIGNATURE](**inputs, **_empty_prefix(params.prefix_len))
        order = greedy_order(out["p_has_next"], out["p_effective_view"], out["p_like"], inputs["cand_mask"],
                             params.alpha, params.beta)
        return StrategyOutput(order, 1, float("nan"))


@dataclass(frozen=True)
class GraphBeam:
    """In-graph beam search (``rerank``); ``threshold`` None = the manifest's default."""

    name: str
    threshold: float | None
    signatures: tuple[str, ...] = (C.RERANK_SIGNATURE,)

    def __call__(self, runners, inputs, params) -> StrategyOutput:
        t = params.threshold if self.threshold is None else self.threshold
        out = runners[C.RERANK_SIGNATURE](**_rerank_feeds(inputs, params, t))
        return StrategyOutput(np.asarray(out["order"], np.int32), int(out["steps"]), float(out["list_reward"]))


@dataclass(frozen=True)
class PythonBeam:
    """Numpy Algorithm 1 over the ``score`` runner (``device_runtime.beam_search``): one ``score``
    call per live beam per step. The baseline the in-graph search is benchmarked against."""

    name: str = "python_beam"
    signatures: tuple[str, ...] = (C.SCORE_SIGNATURE,)

    def __call__(self, runners, inputs, params) -> StrategyOutput:
        scorer = signature_scorer(runners[C.SCORE_SIGNATURE], inputs, params.prefix_len)
        r = beam_search(scorer, inputs["cand_mask"], beam_size=params.beam_size, max_steps=params.l_max,
                        alpha=params.alpha, beta=params.beta, threshold=params.threshold, n_show=params.n_show)
        return StrategyOutput(r.order, r.steps, r.list_reward)


for _s in (ServerOrder(), Greedy(), GraphBeam("beam", 1.0), GraphBeam("adaptive_beam", None), PythonBeam(),
           PolicyRerank(), PolicyBeam()):
    register_strategy(_s)


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {sorted(STRATEGIES)}, got {name!r}")
    return STRATEGIES[name]


__all__ = ["STRATEGIES", "RerankInputs", "Runner", "SearchParams", "Strategy", "StrategyOutput",
           "get_strategy", "register_strategy"]
