"""Rerank strategies behind one interface: server, greedy, beam, adaptive_beam, python_beam.

A strategy turns one validated page (the contract's tensors, padded to M_max) into an order over
the page's slots. It names the signatures it needs; the ``Reranker`` resolves them from the
artifact (``model.tflite``, and ``policy.tflite`` when the manifest lists it) and caches their
runners. New strategies (the compact policy, ``policy_rerank``) plug in with
``register_strategy`` — nothing here pretends to implement them.

| strategy | signature | what it does |
|---|---|---|
| ``server`` | — | the order the server sent |
| ``greedy`` | ``score`` | point-wise: sort by α·p_ev + β·p_like with an empty prefix |
| ``beam`` | ``rerank`` | in-graph beam search with threshold 1 (runs to L_max) |
| ``adaptive_beam`` | ``rerank`` | in-graph adaptive beam search, the manifest's threshold |
| ``python_beam`` | ``score`` | numpy Algorithm 1 over ``score`` (the benchmark baseline) |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from device_runtime import contract as C
from device_runtime.beam_search import beam_search, greedy_order, signature_scorer

#: runner(**named inputs) -> {output name: array}; a cached LiteRT signature runner
Runner = Callable[..., Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class SearchParams:
    """Runtime inputs of a rerank (defaults come from the artifact's manifest)."""

    alpha: float = C.DEFAULT_RERANK_PARAMS["alpha"]
    """ListReward weight of p_effective_view."""
    beta: float = C.DEFAULT_RERANK_PARAMS["beta"]
    """ListReward weight of p_like."""
    threshold: float = C.DEFAULT_RERANK_PARAMS["threshold"]
    """Stability threshold t of adaptive beam search."""
    n_show: int = int(C.DEFAULT_RERANK_PARAMS["n_show"])
    """Minimum search steps n before stopping (1 in an immersive feed)."""
    beam_size: int = C.BEAM_SIZE_DEFAULT
    """k, fixed at export (python_beam mirrors it)."""
    l_max: int = C.L_MAX_DEFAULT
    """L_max, fixed at export."""

    @property
    def prefix_len(self) -> int:
        return max(self.l_max - 1, 1)

    @staticmethod
    def from_manifest(manifest: dict) -> SearchParams:
        d = manifest["defaults"]
        return SearchParams(float(d["alpha"]), float(d["beta"]), float(d["threshold"]), int(d["n_show"]),
                            int(manifest["beam_size"]), int(manifest["dims"]["l_max"]))


class StrategyOutput(NamedTuple):
    """An order over the page's M_max slots (valid slots first, then -1)."""

    order: np.ndarray  # int32 [M_max]
    steps: int  # search steps (0 for server, 1 for greedy)
    list_reward: float  # the model's ListReward of the chosen order (nan where not computed)


class Strategy(Protocol):
    """Anything with a name, the signatures it needs, and a call that orders one page."""

    @property
    def name(self) -> str: ...

    @property
    def signatures(self) -> tuple[str, ...]: ...

    def __call__(self, runners: Mapping[str, Runner], page: dict[str, np.ndarray],
                 params: SearchParams) -> StrategyOutput: ...


def _server(page: dict[str, np.ndarray]) -> np.ndarray:
    valid = page["cand_mask"] > 0.5
    order = np.full(valid.shape[0], -1, np.int32)
    idx = np.flatnonzero(valid)
    order[: idx.size] = idx
    return order


def _rerank_feeds(page: dict[str, np.ndarray], params: SearchParams, threshold: float) -> dict:
    return {**page, "alpha": np.float32(params.alpha), "beta": np.float32(params.beta),
            "threshold": np.float32(threshold), "n_show": np.int32(params.n_show)}


def _empty_prefix(plen: int) -> dict[str, np.ndarray]:
    return {"prefix_dense": np.zeros((plen, C.N_VIDEO_DENSE), C.FLOAT),
            "prefix_ids": np.zeros((plen, C.N_IDS), C.INT), "prefix_mask": np.zeros((plen,), C.FLOAT)}


@dataclass(frozen=True)
class ServerOrder:
    """The order the server sent: no model call."""

    name: str = "server"
    signatures: tuple[str, ...] = ()

    def __call__(self, runners, page, params) -> StrategyOutput:
        return StrategyOutput(_server(page), 0, float("nan"))


@dataclass(frozen=True)
class Greedy:
    """Point-wise greedy: one ``score`` call with an empty prefix, sort by α·p_ev + β·p_like."""

    name: str = "greedy"
    signatures: tuple[str, ...] = (C.SCORE_SIGNATURE,)

    def __call__(self, runners, page, params) -> StrategyOutput:
        out = runners[C.SCORE_SIGNATURE](**page, **_empty_prefix(params.prefix_len))
        order = greedy_order(out["p_has_next"], out["p_effective_view"], out["p_like"], page["cand_mask"],
                             params.alpha, params.beta)
        return StrategyOutput(order, 1, float("nan"))


@dataclass(frozen=True)
class GraphBeam:
    """In-graph beam search (``rerank``); ``threshold`` None = the manifest's default."""

    name: str
    threshold: float | None
    signatures: tuple[str, ...] = (C.RERANK_SIGNATURE,)

    def __call__(self, runners, page, params) -> StrategyOutput:
        t = params.threshold if self.threshold is None else self.threshold
        out = runners[C.RERANK_SIGNATURE](**_rerank_feeds(page, params, t))
        return StrategyOutput(np.asarray(out["order"], np.int32), int(out["steps"]), float(out["list_reward"]))


@dataclass(frozen=True)
class PythonBeam:
    """Numpy Algorithm 1 over the ``score`` runner (``device_runtime.beam_search``): one ``score``
    call per live beam per step. The baseline the in-graph search is benchmarked against."""

    name: str = "python_beam"
    signatures: tuple[str, ...] = (C.SCORE_SIGNATURE,)

    def __call__(self, runners, page, params) -> StrategyOutput:
        scorer = signature_scorer(runners[C.SCORE_SIGNATURE], page, params.prefix_len)
        r = beam_search(scorer, page["cand_mask"], beam_size=params.beam_size, max_steps=params.l_max,
                        alpha=params.alpha, beta=params.beta, threshold=params.threshold, n_show=params.n_show)
        return StrategyOutput(r.order, r.steps, r.list_reward)


STRATEGIES: dict[str, Strategy] = {}


def register_strategy(strategy: Strategy) -> Strategy:
    """Make ``strategy`` available by its name (the extension point for e.g. ``policy``)."""
    if not getattr(strategy, "name", None):
        raise ValueError(f"`strategy` must have a non-empty `name`, got {strategy!r}")
    STRATEGIES[strategy.name] = strategy
    return strategy


for _s in (ServerOrder(), Greedy(), GraphBeam("beam", 1.0), GraphBeam("adaptive_beam", None), PythonBeam()):
    register_strategy(_s)


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {sorted(STRATEGIES)}, got {name!r}")
    return STRATEGIES[name]

# The compact policy's strategies (``policy``, ``policy_beam``) register themselves through the
# extension point above; imported last because that module imports this one.
from device_runtime import policy_strategy as _policy_strategy  # noqa: E402,F401
