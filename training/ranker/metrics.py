"""Per-task AUC and logloss in pure numpy (no scikit-learn, no TensorFlow)."""

from __future__ import annotations

import numpy as np

from device_runtime import contract as C

#: Probabilities are clipped to [EPS, 1 - EPS] before the log in ``logloss``.
EPS = 1e-7


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by ranks (Mann-Whitney U); tied scores share their average rank, so a tie between a
    positive and a negative counts one half. NaN when only one class is present."""
    y = np.asarray(labels).reshape(-1).astype(bool)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"`labels` and `scores` must have the same length, got {y.size} and {s.size}")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    uniq, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1  # 1-based rank of each distinct score's first row
    avg_rank = first_rank + (counts - 1) / 2.0
    rank_sum = float(avg_rank[inverse][y].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def logloss(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean binary cross-entropy (natural log)."""
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    p = np.clip(np.asarray(probs, dtype=np.float64).reshape(-1), EPS, 1.0 - EPS)
    if y.shape != p.shape:
        raise ValueError(f"`labels` and `probs` must have the same length, got {y.size} and {p.size}")
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def task_metrics(labels: np.ndarray, probs: np.ndarray | dict[str, np.ndarray | None]) -> dict:
    """{task: {"auc", "logloss", "positive_rate", "n"}} for labels [n, 3] in ``contract.TASKS`` order;
    ``probs`` is [n, 3] or {task: [n] or None}; tasks without a predictor are left out."""
    labels = np.asarray(labels)
    out = {}
    for k, task in enumerate(C.TASKS):
        p = probs[:, k] if isinstance(probs, np.ndarray) else probs.get(task)
        if p is None:
            continue
        y = labels[:, k]
        out[task] = {"auc": auc(y, p), "logloss": logloss(y, p),
                     "positive_rate": float(np.mean(y)), "n": int(y.size)}
    return out
