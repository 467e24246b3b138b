"""Stability statistics in the format of Kuaishou's Table 5: mean stability (min/max of the beams'
ListRewards) by search step when the search runs to L_max, and the steps taken at the threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device_runtime import contract as C
from device_runtime.beam_search import beam_search, signature_scorer
from device_runtime.litert import SignatureRunner, load_interpreter
from device_runtime.sim.samples import row


def stability_table(model_path: str | Path, rerank_in: dict, score_in: dict, dims: C.Dims,
                    beam_size: int) -> dict:
    interp = load_interpreter(model_path)
    rerank = SignatureRunner(interp, C.RERANK_SIGNATURE)
    score = SignatureRunner(interp, C.SCORE_SIGNATURE)
    n = rerank_in["cand_mask"].shape[0]
    steps = []
    by_step: list[list[float]] = [[] for _ in range(dims.l_max)]
    for i in range(n):
        p = row(rerank_in, i)
        steps.append(int(rerank(**p)["steps"]))
        full = beam_search(signature_scorer(score, p, dims.prefix_len), p["cand_mask"], beam_size=beam_size,
                           max_steps=dims.l_max, alpha=float(p["alpha"]), beta=float(p["beta"]),
                           threshold=np.inf, n_show=dims.l_max)
        for s, v in enumerate(full.stability):
            by_step[s].append(v)
    threshold = float(rerank_in["threshold"][0])
    return {
        "threshold": threshold,
        "pages": n,
        "mean_steps": float(np.mean(steps)),
        "steps_histogram": np.bincount(steps, minlength=dims.l_max + 1).tolist(),
        "stability_by_step": [float(np.mean(v)) if v else None for v in by_step],
    }


def format_table(stab: dict) -> str:
    head = "| step | " + " | ".join(str(i + 1) for i in range(len(stab["stability_by_step"]))) + " |"
    sep = "|---" * (len(stab["stability_by_step"]) + 1) + "|"
    row = "| mean stability | " + " | ".join("-" if v is None else f"{v:.4f}" for v in stab["stability_by_step"]) + " |"
    return "\n".join([head, sep, row, "",
                      f"mean steps at threshold {stab['threshold']:.2f}: {stab['mean_steps']:.2f} over {stab['pages']} pages"])
