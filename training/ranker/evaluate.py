"""Score a saved `train-ranker` run (the model and the baselines saved beside it) on other data,
with the same metrics structure as the run's own metrics.json."""

from __future__ import annotations

from pathlib import Path

from training.ranker.baselines import server_pxtr
from training.ranker.inputs import RankerData
from training.ranker.logistic import LogisticBaseline
from training.ranker.metrics import task_metrics
from training.ranker.model import load_ranker
from training.ranker.pipeline import (
    FIXED_WEIGHTS_DIR,
    LOGISTIC_FILE,
    NO_CONTEXT_DIR,
    json_safe,
    margins,
)
from training.ranker.train import predict


def evaluate_run(run_dir: str | Path, data: RankerData, source: dict | None = None) -> dict:
    """{"model": {task: {auc, logloss, ...}}, "baselines": {...}, "margins": {...}} on all rows."""
    run = Path(run_dir)
    model, payload = load_ranker(run)
    if (data.n_history, data.prefix_len) != (model.config.n_history, model.config.prefix_len):
        raise ValueError(f"`data` must have (N_h, L_max - 1) = ({model.config.n_history}, "
                         f"{model.config.prefix_len}) like the model, got ({data.n_history}, {data.prefix_len})")
    metrics: dict = {"model": task_metrics(data.labels, predict(model, data.inputs)), "baselines": {}}
    b = metrics["baselines"]
    b["server_pxtr"] = task_metrics(data.labels, server_pxtr(data.inputs["cand_dense"]))
    for name, sub in (("no_context", NO_CONTEXT_DIR), ("fixed_task_weights", FIXED_WEIGHTS_DIR)):
        if (run / sub).exists():
            b[name] = task_metrics(data.labels, predict(load_ranker(run / sub)[0], data.inputs))
    if (run / LOGISTIC_FILE).exists():
        b["logistic_regression"] = task_metrics(data.labels, LogisticBaseline.load(run / LOGISTIC_FILE).predict(data.inputs))
    metrics["margins"] = {name: margins(metrics["model"], m) for name, m in b.items()}
    if data.truth is not None:  # not a baseline: the simulator's own probabilities, the ceiling
        metrics["world_truth"] = task_metrics(data.labels, data.truth)
    metrics.update({"run": str(run), "preset": payload["config"].get("preset"), "rows": data.n,
                    "users": int(len(set(data.user_id.tolist()))), "source": source or {}})
    return json_safe(metrics)
