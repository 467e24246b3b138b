"""Quantized artifact against its float32 source: size, top-1 agreement, Kendall tau of `order`,
ListReward ratio over simulated pages, and AUC change per task on logged impressions."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from device_runtime import contract as C
from device_runtime.artifact import MODEL, dims_of, load_manifest
from device_runtime.beam_search import signature_scorer
from device_runtime.litert import SignatureRunner, load_interpreter
from device_runtime.sim.samples import collect_inputs, row, with_search_params
from device_runtime.sim.world import SyntheticWorld
from training.ranker.metrics import auc


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-a between two orders of the same items (ids, -1 padding ignored)."""
    a = [int(x) for x in a if x >= 0]
    pos_b = {int(x): i for i, x in enumerate(b) if x >= 0}
    n = len(a)
    if n < 2:
        return 1.0
    s = 0
    for i in range(n):
        for j in range(i + 1, n):
            s += 1 if pos_b[a[i]] < pos_b[a[j]] else -1
    return s / (n * (n - 1) / 2)


def list_reward_of(scorer, order: np.ndarray, steps: int, alpha: float, beta: float) -> float:
    """ListReward of the first ``steps`` placed items of ``order`` under ``scorer`` (float64 sum)."""
    placed: list[int] = []
    lr, surv = 0.0, 1.0
    for c in order[:steps]:
        p_hn, p_ev, p_like = scorer(placed)
        lr += surv * (alpha * float(p_ev[c]) + beta * float(p_like[c]))
        surv *= float(p_hn[c])
        placed.append(int(c))
    return lr


def quant_report(run_dir: str | Path, artifact_dir: str | Path, pages: int = 1000, log_sessions: int = 300) -> dict:
    from export.convert import to_tflite

    root = Path(artifact_dir)
    manifest = load_manifest(root)
    dims = dims_of(manifest)
    float_path = Path(tempfile.mkdtemp()) / "float.tflite"
    float_path.write_bytes(to_tflite(root / "savedmodel", "none"))
    q_interp, f_interp = load_interpreter(root / MODEL), load_interpreter(float_path)
    q_rr, f_rr = SignatureRunner(q_interp, "rerank"), SignatureRunner(f_interp, "rerank")
    f_score = SignatureRunner(f_interp, "score")
    q_score = SignatureRunner(q_interp, "score")
    d = manifest["defaults"]
    batch = with_search_params(collect_inputs(pages, dims, SyntheticWorld(world_seed=0), seed=4242),
                               d["alpha"], d["beta"], d["threshold"], d["n_show"])
    top1, taus, ratio_out, ratio_float_model = [], [], [], []
    for i in tqdm(range(pages), desc="quantization report", unit="page"):
        p = row(batch, i)
        fo, qo = f_rr(**p), q_rr(**p)
        if int(fo["steps"]) == 0:
            continue
        top1.append(int(fo["order"][0] == qo["order"][0]))
        taus.append(kendall_tau(fo["order"], qo["order"]))
        if float(fo["list_reward"]) > 0:
            ratio_out.append(float(qo["list_reward"]) / float(fo["list_reward"]))
        scorer = signature_scorer(f_score, p, dims.prefix_len)
        steps = max(int(fo["steps"]), int(qo["steps"]))
        lf = list_reward_of(scorer, fo["order"], steps, d["alpha"], d["beta"])
        lq = list_reward_of(scorer, qo["order"], steps, d["alpha"], d["beta"])
        if lf > 0:
            ratio_float_model.append(lq / lf)
    # AUC per task on logged impressions (held-out seed), one `score` call per impression
    from training.data.synthetic_logs import LogConfig, simulate_logs

    logs = simulate_logs(LogConfig(sessions=log_sessions, seed=9090, n_history=dims.n_history, l_max=dims.l_max),
                         progress=False)
    preds = {"float32": [], manifest["quantization"]: []}
    for r in range(logs.n):
        feeds = {
            "hist_dense": logs.hist_dense[r], "hist_ids": logs.hist_ids[r], "hist_mask": logs.hist_mask[r],
            "prefix_dense": logs.prefix_dense[r][: dims.prefix_len], "prefix_ids": logs.prefix_ids[r][: dims.prefix_len],
            "prefix_mask": logs.prefix_mask[r][: dims.prefix_len], "context": logs.context[r],
            "cand_dense": np.zeros((dims.m_max, C.N_VIDEO_DENSE), np.float32),
            "cand_ids": np.zeros((dims.m_max, C.N_IDS), np.int32),
            "cand_mask": np.zeros(dims.m_max, np.float32),
        }
        feeds["cand_dense"][0], feeds["cand_ids"][0], feeds["cand_mask"][0] = logs.cand_dense[r], logs.cand_ids[r], 1.0
        for name, runner in (("float32", f_score), (manifest["quantization"], q_score)):
            out = runner(**feeds)
            preds[name].append([out[o][0] for o in C.SCORE_OUTPUTS])
    labels = {"has_next": logs.has_next, "effective_view": logs.effective_view, "like": logs.like}
    auc_change = {}
    for t, task in enumerate(C.TASKS):
        a_f = auc(labels[task], np.array(preds["float32"])[:, t])
        a_q = auc(labels[task], np.array(preds[manifest["quantization"]])[:, t])
        auc_change[task] = {"float32": a_f, "quantized": a_q, "change": a_q - a_f}
    return {
        "quantization": manifest["quantization"],
        "size_bytes": {"float32": float_path.stat().st_size, "quantized": (root / MODEL).stat().st_size},
        "pages": len(top1),
        "top1_agreement": float(np.mean(top1)),
        "kendall_tau_mean": float(np.mean(taus)),
        "list_reward_ratio_outputs": float(np.mean(ratio_out)),
        "list_reward_ratio_under_float_model": float(np.mean(ratio_float_model)),
        "auc": auc_change,
        "log_impressions": int(logs.n),
    }
