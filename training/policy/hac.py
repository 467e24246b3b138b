"""HAC — Hyper-Actor Critic (Liu et al., "Exploration and Regularization of the Latent Action
Space in Recommendation", WWW 2023), on the device's view of a session (``FeedEnv``).

    hyper-actor     s = encoder(history, context); Z = W_z s            (``network.PolicyNetwork``)
    effect action   top-n of Φ(i)·Z over the cached candidates (Gaussian noise on Z while training)
    critic          g(s, ·); Q(s, a) = g(s, Ẑ(a)) with Ẑ(a) = mean of Φ over the shown items
    L_TD            (r + γ(1 − done)·g′(s′, Ẑ′(a′)) − g(s, Ẑ(a)))², a′ = top-n of the target actor
    L_QMax          −g(s, Z)
    L_Hyper         ‖Z − Ẑ(a)‖²  (weight λ_h)
    L_BCE           BCE of the response heads on the shown items' (effective_view, like) (λ_bce)

Critic loss: L_TD. Actor loss: L_QMax + λ_h·L_Hyper + λ_bce·L_BCE. Target networks with Polyak
τ; replay buffer. The critic sees the state with its gradient stopped, so the state encoder is
shaped by the actor's losses only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from device_runtime.sim.policy_env import EnvConfig
from training.policy import common as U


@dataclass(frozen=True)
class Args:
    """HAC hyper-parameters (paper defaults where the paper gives one)."""

    seed: int = 0
    """Seed of initialisation, exploration noise, replay sampling and the training sessions."""
    steps: int = 1200
    """Gradient updates; each follows one step of every parallel environment."""
    num_envs: int = 16
    """Sessions played side by side (one batched forward pass per step)."""
    world_seed: int = 0
    """World the policy is trained in (evaluation uses other, held-out world seeds)."""
    world: str = "synthetic"
    """World law: synthetic (= synthetic-legacy) or synthetic-long-term (an RL episode is a user's week)."""
    slate: int = 1
    """n: videos shown per action."""
    depth_cap: int = 50
    """Episode length cap (truncation, not termination)."""
    dim: int = 32
    """d of the state, Z and Φ."""
    hidden: int = 32
    """Width of the history encoder and state MLP."""
    critic_hidden: tuple[int, ...] = (64, 32)
    """Critic MLP widths (the paper: [256, 64]; smaller here for 2-core budgets)."""
    gamma: float = 0.9
    """Discount γ."""
    tau: float = 0.01
    """Polyak rate of the target networks."""
    actor_lr: float = 1e-4
    """Adam learning rate of the hyper-actor."""
    critic_lr: float = 1e-3
    """Adam learning rate of the critic."""
    batch_size: int = 64
    """Transitions per update."""
    buffer_size: int = 50_000
    """Replay buffer capacity (transitions)."""
    learning_starts: int = 256
    """Transitions collected before the first update."""
    noise: float = 0.1
    """Standard deviation of the Gaussian exploration noise on Z."""
    lambda_hyper: float = 0.1
    """λ_h, weight of L_Hyper (0.1 was best in the paper)."""
    lambda_bce: float = 1.0
    """Weight of L_BCE."""
    eval_every: int = 500
    """Updates between validation evaluations (charts/total_reward, charts/depth)."""
    eval_sessions: int = 32
    """Validation sessions (training world, a session seed never trained on)."""
    progress: bool = True
    """Show a progress bar."""


ALGO = "hac"


def make_update(actor, critic, target_actor, target_critic, args: Args):
    """The HAC update as one compiled step; returns the loss terms."""
    import keras
    import tensorflow as tf

    actor_opt = keras.optimizers.Adam(args.actor_lr)
    critic_opt = keras.optimizers.Adam(args.critic_lr)
    actor_opt.build(actor.trainable_variables)  # optimizer slots exist before tracing (one trace)
    critic_opt.build(critic.trainable_variables)
    n = args.slate

    @tf.function
    def update(obs, action, watched, z_taken, reward, done, next_obs, responses):
        # ---- critic: L_TD --------------------------------------------------------------------
        s2, z2, phi2 = target_actor.forward(next_obs)
        a2 = U.target_top_n(target_actor.latent_scores(phi2, z2), next_obs["cand_mask"], n)
        valid2 = tf.gather(next_obs["cand_mask"], a2, batch_dims=1)
        q_next = target_critic([s2, U.mean_phi(phi2, a2, valid2)])  # Q′(s′, a′) = g′(s′, Ẑ′(a′))
        y = tf.stop_gradient(U.td_target(reward, done, args.gamma, q_next))
        s, _, phi = actor.forward(obs)
        z_hat = U.mean_phi(phi, action, watched)  # the inverse module: Ẑ(a)
        with tf.GradientTape() as tape:
            q = critic([tf.stop_gradient(s), tf.stop_gradient(z_hat)])
            td_loss = tf.reduce_mean(tf.square(y - q))
        critic_opt.apply_gradients(zip(tape.gradient(td_loss, critic.trainable_variables),
                                       critic.trainable_variables, strict=True))
        # ---- hyper-actor: L_QMax + λ_h L_Hyper + λ_bce L_BCE ----------------------------------
        with tf.GradientTape() as tape:
            s, z, phi = actor.forward(obs)
            qmax_loss = -tf.reduce_mean(critic([tf.stop_gradient(s), z]))
            z_hat = U.mean_phi(phi, action, watched)
            hyper_loss = tf.reduce_mean(tf.reduce_sum(tf.square(z - z_hat), axis=-1))
            logits = tf.gather(actor.response_logits(phi, z), action, batch_dims=1)  # [B, n, 2]
            bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=responses, logits=logits)
            w = watched[..., None]
            bce_loss = tf.reduce_sum(bce * w) / tf.maximum(2.0 * tf.reduce_sum(watched), 1.0)
            actor_loss = qmax_loss + args.lambda_hyper * hyper_loss + args.lambda_bce * bce_loss
        actor_opt.apply_gradients(zip(tape.gradient(actor_loss, actor.trainable_variables),
                                      actor.trainable_variables, strict=True))
        # ---- target networks ---------------------------------------------------------------------
        U.soft_update(target_actor.weights, actor.weights, args.tau)
        U.soft_update(target_critic.weights, critic.weights, args.tau)
        return {"td_loss": td_loss, "qmax_loss": qmax_loss, "hyper_loss": hyper_loss, "bce_loss": bce_loss,
                "actor_loss": actor_loss, "q": tf.reduce_mean(q)}

    return update


def train(args: Args, out_dir: str | Path | None = None):
    """Train HAC; returns (policy network, metrics dict). Writes the run to ``out_dir`` if given."""
    return run_online(args, out_dir, algo=ALGO, make_update=make_update)


def run_online(args, out_dir: str | Path | None, *, algo: str, make_update):
    """The online actor-critic loop HAC and DDPG share; ``make_update(actor, critic, target_actor,
    target_critic, args)`` supplies the algorithm's update step."""
    import keras

    from training.policy.network import PolicyConfig, build_policy

    # ---- setup -----------------------------------------------------------------------------------
    U.set_seed(args.seed)
    rng = np.random.default_rng([args.seed, 0x4AC])
    world = U.world_for(args.world_seed, args.world)
    env_cfg = EnvConfig(slate=args.slate, depth_cap=args.depth_cap)
    cfg = PolicyConfig(dim=args.dim, hidden=args.hidden, score_mode="latent")
    actor, target_actor = build_policy(cfg), build_policy(cfg)
    target_actor.set_weights(actor.get_weights())
    critic = U.build_critic(args.dim, args.critic_hidden)
    target_critic = keras.models.clone_model(critic)
    target_critic.set_weights(critic.get_weights())
    update = make_update(actor, critic, target_actor, target_critic, args)
    venv = U.VectorEnv(world, env_cfg, args.num_envs, seed=U.TRAIN_SESSION_SEED + args.seed)
    act = U.Actor(actor, args.num_envs)
    eval_act = U.Actor(actor, 64)
    buffer = U.ReplayBuffer(args.buffer_size, venv.obs[0], args.slate, args.dim, seed=args.seed)
    log = U.MetricLog()

    # ---- interaction and learning ------------------------------------------------------------------
    for step in tqdm(range(args.steps), desc=f"train-policy {algo}", unit="update", disable=not args.progress):
        obs = venv.observations()
        _, z, phi = act(obs)
        action, z_noisy = U.noisy_effect_action(z, phi, obs["cand_mask"], args.slate, args.noise, rng)
        next_obs, reward, done, responses, watched, finished = venv.step(action)
        buffer.add(obs, action, watched, z_noisy, reward, done, next_obs, responses)
        for total, depth in finished:
            log.accumulate("charts/episode_reward", step, total)
            log.accumulate("charts/episode_depth", step, depth)
        if buffer.size >= args.learning_starts:
            b = buffer.sample(args.batch_size)
            out = update(b.obs, b.action, b.watched, b.z, b.reward, b.done, b.next_obs, b.responses)
            for k, v in out.items():
                log.accumulate(f"losses/{k}", step, float(v))
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            res = U.evaluate(U.greedy_rule(eval_act, args.slate), world, env_cfg, args.eval_sessions,
                             seed=U.VALID_SESSION_SEED)
            log.add("charts/total_reward", step + 1, float(res.total_reward.mean()))
            log.add("charts/depth", step + 1, float(res.depth.mean()))

    # ---- report ------------------------------------------------------------------------------------
    log.flush()
    final = U.summary(U.evaluate(U.greedy_rule(eval_act, args.slate), world, env_cfg, args.eval_sessions,
                                 seed=U.VALID_SESSION_SEED))
    metrics = {"algo": algo, "final_valid": final, "curves": log.curves}
    if out_dir is not None:
        metrics = U.write_run(out_dir, actor, algo, args, log, final)
    return actor, metrics


if __name__ == "__main__":
    train(Args(steps=200), "runs/policy_hac_smoke")
