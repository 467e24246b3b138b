"""DDPG in the hyper-action space — HAC's baseline: HAC without L_Hyper and L_BCE.

The actor outputs Z (the same network, the same top-n effect action and the same noise on Z); the
critic is trained on the hyper-action that was actually taken, the stored noisy Z (no inverse
module Ẑ(a)):

    L_TD    (r + γ(1 − done)·Q′(s′, Z′(s′)) − Q(s, Z_taken))²
    L_QMax  −Q(s, Z(s))

Nothing ties Z to the items it selects and nothing trains the item kernel Φ, so the critic judges
Z's that the effect action (top-n of Φ·Z) maps onto few distinct lists — the gap HAC's
regularisation closes. Same environment, replay, targets and budgets as ``hac.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training.policy import common as U
from training.policy import hac

ALGO = "ddpg"


@dataclass(frozen=True)
class Args(hac.Args):
    """HAC's knobs; L_Hyper and L_BCE are off."""

    lambda_hyper: float = 0.0
    """Unused by DDPG (always 0)."""
    lambda_bce: float = 0.0
    """Unused by DDPG (always 0)."""

    def __post_init__(self) -> None:
        if self.lambda_hyper or self.lambda_bce:
            raise ValueError(f"DDPG has no L_Hyper or L_BCE: `lambda_hyper` and `lambda_bce` must be 0, got "
                             f"{self.lambda_hyper} and {self.lambda_bce}")


def make_update(actor, critic, target_actor, target_critic, args: Args):
    import keras
    import tensorflow as tf

    actor_opt = keras.optimizers.Adam(args.actor_lr)
    critic_opt = keras.optimizers.Adam(args.critic_lr)
    actor_opt.build(actor.trainable_variables)
    critic_opt.build(critic.trainable_variables)

    @tf.function
    def update(obs, action, watched, z_taken, reward, done, next_obs, responses):
        # ---- critic: L_TD on the taken hyper-action ------------------------------------------------
        s2, z2, _ = target_actor.forward(next_obs)
        y = tf.stop_gradient(U.td_target(reward, done, args.gamma, target_critic([s2, z2])))
        s, _, _ = actor.forward(obs)
        with tf.GradientTape() as tape:
            q = critic([tf.stop_gradient(s), z_taken])
            td_loss = tf.reduce_mean(tf.square(y - q))
        critic_opt.apply_gradients(zip(tape.gradient(td_loss, critic.trainable_variables),
                                       critic.trainable_variables, strict=True))
        # ---- actor: L_QMax ------------------------------------------------------------------------
        with tf.GradientTape() as tape:
            s, z, _ = actor.forward(obs)
            qmax_loss = -tf.reduce_mean(critic([tf.stop_gradient(s), z]))
        grads = tape.gradient(qmax_loss, actor.trainable_variables)
        pairs = [(g, v) for g, v in zip(grads, actor.trainable_variables, strict=True) if g is not None]
        actor_opt.apply_gradients(pairs)
        # ---- target networks ---------------------------------------------------------------------
        U.soft_update(target_actor.weights, actor.weights, args.tau)
        U.soft_update(target_critic.weights, critic.weights, args.tau)
        return {"td_loss": td_loss, "qmax_loss": qmax_loss, "q": tf.reduce_mean(q)}

    return update


def train(args: Args, out_dir: str | Path | None = None):
    """Train DDPG; returns (policy network, metrics dict). Writes the run to ``out_dir`` if given."""
    return hac.run_online(args, out_dir, algo=ALGO, make_update=make_update)
