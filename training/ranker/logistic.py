"""Logistic regression on flat features: one model per task, fit by Newton's method (IRLS) with an
L2 penalty, numpy only.

Flat features = every dense input and mask flattened (history, prefix, target, context) plus a
one-hot of the target's topic; no attention, no crosses, no embeddings. Features are standardised
with the training rows' mean and standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device_runtime import contract as C

_FLAT = ("hist_dense", "hist_mask", "prefix_dense", "prefix_mask", "cand_dense", "context")


@dataclass(frozen=True)
class LogisticConfig:
    """How the logistic-regression baseline is fit."""

    l2: float = 1.0
    """L2 penalty on the weights (not the intercept), in units of summed log-likelihood."""
    iterations: int = 8
    """Newton steps (IRLS converges in a handful on standardised features)."""
    max_rows: int = 200_000
    """Fit on at most this many training rows (a seeded subsample), to bound time and memory."""
    seed: int = 0
    """Seed of the subsample."""


def flat_features(inputs: dict[str, np.ndarray]) -> np.ndarray:
    """float64 [n, F]: the dense inputs flattened, then a one-hot of the target's topic id."""
    n = inputs["cand_dense"].shape[0]
    parts = [np.asarray(inputs[k], dtype=np.float64).reshape(n, -1) for k in _FLAT]
    topic = np.zeros((n, C.ID_VOCAB["topic"]))
    topic[np.arange(n), inputs["cand_ids"][:, 0]] = 1.0
    return np.concatenate(parts + [topic], axis=1)


class LogisticBaseline:
    """Three independent logistic regressions (one per task of ``contract.TASKS``)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, coef: np.ndarray) -> None:
        self.mean, self.std, self.coef = mean, std, coef  # coef [3, F + 1], intercept last

    @staticmethod
    def fit(inputs: dict[str, np.ndarray], labels: np.ndarray,
            cfg: LogisticConfig = LogisticConfig()) -> LogisticBaseline:
        x = flat_features(inputs)
        labels = np.asarray(labels, dtype=np.float64)
        if x.shape[0] > cfg.max_rows:
            keep = np.sort(np.random.default_rng(cfg.seed).choice(x.shape[0], cfg.max_rows, replace=False))
            x, labels = x[keep], labels[keep]
        mean, std = x.mean(0), x.std(0)
        std = np.where(std > 1e-8, std, 1.0)
        xb = np.concatenate([(x - mean) / std, np.ones((x.shape[0], 1))], axis=1)
        penalty = np.full(xb.shape[1], cfg.l2)
        penalty[-1] = 0.0
        coef = np.stack([_irls(xb, labels[:, k], penalty, cfg.iterations) for k in range(len(C.TASKS))])
        return LogisticBaseline(mean, std, coef)

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """float64 [n, 3] probabilities."""
        x = (flat_features(inputs) - self.mean) / self.std
        z = x @ self.coef[:, :-1].T + self.coef[:, -1]
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    def save(self, path: str | Path) -> None:
        np.savez(path, mean=self.mean, std=self.std, coef=self.coef)

    @staticmethod
    def load(path: str | Path) -> LogisticBaseline:
        with np.load(path) as f:
            return LogisticBaseline(f["mean"], f["std"], f["coef"])


def _irls(x: np.ndarray, y: np.ndarray, penalty: np.ndarray, iterations: int) -> np.ndarray:
    w = np.zeros(x.shape[1])
    rate = np.clip(y.mean(), 1e-4, 1 - 1e-4)
    w[-1] = np.log(rate / (1 - rate))
    for _ in range(iterations):
        p = 0.5 * (1.0 + np.tanh(0.5 * (x @ w)))
        grad = x.T @ (y - p) - penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-6 * np.eye(x.shape[1])
        w = w + np.linalg.solve(hess, grad)
    return w
