"""One `train-ranker` run: split by user, train the ranker and its baselines on the same rows,
score everything on the held-out users, save the model, verify its reload, write metrics.json and
the training curves.

Run directory layout::

    ranker_config.json, ranker.weights.h5   the model (``model.load_ranker``)
    baselines/no_context/                   the same network without history and prefix
    baselines/logistic_regression.npz       logistic regression on flat features
    baselines/fixed_task_weights/           with --rmtl: the model trained without RMTL
    metrics.json, curves.png
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np

from device_runtime import contract as C
from training.ranker.baselines import server_pxtr
from training.ranker.config import RunConfig
from training.ranker.curves import plot_curves
from training.ranker.inputs import RankerData
from training.ranker.logistic import LogisticBaseline
from training.ranker.metrics import task_metrics
from training.ranker.model import build_ranker, load_ranker, preset, save_ranker
from training.ranker.split import split_by_user
from training.ranker.train import FitResult, TrainConfig, fit, predict

#: Largest |reloaded − trained| prediction accepted when a run checks its saved model.
RELOAD_ATOL = 1e-6
NO_CONTEXT_DIR = "baselines/no_context"
FIXED_WEIGHTS_DIR = "baselines/fixed_task_weights"
LOGISTIC_FILE = "baselines/logistic_regression.npz"
METRICS_FILE = "metrics.json"
CURVES_FILE = "curves.png"


def _train_one(data: RankerData, parts, cfg: RunConfig, use_context: bool, train_cfg: TrainConfig):
    model_cfg = preset(cfg.preset, use_context=use_context, n_history=data.n_history,
                       prefix_len=data.prefix_len)
    keras.utils.set_random_seed(train_cfg.seed)
    model = build_ranker(model_cfg)
    result = fit(model, data.take(parts.train), data.take(parts.valid), train_cfg)
    return model, result


def _training_json(model, result: FitResult) -> dict:
    return {"params": int(model.count_params()), "best_epoch": result.best_epoch,
            "train_seconds": round(result.train_seconds, 2),
            "impressions_per_s": round(result.impressions_per_s, 1), "history": result.history}


def margins(model: dict, baseline: dict) -> dict:
    """Model AUC − baseline AUC per task both report."""
    return {t: model[t]["auc"] - baseline[t]["auc"] for t in C.TASKS if t in model and t in baseline}


def run(data: RankerData, out_dir: str | Path, cfg: RunConfig, source: dict | None = None,
        log=print) -> dict:
    """Train, evaluate and save; returns the metrics written to ``out_dir/metrics.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts = split_by_user(data.user_id, cfg.valid_fraction, cfg.test_fraction, cfg.split_seed)
    test = data.take(parts.test)
    if test.n == 0 or parts.valid.size == 0:
        raise ValueError(f"`data` must give non-empty valid and test users, got {parts.users(data.user_id)}")
    t_start = time.perf_counter()

    log(f"ranker ({cfg.preset}{', RMTL' if cfg.train.rmtl else ''}): {parts.train.size} train / "
        f"{parts.valid.size} valid / {parts.test.size} test rows")
    model, result = _train_one(data, parts, cfg, True, cfg.train)
    extra = {"training": cfg.train.to_json(), "source": source or {}}
    save_ranker(model, out, extra)
    probs = predict(model, test.inputs)
    reloaded, _ = load_ranker(out)
    reload_diff = float(np.max(np.abs(predict(reloaded, test.inputs) - probs)))
    if reload_diff > RELOAD_ATOL:
        raise RuntimeError(f"reloaded model differs from the trained one by {reload_diff:.3g} "
                           f"(> RELOAD_ATOL = {RELOAD_ATOL})")
    metrics: dict = {"model": task_metrics(test.labels, probs), "baselines": {}, "margins": {}}
    histories = {"context": result.history}
    baselines = metrics["baselines"]
    sp = server_pxtr(test.inputs["cand_dense"])
    baselines["server_pxtr"] = task_metrics(test.labels, sp)
    if test.truth is not None:  # not a baseline: the simulator's own probabilities, the ceiling
        metrics["world_truth"] = task_metrics(test.labels, test.truth)

    if cfg.baselines:
        log("baseline: the same network without history and prefix (use_context=False)")
        nc_model, nc_result = _train_one(data, parts, cfg, False, cfg.train)
        save_ranker(nc_model, out / NO_CONTEXT_DIR, {"training": cfg.train.to_json()})
        baselines["no_context"] = task_metrics(test.labels, predict(nc_model, test.inputs))
        histories["no context"] = nc_result.history
        log("baseline: logistic regression on flat features")
        train = data.take(parts.train)
        lr = LogisticBaseline.fit(train.inputs, train.labels, cfg.logistic)
        (out / LOGISTIC_FILE).parent.mkdir(parents=True, exist_ok=True)
        lr.save(out / LOGISTIC_FILE)
        baselines["logistic_regression"] = task_metrics(test.labels, lr.predict(test.inputs))
    if cfg.train.rmtl:
        log("comparison: the same ranker without RMTL (fixed task weights), same split")
        fx_model, fx_result = _train_one(data, parts, cfg, True, replace(cfg.train, rmtl=False))
        save_ranker(fx_model, out / FIXED_WEIGHTS_DIR, {"training": replace(cfg.train, rmtl=False).to_json()})
        baselines["fixed_task_weights"] = task_metrics(test.labels, predict(fx_model, test.inputs))
        histories["fixed weights"] = fx_result.history
        metrics["rmtl"] = {"auc_gain_over_fixed_weights": margins(metrics["model"], baselines["fixed_task_weights"]),
                           "logloss_change": {t: metrics["model"][t]["logloss"]
                                              - baselines["fixed_task_weights"][t]["logloss"]
                                              for t in C.TASKS}}
    for name, b in baselines.items():
        metrics["margins"][name] = margins(metrics["model"], b)

    metrics.update({
        "preset": cfg.preset,
        "model_config": model.config.to_json(),
        "training": _training_json(model, result),
        "train_config": cfg.train.to_json(),
        "split": {"by": "user", "seed": cfg.split_seed, "rows": {k: int(v.size) for k, v in parts._asdict().items()},
                  "users": parts.users(data.user_id)},
        "reload_max_abs_diff": reload_diff,
        "source": source or {},
        "seconds": round(time.perf_counter() - t_start, 1),
    })
    (out / METRICS_FILE).write_text(json.dumps(json_safe(metrics), indent=2, sort_keys=False))
    plot_curves(histories, out / CURVES_FILE)
    return metrics


def json_safe(x):
    """JSON-safe: NaN → None, numpy scalars → Python."""
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    if isinstance(x, float | np.floating):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x
