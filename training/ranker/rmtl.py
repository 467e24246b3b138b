"""RMTL — Multi-Task Recommendations with Reinforcement Learning (Liu et al., WWW 2023), as a
reweighting of the ranker's three BCE losses.

Each session is an MDP: the state s_t is the impression's context, the action a_k,t is the
ranker's predicted probability for task k, the reward r_k,t = log-likelihood of the label under
that prediction (= -BCE, as in the authors' "bce" reward). One critic per task, Q_k(s_t, a_k,t),
learns the discounted future reward of the session by TD with a soft-updated target critic:

    td_loss_k = (r_k,t + γ (1 - done_t) Q'_k(s_t+1, a'_k,t+1) - Q_k(s_t, a_k,t))²
    θ'_k ← β θ_k + (1 - β) θ'_k                       (β = 0.2)

and the ranker's loss weights each row and task by

    ω_k,t = 1 - λ · Q_k(s_t, a_k,t)                    (λ = 0.7; Q ≤ 0, so ω ≥ 1)

so impressions whose session is still expected to go badly for a task count more. a'_k,t+1 is the
ranker's prediction of the next impression as of the start of the epoch (a slowly moving target
actor). ω is clipped below at 0 and carries no gradient into the critics.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from device_runtime import contract as C
from training.ranker.config import RMTLConfig


def critic_state(inputs: dict[str, np.ndarray]) -> np.ndarray:
    """float32 [n, 16]: a compact state of each impression — context, the target's dense features,
    the history's fill and mean feedback, the prefix's fill."""
    hm = inputs["hist_mask"]
    n_h = np.maximum(hm.sum(1, keepdims=True), 1.0)
    fb = (inputs["hist_dense"][..., C.N_VIDEO_DENSE:] * hm[..., None]).sum(1) / n_h
    return np.concatenate([inputs["context"], inputs["cand_dense"], hm.mean(1, keepdims=True), fb,
                           inputs["prefix_mask"].mean(1, keepdims=True)], axis=1).astype(np.float32)


def next_rows(session_key: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Index of the same session's next impression for every row, -1 for a session's last row."""
    session_key, position = np.asarray(session_key), np.asarray(position)
    order = np.lexsort((position, session_key))
    nxt = np.full(session_key.shape[0], -1, dtype=np.int64)
    same = session_key[order[1:]] == session_key[order[:-1]]
    nxt[order[:-1][same]] = order[1:][same]
    return nxt


def _critic(hidden: tuple[int, ...], name: str) -> keras.Sequential:
    return keras.Sequential([keras.layers.Dense(w, activation="relu") for w in hidden]
                            + [keras.layers.Dense(1)], name=name)


class TaskCritics:
    """One critic (and its target copy) per task of ``contract.TASKS``."""

    def __init__(self, cfg: RMTLConfig, state_dim: int) -> None:
        self.cfg = cfg
        self.critics = [_critic(cfg.critic_hidden, f"critic_{t}") for t in C.TASKS]
        self.targets = [_critic(cfg.critic_hidden, f"critic_{t}_target") for t in C.TASKS]
        dummy = np.zeros((1, state_dim + 1), np.float32)
        for q, qt in zip(self.critics, self.targets, strict=True):
            q(dummy)
            qt(dummy)
            qt.set_weights(q.get_weights())
        self.optimizer = keras.optimizers.Adam(cfg.critic_lr)
        self.variables = [v for q in self.critics for v in q.trainable_variables]

    @staticmethod
    def _q(nets, state, actions):
        return tf.concat([net(tf.concat([state, actions[:, k:k + 1]], axis=-1))
                          for k, net in enumerate(nets)], axis=-1)  # [B, 3]

    def omega(self, state, actions):
        """ω = max(1 - λ·Q(s, a), 0), [B, 3], no gradient."""
        q = self._q(self.critics, state, tf.stop_gradient(actions))
        return tf.stop_gradient(tf.maximum(1.0 - self.cfg.lam * q, 0.0))

    def update(self, state, actions, bce, next_state, next_actions, done):
        """One TD step of every critic, then the soft target update; returns td_loss [3]."""
        reward = -tf.stop_gradient(bce)
        q_next = self._q(self.targets, next_state, next_actions)
        target = tf.stop_gradient(reward + self.cfg.gamma * (1.0 - done[:, None]) * q_next)
        with tf.GradientTape() as tape:
            q = self._q(self.critics, state, tf.stop_gradient(actions))
            td_loss = tf.reduce_mean(tf.square(target - q), axis=0)
            total = tf.reduce_sum(td_loss)
        grads = tape.gradient(total, self.variables)
        self.optimizer.apply_gradients(zip(grads, self.variables, strict=True))
        b = self.cfg.beta
        for q_net, t_net in zip(self.critics, self.targets, strict=True):
            for v, vt in zip(q_net.weights, t_net.weights, strict=True):
                vt.assign(b * v + (1.0 - b) * vt)
        return td_loss
