"""The compact policy's rerank strategies (registered by ``device_runtime.strategies``).

| strategy | signatures | what it does |
|---|---|---|
| ``policy`` | ``policy_rerank`` | the policy's order (top of Φ·Z first) from ``policy.tflite`` |
| ``policy_beam`` | ``score``, ``policy_rerank``, ``policy_guide`` | policy-guided beam search (numpy) |

Policy-guided beam search is Algorithm 1 over ``score`` (``device_runtime.beam_search``) with one
change: the step reward of placing candidate c, s·(α·p_ev + β·p_like), becomes
s·(α·p_ev + β·p_like + g(c)) with g(c) = λ·(min-max normalised policy score of c) — discounted by
the same survival s, so a candidate the policy likes is worth more early in the list — and the
search prefers what the policy ranks high where the ranker's ListReward cannot tell lists apart. λ is fixed at export (``reelrank export-policy
--beam-lambda``) and lives in the ``policy_guide`` signature. The returned ``list_reward`` is the
ranker's ListReward of the chosen list, without the guide. Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device_runtime import contract as C
from device_runtime.beam_search import BeamResult, Scorer, beam_search, signature_scorer
from device_runtime.strategy_api import RerankInputs, StrategyOutput


def guide_reference(scores: np.ndarray, cand_mask: np.ndarray, lam: float) -> np.ndarray:
    """λ·(s − min)/(max − min) over the valid slots (float32, the graph's order of operations);
    0 on padding, and 0 everywhere when the valid scores are all equal."""
    s = np.asarray(scores, np.float32)
    valid = np.asarray(cand_mask, np.float32) > 0.5
    if not valid.any():
        return np.zeros_like(s)
    lo = np.float32(s[valid].min())
    span = np.float32(s[valid].max()) - lo
    if span <= 0:
        return np.zeros_like(s)
    return np.where(valid, np.float32(lam) * ((s - lo) / span), np.float32(0.0)).astype(np.float32)


def guided_beam_search(scorer: Scorer, cand_mask: np.ndarray, guide: np.ndarray, *, beam_size: int,
                       max_steps: int, alpha: float, beta: float, threshold: float, n_show: int) -> BeamResult:
    """Adaptive beam search whose extension value is V_parent + s_parent·(α p_ev + β p_like + g(c))
    (``beam_search`` with a guide). With g ≡ 0 it is ``beam_search`` exactly (a test checks it)."""
    return beam_search(scorer, cand_mask, beam_size=beam_size, max_steps=max_steps, alpha=alpha, beta=beta,
                       threshold=threshold, n_show=n_show, guide=guide)


@dataclass(frozen=True)
class PolicyRerank:
    """The compact policy's own order (``policy_rerank``)."""

    name: str = "policy"
    signatures: tuple[str, ...] = (C.POLICY_SIGNATURE,)

    def __call__(self, runners, inputs, params) -> StrategyOutput:
        out = runners[C.POLICY_SIGNATURE](**{s.name: inputs[s.name] for s in C.policy_inputs(_dims(inputs))})
        return StrategyOutput(np.asarray(out["order"], np.int32), 1, float("nan"))


@dataclass(frozen=True)
class PolicyBeam:
    """Policy-guided adaptive beam search over ``score`` (numpy), guide from ``policy_guide``."""

    name: str = "policy_beam"
    signatures: tuple[str, ...] = (C.SCORE_SIGNATURE, C.POLICY_SIGNATURE, C.POLICY_GUIDE_SIGNATURE)

    def __call__(self, runners, inputs, params) -> StrategyOutput:
        pol = runners[C.POLICY_SIGNATURE](**{s.name: inputs[s.name] for s in C.policy_inputs(_dims(inputs))})
        guide = runners[C.POLICY_GUIDE_SIGNATURE](scores=pol["scores"], cand_mask=inputs["cand_mask"])["guide"]
        scorer = signature_scorer(runners[C.SCORE_SIGNATURE], inputs, params.prefix_len)
        r = guided_beam_search(scorer, inputs["cand_mask"], np.asarray(guide), beam_size=params.beam_size,
                               max_steps=params.l_max, alpha=params.alpha, beta=params.beta,
                               threshold=params.threshold, n_show=params.n_show)
        return StrategyOutput(r.order, r.steps, r.list_reward)


def _dims(inputs: RerankInputs) -> C.Dims:
    return C.Dims(n_history=int(inputs["hist_mask"].shape[0]), m_max=int(inputs["cand_mask"].shape[0]), l_max=1)

