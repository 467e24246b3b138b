"""Scaling of the in-graph search and the cost of each search step.

* ``scaling_fit``: from a latency run over several M_max (m) and beam sizes (k), fit
  latency ≈ a + b · (k · l · m) with the measured mean steps l (Kuaishou's O(k·l·m) claim), plus
  the slopes against m at fixed k and against k at fixed m.
* ``steps_table`` (Table 5 format): mean stability by step and latency when the search is forced
  to stop at step s, relative to s = 1; and adaptive (default threshold) against a fixed L_max-step
  search in ListReward (evaluated over the same horizon under the model) and in time.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from device_runtime import contract as C
from device_runtime.artifact import MODEL, dims_of, load_manifest
from device_runtime.beam_search import signature_scorer
from device_runtime.litert import SignatureRunner, load_interpreter
from device_runtime.sim.samples import row


def _fit(x: np.ndarray, y: np.ndarray) -> dict:
    a = np.vstack([np.ones_like(x), x]).T
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    pred = a @ coef
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2)) or 1.0
    return {"intercept_us": float(coef[0]), "slope_us": float(coef[1]), "r2": 1.0 - ss_res / ss_tot, "points": len(x)}


def scaling_fit(latency: dict, runtime: str = "tflite_xnnpack", threads: int = 1) -> dict:
    rows = [r for r in latency["results"] if r["runtime"] == runtime and r["threads"] == threads and r.get("mean_steps")]
    if len(rows) < 2:
        return {"runtime": runtime, "note": "needs at least two (m, k) configurations"}
    x = np.array([r["k"] * r["mean_steps"] * r["m"] for r in rows])
    y = np.array([r["p50_us"] for r in rows])
    out = {"runtime": runtime, "threads": threads, "latency_vs_k_l_m": _fit(x, y),
           "points": [{"m": r["m"], "k": r["k"], "mean_steps": r["mean_steps"], "p50_us": r["p50_us"]} for r in rows]}
    by_k: dict = {}
    by_m: dict = {}
    for r in rows:
        by_k.setdefault(r["k"], []).append(r)
        by_m.setdefault(r["m"], []).append(r)
    out["slope_vs_m"] = {str(k): _fit(np.array([r["m"] for r in rs], float), np.array([r["p50_us"] for r in rs]))
                         for k, rs in by_k.items() if len(rs) > 1}
    out["slope_vs_k"] = {str(m): _fit(np.array([r["k"] for r in rs], float), np.array([r["p50_us"] for r in rs]))
                         for m, rs in by_m.items() if len(rs) > 1}
    return out


def _p50(fn, n_pages: int, runs: int) -> float:
    for i in range(min(10, n_pages)):
        fn(i)
    xs = []
    for i in range(runs):
        t0 = time.perf_counter_ns()
        fn(i % n_pages)
        xs.append((time.perf_counter_ns() - t0) / 1e3)
    return float(np.median(xs))


def steps_table(artifact: str | Path, runs: int = 200, threads: int = 1) -> dict:
    """Table 5 format on the artifact's sample pages (XNNPACK)."""
    from export.quant_report import list_reward_of

    art = Path(artifact)
    manifest = load_manifest(art)
    dims = dims_of(manifest)
    interp = load_interpreter(art / MODEL, threads=threads)
    rerank = SignatureRunner(interp, C.RERANK_SIGNATURE)
    score = SignatureRunner(interp, C.SCORE_SIGNATURE)
    s = np.load(art / "sample_inputs.npz")
    batch = {n[7:]: s[n] for n in s.files if n.startswith("rerank.")}
    n = batch["cand_mask"].shape[0]
    pages = [row(batch, i) for i in range(n)]
    # pages with at least L_max candidates, so forcing s steps really runs s steps
    full = [p for p in pages if int(p["cand_mask"].sum()) >= dims.l_max] or pages
    lat = []
    for steps in range(1, dims.l_max + 1):
        forced = [{**p, "threshold": np.float32(0.0), "n_show": np.int32(steps)} for p in full]
        lat.append(_p50(lambda i, f=forced: rerank(**f[i]), len(forced), runs))
    adaptive_t = _p50(lambda i: rerank(**full[i]), len(full), runs)
    fixed = [{**p, "threshold": np.float32(2.0), "n_show": np.int32(1)} for p in full]  # never stops early
    fixed_t = _p50(lambda i: rerank(**fixed[i]), len(fixed), runs)
    lr_a, lr_f, steps_a = [], [], []
    alpha, beta = manifest["defaults"]["alpha"], manifest["defaults"]["beta"]
    for p, pf in zip(full, fixed, strict=True):
        oa, of = rerank(**p), rerank(**pf)
        steps_a.append(int(oa["steps"]))
        scorer = signature_scorer(score, p, dims.prefix_len)
        horizon = int(of["steps"])  # both lists judged on the same first positions
        lr_a.append(list_reward_of(scorer, oa["order"], horizon, alpha, beta))
        lr_f.append(list_reward_of(scorer, of["order"], horizon, alpha, beta))
    return {
        "pages": len(full),
        "beam_size": manifest["beam_size"],
        "stability_by_step": manifest.get("stability", {}).get("stability_by_step"),
        "p50_us_by_forced_steps": lat,
        "relative_latency_by_step": [x / lat[0] for x in lat],
        "adaptive": {"threshold": manifest["defaults"]["threshold"], "mean_steps": float(np.mean(steps_a)),
                     "p50_us": adaptive_t, "mean_list_reward": float(np.mean(lr_a))},
        "fixed": {"steps": dims.l_max, "p50_us": fixed_t, "mean_list_reward": float(np.mean(lr_f))},
        "adaptive_over_fixed": {"list_reward": float(np.mean(lr_a) / max(np.mean(lr_f), 1e-12)),
                                "time": adaptive_t / fixed_t},
    }


def steps_markdown(t: dict) -> str:
    steps = len(t["p50_us_by_forced_steps"])
    stab = t["stability_by_step"] or [None] * steps
    lines = ["| step | " + " | ".join(str(i + 1) for i in range(steps)) + " |", "|---" * (steps + 1) + "|",
             "| mean stability | " + " | ".join("-" if v is None else f"{v:.4f}" for v in stab) + " |",
             "| relative latency | " + " | ".join(f"{v:.2f}" for v in t["relative_latency_by_step"]) + " |",
             "", f"Adaptive (threshold {t['adaptive']['threshold']}, mean {t['adaptive']['mean_steps']:.2f} steps) vs "
             f"fixed {t['fixed']['steps']} steps over {t['pages']} pages (k = {t['beam_size']}): ListReward ratio "
             f"{t['adaptive_over_fixed']['list_reward']:.4f}, time ratio {t['adaptive_over_fixed']['time']:.3f}."]
    return "\n".join(lines)
