"""What a rerank strategy is, and the one registry of them.

A strategy turns one validated set of rerank inputs (the contract's tensors: history,
cached candidates padded to M_max with a mask, context) into an order over the candidate slots.
It names the signatures it needs; the ``Reranker`` resolves them from the artifact and caches
their runners. ``device_runtime.strategies`` registers the built-in ones; an app adds its own
with ``register_strategy``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from device_runtime import contract as C

#: the contract's tensors for one rerank ({name: array}, unbatched)
RerankInputs = dict[str, np.ndarray]

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
    """n: the minimum number of search steps before the stability test may stop the search (the
    signature input keeps the name ``n_show``; 1 in an immersive feed)."""
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
    """An order over the M_max candidate slots (valid slots first, then -1)."""

    order: np.ndarray  # int32 [M_max]
    steps: int  # search steps (0 for server, 1 for greedy)
    list_reward: float  # the model's ListReward of the chosen order (nan where not computed)


class Strategy(Protocol):
    """Anything with a name, the signatures it needs, and a call that orders one set of rerank inputs."""

    @property
    def name(self) -> str: ...

    @property
    def signatures(self) -> tuple[str, ...]: ...

    def __call__(self, runners: Mapping[str, Runner], inputs: RerankInputs,
                 params: SearchParams) -> StrategyOutput: ...


STRATEGIES: dict[str, Strategy] = {}


def register_strategy(strategy: Strategy) -> Strategy:
    """Make ``strategy`` available by its name (the extension point; a later one of the same name replaces it)."""
    if not getattr(strategy, "name", None):
        raise ValueError(f"`strategy` must have a non-empty `name`, got {strategy!r}")
    STRATEGIES[strategy.name] = strategy
    return strategy



