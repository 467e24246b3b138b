"""Adaptive beam search (Kuaishou, CIKM 2022, Algorithm 1) in numpy over any per-candidate scorer.

This is the independent reference that ``reelrank verify`` compares the in-graph ``rerank``
against, and the ``python_beam`` strategy of the device runtime. It calls the scorer once per live
beam per step with that beam's placed prefix. Arithmetic is float32 in the same order as the graph
(extension value = LR_parent + s_parent · (α·p_ev + β·p_like)), so the two agree exactly on orders
and steps.

ListReward LR(P) = Σ_i s_i (α p_ev_i + β p_like_i), s_1 = 1, s_i = Π_{j<i} p_has_next_j.
One live beam at step 1; each step extends every live beam by one unused valid candidate and keeps
the top k of the flattened [k, M] extension values (ties toward the lower flat index); stability =
min/max of the live beams' LR (1 when the max is 0); stop when steps ≥ n_show and stability ≥
threshold, at L_max, or when the candidates run out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

#: scorer(placed indices in order) -> (p_has_next, p_effective_view, p_like), each float32 [M]
Scorer = Callable[[list[int]], tuple[np.ndarray, np.ndarray, np.ndarray]]


class BeamResult(NamedTuple):
    order: np.ndarray  # int32 [M]: best beam's placed, then unplaced valid in input order, then -1
    list_reward: float  # the best beam's ListReward
    steps: int  # search steps taken
    stability: list[float]  # stability after each step
    evaluations: int  # scorer calls (each scores all M candidates for one prefix)


def final_order(placed: list[int], valid: np.ndarray) -> np.ndarray:
    m = valid.shape[0]
    rest = [j for j in range(m) if valid[j] and j not in placed]
    order = np.full(m, -1, dtype=np.int32)
    seq = list(placed) + rest
    order[: len(seq)] = seq
    return order


def beam_search(
    scorer: Scorer,
    cand_mask: np.ndarray,
    *,
    beam_size: int,
    max_steps: int,
    alpha: float,
    beta: float,
    threshold: float,
    n_show: int,
    guide: np.ndarray | None = None,
) -> BeamResult:
    """Algorithm 1. With ``guide`` (float32 [M], policy-guided search) the value that ranks and
    stops the beams is V_parent + s_parent·(α p_ev + β p_like + g(c)); the returned list_reward is
    still the plain ListReward of the best beam. Without it g ≡ 0 and V is the ListReward."""
    valid = np.asarray(cand_mask) > 0.5
    m = valid.shape[0]
    n_valid = int(valid.sum())
    a32, b32 = np.float32(alpha), np.float32(beta)
    g = np.zeros(m, np.float32) if guide is None else np.asarray(guide, np.float32)
    # beams: (placed, value, ListReward, survival for the next slot)
    beams: list[tuple[list[int], np.float32, np.float32, np.float32]] = [
        ([], np.float32(0.0), np.float32(0.0), np.float32(1.0))]
    stabilities: list[float] = []
    steps = 0
    evals = 0
    t_max = min(max_steps, n_valid)
    while steps < t_max:
        ext = np.full((beam_size, m), -np.inf, dtype=np.float32)
        lr_ext = np.zeros((beam_size, m), dtype=np.float32)
        p_hn_rows = np.zeros((beam_size, m), dtype=np.float32)
        for b, (placed, val, lr, surv) in enumerate(beams):
            p_hn, p_ev, p_like = (np.asarray(x, dtype=np.float32) for x in scorer(placed))
            evals += 1
            gain = a32 * p_ev + b32 * p_like
            usable = valid.copy()
            usable[placed] = False
            ext[b, usable] = (val + surv * (gain + g)).astype(np.float32)[usable]
            lr_ext[b] = lr + surv * gain
            p_hn_rows[b] = p_hn
        flat = ext.reshape(-1)
        n_ext = int(np.isfinite(flat).sum())
        # top-k, ties toward the lower flat index: stable sort of the negated values
        top = np.argsort(-flat, kind="stable")[: min(beam_size, n_ext)]
        new_beams = []
        for idx in top:
            parent, cand = divmod(int(idx), m)
            placed, _, _, surv = beams[parent]
            new_beams.append((placed + [cand], flat[idx], lr_ext[parent, cand],
                              np.float32(surv * p_hn_rows[parent, cand])))
        beams = new_beams
        steps += 1
        vals = np.array([b[1] for b in beams], dtype=np.float32)
        mx, mn = vals.max(), vals.min()
        stab = float(1.0 if mx == 0 else np.float32(mn / mx))
        stabilities.append(stab)
        if steps >= n_show and np.float32(stab) >= np.float32(threshold):
            break
    best_placed, _, best_lr, _ = beams[0]
    return BeamResult(final_order(best_placed, valid), float(best_lr), steps, stabilities, evals)


def greedy_order(p_has_next: np.ndarray, p_ev: np.ndarray, p_like: np.ndarray, cand_mask: np.ndarray,
                 alpha: float, beta: float) -> np.ndarray:
    """Point-wise greedy: sort valid candidates by α·p_ev + β·p_like (empty prefix), ties to the
    lower index, padding last as -1."""
    valid = np.asarray(cand_mask) > 0.5
    gain = np.float32(alpha) * np.asarray(p_ev, np.float32) + np.float32(beta) * np.asarray(p_like, np.float32)
    idx = np.flatnonzero(valid)
    ranked = idx[np.argsort(-gain[idx], kind="stable")]
    order = np.full(valid.shape[0], -1, dtype=np.int32)
    order[: ranked.size] = ranked
    return order


def signature_scorer(score_runner, inputs: dict, prefix_len: int) -> Scorer:
    """A scorer over a ``score`` signature for one inputs (rerank-style inputs): the prefix is built
    by gathering the placed candidates' rows, as the manifest's ``prefix_gathered_from`` says.

    With a fast ``SignatureRunner`` the inputs's inputs are set once here and each call sets only
    the three prefix tensors before invoking."""
    from device_runtime.features import Candidates, build_prefix

    cands = Candidates(inputs["cand_dense"], inputs["cand_ids"], inputs["cand_mask"])
    fixed = {k: inputs[k] for k in ("hist_dense", "hist_ids", "hist_mask", "cand_dense", "cand_ids",
                                  "cand_mask", "context")}
    fast = getattr(score_runner, "fast", False)
    if fast:
        score_runner.set(**fixed)

    def scorer(placed: list[int]):
        p = build_prefix(cands, placed, prefix_len)
        if fast:
            score_runner.set(prefix_dense=p.dense, prefix_ids=p.ids, prefix_mask=p.mask)
            out = score_runner.invoke()
        else:
            out = score_runner(**fixed, prefix_dense=p.dense, prefix_ids=p.ids, prefix_mask=p.mask)
        return out["p_has_next"], out["p_effective_view"], out["p_like"]

    return scorer
