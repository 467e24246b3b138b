"""The ranker's training loop: Adam on a weighted sum of the three tasks' BCEs (optionally RMTL's
per-session dynamic weights), one progress bar per epoch, the epoch with the lowest validation loss
kept.

Losses are logged under stable names: ``loss/train``, ``loss/valid``, ``auc/valid_<task>``,
``logloss/valid_<task>``, and with RMTL ``losses/td_<task>`` and ``charts/omega_<task>``.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from device_runtime import contract as C
from training.ranker.config import TrainConfig
from training.ranker.inputs import FEATURE_NAMES, RankerData
from training.ranker.metrics import EPS, task_metrics
from training.ranker.rmtl import TaskCritics, critic_state, next_rows


class FitResult(NamedTuple):
    history: dict[str, list[float]]  # per epoch, stable names (module docstring)
    best_epoch: int  # 1-based epoch whose weights the model holds
    train_seconds: float  # time spent in training steps (no validation, first traced step excluded)
    impressions_per_s: float  # training rows processed per second of ``train_seconds``


def predict(model: keras.Model, inputs: dict[str, np.ndarray], batch: int = 8192) -> np.ndarray:
    """float32 [n, 3] probabilities in the order of ``contract.TASKS``."""
    fn = _predict_fn(model)
    n = inputs["cand_dense"].shape[0]
    out = [fn({k: inputs[k][i:i + batch] for k in FEATURE_NAMES}).numpy() for i in range(0, n, batch)]
    return np.concatenate(out, axis=0) if out else np.zeros((0, len(C.TASKS)), np.float32)


def _predict_fn(model: keras.Model):
    fn = getattr(model, "_reelrank_predict", None)
    if fn is None:
        fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        model._reelrank_predict = fn
    return fn


def _bce(y, p):
    p = tf.clip_by_value(p, EPS, 1.0 - EPS)
    return -(y * tf.math.log(p) + (1.0 - y) * tf.math.log(1.0 - p))  # [B, 3]


def fit(model: keras.Model, train: RankerData, valid: RankerData, cfg: TrainConfig) -> FitResult:
    """Train ``model`` in place; it ends holding the weights of the best validation epoch."""
    if train.n < cfg.batch_size:
        raise ValueError(f"`train` must hold at least `batch_size` = {cfg.batch_size} rows, got {train.n}")
    optimizer = keras.optimizers.Adam(cfg.learning_rate)
    task_w = tf.constant(cfg.task_weights, tf.float32)
    variables = model.trainable_variables

    def apply(loss, tape):
        grads = tape.gradient(loss, variables)
        pairs = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        optimizer.apply_gradients(pairs)

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            bce = _bce(y, model(x, training=True))
            loss = tf.reduce_mean(tf.reduce_sum(bce * task_w, axis=-1))
        apply(loss, tape)
        return loss, tf.zeros(3), tf.ones(3)

    critics = None
    if cfg.rmtl:
        states = critic_state(train.inputs)
        s_mean, s_std = states.mean(0), states.std(0) + 1e-3
        states = (states - s_mean) / s_std
        nxt = next_rows(train.session_id, train.position)
        done_all = (nxt < 0).astype(np.float32)
        nxt_safe = np.where(nxt < 0, np.arange(train.n), nxt)
        critics = TaskCritics(cfg.rmtl_config, states.shape[1])

        @tf.function(reduce_retracing=True)
        def rmtl_step(x, y, s, s_next, a_next, done):
            with tf.GradientTape() as tape:
                p = model(x, training=True)
                bce = _bce(y, p)
                omega = critics.omega(s, p)
                loss = tf.reduce_mean(tf.reduce_sum(bce * omega * task_w, axis=-1))
            apply(loss, tape)
            td = critics.update(s, p, bce, s_next, a_next, done)
            return loss, td, tf.reduce_mean(omega, axis=0)

    history: dict[str, list[float]] = {}
    best = (np.inf, 0, model.get_weights())
    train_seconds, rows_done = 0.0, 0
    n_batches = train.n // cfg.batch_size
    for epoch in range(cfg.epochs):
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, epoch, 0x7EA1]))
        order = rng.permutation(train.n)
        a_cache = predict(model, train.inputs, cfg.eval_batch) if critics else None
        sums = np.zeros(7)
        bar = tqdm(range(n_batches), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                   disable=not cfg.progress, leave=True, mininterval=1.0)
        t0 = time.perf_counter()
        for b in bar:
            idx = np.sort(order[b * cfg.batch_size:(b + 1) * cfg.batch_size])
            x, y = train.batch(idx), train.labels[idx]
            if critics is None:
                loss, td, om = step(x, y)
            else:
                j = nxt_safe[idx]
                loss, td, om = rmtl_step(x, y, states[idx], states[j], a_cache[j], done_all[idx])
            sums += np.concatenate([[float(loss)], td.numpy(), om.numpy()])
            if epoch == 0 and b == 0:  # the first step traces the graph: keep it out of the timing
                t0 = time.perf_counter()
                rows_done -= cfg.batch_size
            if b % 20 == 0:
                bar.set_postfix(loss=f"{sums[0] / (b + 1):.4f}")
        bar.close()
        train_seconds += time.perf_counter() - t0
        rows_done += n_batches * cfg.batch_size
        vp = predict(model, valid.inputs, cfg.eval_batch)
        vm = task_metrics(valid.labels, vp)
        v_loss = float(sum(w * vm[t]["logloss"] for w, t in zip(cfg.task_weights, C.TASKS, strict=True)))
        _log(history, "loss/train", sums[0] / n_batches)
        _log(history, "loss/valid", v_loss)
        for k, t in enumerate(C.TASKS):
            _log(history, f"auc/valid_{t}", vm[t]["auc"])
            _log(history, f"logloss/valid_{t}", vm[t]["logloss"])
            if critics is not None:
                _log(history, f"losses/td_{t}", sums[1 + k] / n_batches)
                _log(history, f"charts/omega_{t}", sums[4 + k] / n_batches)
        if v_loss < best[0]:
            best = (v_loss, epoch + 1, model.get_weights())
    model.set_weights(best[2])
    return FitResult(history, best[1], train_seconds, rows_done / max(train_seconds, 1e-9))


def _log(history: dict[str, list[float]], name: str, value: float) -> None:
    history.setdefault(name, []).append(float(value))
