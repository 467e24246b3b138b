"""The compact policy's rerank strategies, plugged into the runtime with ``register_strategy``.

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
from device_runtime.beam_search import BeamResult, Scorer, final_order, signature_scorer
from device_runtime.strategies import StrategyOutput, register_strategy


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
    """Adaptive beam search whose extension value is V_parent + s_parent·(α p_ev + β p_like + g(c)).
    With g ≡ 0 it is ``beam_search`` exactly (a test checks it)."""
    valid = np.asarray(cand_mask) > 0.5
    m = valid.shape[0]
    g = np.asarray(guide, np.float32)
    a32, b32 = np.float32(alpha), np.float32(beta)
    # beams: (placed, guided value, ListReward without the guide, survival for the next slot)
    beams: list[tuple[list[int], np.float32, np.float32, np.float32]] = [
        ([], np.float32(0.0), np.float32(0.0), np.float32(1.0))]
    stabilities: list[float] = []
    steps = evals = 0
    t_max = min(max_steps, int(valid.sum()))
    while steps < t_max:
        ext = np.full((beam_size, m), -np.inf, dtype=np.float32)
        lr_ext = np.zeros((beam_size, m), dtype=np.float32)
        p_hn_rows = np.zeros((beam_size, m), dtype=np.float32)
        for b, (placed, val, lr, surv) in enumerate(beams):
            p_hn, p_ev, p_like = (np.asarray(x, dtype=np.float32) for x in scorer(placed))
            evals += 1
            gain = (a32 * p_ev + b32 * p_like).astype(np.float32)
            usable = valid.copy()
            usable[placed] = False
            ext[b, usable] = (val + surv * (gain + g))[usable]
            lr_ext[b] = lr + surv * gain
            p_hn_rows[b] = p_hn
        flat = ext.reshape(-1)
        top = np.argsort(-flat, kind="stable")[: min(beam_size, int(np.isfinite(flat).sum()))]
        new = []
        for idx in top:
            parent, cand = divmod(int(idx), m)
            placed, _, _, surv = beams[parent]
            new.append((placed + [cand], flat[idx], lr_ext[parent, cand], np.float32(surv * p_hn_rows[parent, cand])))
        beams = new
        steps += 1
        vals = np.array([b[1] for b in beams], dtype=np.float32)
        mx, mn = vals.max(), vals.min()
        stab = float(1.0 if mx == 0 else np.float32(mn / mx))
        stabilities.append(stab)
        if steps >= n_show and np.float32(stab) >= np.float32(threshold):
            break
    best = beams[0]
    return BeamResult(final_order(best[0], valid), float(best[2]), steps, stabilities, evals)


@dataclass(frozen=True)
class PolicyRerank:
    """The compact policy's own order (``policy_rerank``)."""

    name: str = "policy"
    signatures: tuple[str, ...] = (C.POLICY_SIGNATURE,)

    def __call__(self, runners, page, params) -> StrategyOutput:
        out = runners[C.POLICY_SIGNATURE](**{s.name: page[s.name] for s in C.policy_inputs(_dims(page))})
        return StrategyOutput(np.asarray(out["order"], np.int32), 1, float("nan"))


@dataclass(frozen=True)
class PolicyBeam:
    """Policy-guided adaptive beam search over ``score`` (numpy), guide from ``policy_guide``."""

    name: str = "policy_beam"
    signatures: tuple[str, ...] = (C.SCORE_SIGNATURE, C.POLICY_SIGNATURE, C.POLICY_GUIDE_SIGNATURE)

    def __call__(self, runners, page, params) -> StrategyOutput:
        pol = runners[C.POLICY_SIGNATURE](**{s.name: page[s.name] for s in C.policy_inputs(_dims(page))})
        guide = runners[C.POLICY_GUIDE_SIGNATURE](scores=pol["scores"], cand_mask=page["cand_mask"])["guide"]
        scorer = signature_scorer(runners[C.SCORE_SIGNATURE], page, params.prefix_len)
        r = guided_beam_search(scorer, page["cand_mask"], np.asarray(guide), beam_size=params.beam_size,
                               max_steps=params.l_max, alpha=params.alpha, beta=params.beta,
                               threshold=params.threshold, n_show=params.n_show)
        return StrategyOutput(r.order, r.steps, r.list_reward)


def _dims(page: dict[str, np.ndarray]) -> C.Dims:
    return C.Dims(n_history=int(page["hist_mask"].shape[0]), m_max=int(page["cand_mask"].shape[0]), l_max=1)


for _s in (PolicyRerank(), PolicyBeam()):
    register_strategy(_s)
