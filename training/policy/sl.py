"""Offline SL — the supervised baseline of HAC's Table 2: the policy network trained point-wise
with BCE on logged responses, then ranking by the predicted immediate reward.

    L_BCE   BCE of (logit_ev, logit_like) of the shown candidate against its logged
            (effective_view, like), on server-order sessions of the training world
    score   α·σ(logit_ev) + β·σ(logit_like)   (``score_mode = "responses"``); greedy top-n

No environment interaction while training; evaluated exactly as the RL policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from device_runtime.sim.policy_env import EnvConfig
from training.policy import common as U
from training.policy.logged import logged_sessions

ALGO = "sl"


@dataclass(frozen=True)
class Args:
    """Supervised baseline hyper-parameters."""

    seed: int = 0
    """Seed of initialisation and batch order."""
    steps: int = 1200
    """Gradient updates."""
    log_sessions: int = 600
    """Logged sessions of the training world to learn from."""
    explore_show: float = 0.3
    """Logging client's exploration (``simulate-logs --explore-show``): gives the off-policy
    correction support and the offline learners varied actions; 0 = pure server order."""
    world_seed: int = 0
    """Training world."""
    world: str = "synthetic"
    """World law: synthetic (= synthetic-legacy) or synthetic-long-term (an RL episode is a user's week)."""
    slate: int = 1
    """n: videos shown per action at evaluation."""
    depth_cap: int = 50
    """Episode length cap at evaluation."""
    dim: int = 32
    """d of the state, Z and Φ."""
    hidden: int = 32
    """Width of the history encoder and state MLP."""
    lr: float = 1e-3
    """Adam learning rate."""
    batch_size: int = 256
    """Logged impressions per update."""
    eval_every: int = 500
    """Updates between validation evaluations."""
    eval_sessions: int = 32
    """Validation sessions (training world, unseen session seed)."""
    progress: bool = True
    """Show a progress bar."""


def bce_loss(logits, labels):
    """Mean binary cross-entropy over every (row, task) (tensors)."""
    import tensorflow as tf

    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def train(args: Args, out_dir: str | Path | None = None):
    """Train the supervised policy; returns (policy network, metrics dict)."""
    import keras
    import tensorflow as tf

    from training.policy.network import PolicyConfig, build_policy

    # ---- setup -----------------------------------------------------------------------------------
    U.set_seed(args.seed)
    rng = np.random.default_rng([args.seed, 0x51])
    world = U.world_for(args.world_seed, args.world)
    env_cfg = EnvConfig(slate=args.slate, depth_cap=args.depth_cap)
    data = logged_sessions(args.world_seed, args.log_sessions, U.LOG_SESSION_SEED, explore_show=args.explore_show,
                           world=args.world)
    model = build_policy(PolicyConfig(dim=args.dim, hidden=args.hidden, score_mode="responses"))
    opt = keras.optimizers.Adam(args.lr)
    opt.build(model.trainable_variables)
    eval_act = U.Actor(model, 64)
    log = U.MetricLog()

    @tf.function
    def update(obs, action, responses):
        with tf.GradientTape() as tape:
            _, z, phi = model.forward(obs)
            logits = tf.gather(model.response_logits(phi, z), action[:, None], batch_dims=1)[:, 0]  # [B, 2]
            loss = bce_loss(logits, responses)
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables,
                                strict=True))
        return loss

    # ---- learning ----------------------------------------------------------------------------------
    for step in tqdm(range(args.steps), desc=f"train-policy {ALGO}", unit="update", disable=not args.progress):
        idx = rng.integers(0, data.n, args.batch_size)
        loss = update({k: v[idx] for k, v in data.obs.items()}, data.action[idx], data.responses[idx])
        log.accumulate("losses/bce_loss", step, float(loss))
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            res = U.evaluate(U.greedy_rule(eval_act, args.slate), world, env_cfg, args.eval_sessions,
                             seed=U.VALID_SESSION_SEED)
            log.add("charts/total_reward", step + 1, float(res.total_reward.mean()))
            log.add("charts/depth", step + 1, float(res.depth.mean()))

    # ---- report ------------------------------------------------------------------------------------
    log.flush()
    final = U.summary(U.evaluate(U.greedy_rule(eval_act, args.slate), world, env_cfg, args.eval_sessions,
                                 seed=U.VALID_SESSION_SEED))
    extra = {"logged_impressions": data.n}
    metrics = {"algo": ALGO, "final_valid": final, "curves": log.curves, **extra}
    if out_dir is not None:
        metrics = U.write_run(out_dir, model, ALGO, args, log, final, extra)
    return model, metrics
