"""REINFORCE with top-K off-policy correction (Chen et al., "Top-K Off-Policy Correction for a
REINFORCE Recommender System", WSDM 2019), learned from logged server-order sessions.

    π(a|s)      softmax over the valid cached candidates of Φ(a)·Z(s)  (the shipped network)
    β(a|s)      the behaviour policy: the logged propensity (default), or β̂ — a second head on
                the same state and item kernel with their gradients stopped, fit to the logged
                actions by maximum likelihood (``behaviour = "head"``); β̂ is trained either way
    weight      w = min(π(a|s) / β(a|s), c)          (weight capping; c = e³ worked in the paper)
    top-K       λ_K = K·(1 − π(a|s))^{K−1}           (∂/∂π of the chance 1 − (1 − π)^K that a is
                                                     among K items sampled from π)
    L_PG        −mean(w · λ_K · G_t · log π(a_t|s_t)),  G_t = Σ_k γ^k r_{t+k}; w, λ_K without gradient
    loss        L_PG + L_behaviour

K defaults to 6: between two page requests (every 6 consumed) the device shows 6 videos of its
cache, the analogue of the paper's K recommended items per page. Greedy top-n at evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from device_runtime.sim.policy_env import EnvConfig
from training.policy import common as U
from training.policy.logged import logged_sessions

ALGO = "reinforce_topk"
BEHAVIOURS = ("logged", "head")


@dataclass(frozen=True)
class Args:
    """Off-policy REINFORCE hyper-parameters."""

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
    gamma: float = 0.9
    """Discount of the logged returns G_t."""
    top_k: int = 6
    """K of the top-K correction (1 = the plain off-policy correction)."""
    weight_cap: float = math.e**3
    """c: importance weights are capped at this value."""
    behaviour: str = "logged"
    """β in the weight: logged (the server's logged propensity) or head (the estimated β̂)."""
    eval_every: int = 500
    """Updates between validation evaluations."""
    eval_sessions: int = 32
    """Validation sessions (training world, unseen session seed)."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"`behaviour` must be one of {BEHAVIOURS}, got {self.behaviour!r}")
        if self.top_k < 1:
            raise ValueError(f"`top_k` must be >= 1, got {self.top_k}")
        if self.weight_cap <= 0:
            raise ValueError(f"`weight_cap` must be > 0, got {self.weight_cap}")


def topk_multiplier(pi, k: int):
    """λ_K = K·(1 − π)^{K−1} (numpy or tensors)."""
    return k * (1.0 - pi) ** (k - 1)


def capped_weight(pi, beta, cap: float):
    """min(π/β, c) (numpy or tensors)."""
    ratio = pi / beta
    if type(ratio).__module__.startswith("tensorflow"):
        import tensorflow as tf

        return tf.minimum(ratio, cap)
    return np.minimum(ratio, cap)


def masked_log_softmax(logits, mask):
    import tensorflow as tf

    return tf.nn.log_softmax(logits - (1.0 - mask) * 1.0e9, axis=-1)


def train(args: Args, out_dir: str | Path | None = None):
    """Train the off-policy REINFORCE policy; returns (policy network, metrics dict)."""
    import keras
    import tensorflow as tf
    from keras import layers

    from training.policy.network import PolicyConfig, build_policy

    # ---- setup -----------------------------------------------------------------------------------
    U.set_seed(args.seed)
    rng = np.random.default_rng([args.seed, 0x2F])
    world = U.world_for(args.world_seed, args.world)
    env_cfg = EnvConfig(slate=args.slate, depth_cap=args.depth_cap)
    data = logged_sessions(args.world_seed, args.log_sessions, U.LOG_SESSION_SEED, args.gamma, explore_show=args.explore_show,
                           world=args.world)
    model = build_policy(PolicyConfig(dim=args.dim, hidden=args.hidden, score_mode="latent"))
    beta_head = layers.Dense(args.dim, name="behaviour_head")  # β̂: not part of the shipped network
    beta_head.build((None, args.dim))
    # the response heads (L_BCE, the ``responses`` score) take no part in this loss: leave them out
    # rather than hand the optimizer gradients that do not exist
    heads = {id(v) for v in model.response.trainable_variables}
    variables = [v for v in model.trainable_variables if id(v) not in heads] + beta_head.trainable_variables
    opt = keras.optimizers.Adam(args.lr)
    opt.build(variables)
    eval_act = U.Actor(model, 64)
    log = U.MetricLog()
    use_logged = args.behaviour == "logged"

    @tf.function
    def update(obs, action, propensity, ret):
        with tf.GradientTape() as tape:
            s, z, phi = model.forward(obs)
            mask = obs["cand_mask"]
            log_pi = tf.gather(masked_log_softmax(model.latent_scores(phi, z), mask), action[:, None],
                               batch_dims=1)[:, 0]
            # behaviour head on the same state and items, gradients stopped into them
            beta_logits = tf.reduce_sum(tf.stop_gradient(phi) * beta_head(tf.stop_gradient(s))[:, None, :], -1)
            log_beta_hat = tf.gather(masked_log_softmax(beta_logits, mask), action[:, None], batch_dims=1)[:, 0]
            behaviour_loss = -tf.reduce_mean(log_beta_hat)
            pi = tf.stop_gradient(tf.exp(log_pi))
            beta = propensity if use_logged else tf.stop_gradient(tf.exp(log_beta_hat))
            w = capped_weight(pi, tf.maximum(beta, 1e-6), args.weight_cap)
            lam = topk_multiplier(pi, args.top_k)
            pg_loss = -tf.reduce_mean(tf.stop_gradient(w * lam) * ret * log_pi)
            loss = pg_loss + behaviour_loss
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        raw = pi / tf.maximum(beta, 1e-6)
        return {"pg_loss": pg_loss, "behaviour_loss": behaviour_loss, "mean_weight": tf.reduce_mean(w),
                "capped_fraction": tf.reduce_mean(tf.cast(raw > args.weight_cap, tf.float32)),
                "mean_lambda_k": tf.reduce_mean(lam)}

    # ---- learning ----------------------------------------------------------------------------------
    for step in tqdm(range(args.steps), desc=f"train-policy {ALGO}", unit="update", disable=not args.progress):
        idx = rng.integers(0, data.n, args.batch_size)
        out = update({k: v[idx] for k, v in data.obs.items()}, data.action[idx], data.propensity[idx], data.ret[idx])
        for k, v in out.items():
            log.accumulate(f"losses/{k}" if k.endswith("_loss") else f"charts/{k}", step, float(v))
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
