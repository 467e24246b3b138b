"""What every policy trainer shares: vectorised environments, the replay buffer, the critic, the
greedy/noisy effect action, evaluation on paired sessions, and the metric log.

The algorithms themselves (``hac.py``, ``ddpg.py``, ``sl.py``, ``reinforce_topk.py``) each read
top to bottom in one file; this module is the boilerplate they would otherwise repeat.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import numpy as np

from device_runtime.sim.policy_env import OBS_KEYS, EnvConfig, FeedEnv, stack, top_n
from device_runtime.sim.world import SyntheticWorld
from device_runtime.sim.world_stats import mean_ci95

#: run seeds of the sessions each phase uses on a world (kept apart so no session is reused)
TRAIN_SESSION_SEED = 10_000
LOG_SESSION_SEED = 20_000
VALID_SESSION_SEED = 9_999
EVAL_SESSION_SEED = 0


def set_seed(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(int(seed))


# -- batches --------------------------------------------------------------------------------------
class Batch(NamedTuple):
    """Transitions sampled from the replay buffer (numpy; leading dimension B)."""

    obs: dict[str, np.ndarray]
    action: np.ndarray  # int32 [B, n]: cache indices shown
    watched: np.ndarray  # float32 [B, n]: 1 where the action's video was watched
    z: np.ndarray  # float32 [B, d]: the (noisy) hyper-action that produced the action
    reward: np.ndarray  # float32 [B]
    done: np.ndarray  # float32 [B]: 1 if the user left (no bootstrap), 0 otherwise (incl. depth cap)
    next_obs: dict[str, np.ndarray]
    responses: np.ndarray  # float32 [B, n, 2]: (effective_view, like) of the action's videos


class ReplayBuffer:
    """A fixed-size ring buffer of transitions (numpy)."""

    def __init__(self, capacity: int, example_obs: dict[str, np.ndarray], slate: int, dim: int, seed: int) -> None:
        if capacity < 1:
            raise ValueError(f"`capacity` must be >= 1, got {capacity}")
        self.capacity, self.size, self.pos = capacity, 0, 0
        self.rng = np.random.default_rng(seed)

        def alloc(o):
            return {k: np.zeros((capacity, *o[k].shape), o[k].dtype) for k in OBS_KEYS}

        self.obs, self.next_obs = alloc(example_obs), alloc(example_obs)
        self.action = np.zeros((capacity, slate), np.int32)
        self.watched = np.zeros((capacity, slate), np.float32)
        self.z = np.zeros((capacity, dim), np.float32)
        self.reward = np.zeros(capacity, np.float32)
        self.done = np.zeros(capacity, np.float32)
        self.responses = np.zeros((capacity, slate, 2), np.float32)

    def add(self, obs, action, watched, z, reward, done, next_obs, responses) -> None:
        """Add a batch of transitions (leading dimension b)."""
        b = len(reward)
        idx = (self.pos + np.arange(b)) % self.capacity
        for k in OBS_KEYS:
            self.obs[k][idx] = obs[k]
            self.next_obs[k][idx] = next_obs[k]
        self.action[idx], self.watched[idx], self.z[idx] = action, watched, z
        self.reward[idx], self.done[idx], self.responses[idx] = reward, done, responses
        self.pos = int((self.pos + b) % self.capacity)
        self.size = min(self.size + b, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        idx = self.rng.integers(0, self.size, batch_size)
        return Batch({k: v[idx] for k, v in self.obs.items()}, self.action[idx], self.watched[idx], self.z[idx],
                     self.reward[idx], self.done[idx], {k: v[idx] for k, v in self.next_obs.items()},
                     self.responses[idx])


# -- environments ---------------------------------------------------------------------------------
class VectorEnv:
    """``num_envs`` sessions of one world played side by side; a finished session is replaced by
    the next index of run ``seed`` (sessions (seed, 0), (seed, 1), ...)."""

    def __init__(self, world: SyntheticWorld, cfg: EnvConfig, num_envs: int, seed: int) -> None:
        self.envs = [FeedEnv(world, cfg) for _ in range(num_envs)]
        self.seed, self.next_index = seed, 0
        self.obs = [self._reset(e) for e in self.envs]

    def _reset(self, env: FeedEnv) -> dict[str, np.ndarray]:
        while True:  # a session with nothing to show is skipped
            obs = env.reset(self.seed, self.next_index)
            self.next_index += 1
            if not env.finished:
                return obs

    def observations(self) -> dict[str, np.ndarray]:
        return stack(self.obs)

    def step(self, actions: np.ndarray):
        """Step every env; returns (next_obs batch, reward, done, responses, watched, finished
        episodes as (total_reward, depth))."""
        next_obs, rewards, dones, resp, watched, finished = [], [], [], [], [], []
        for i, env in enumerate(self.envs):
            valid = int(self.obs[i]["cand_mask"].sum())
            act = actions[i][: max(min(valid, len(actions[i])), 1)]
            st = env.step(act)
            next_obs.append(st.observation)
            rewards.append(st.reward)
            dones.append(float(st.done))
            resp.append(st.responses)
            watched.append(st.watched)
            if env.finished:
                finished.append((env.total_reward, env.depth))
                self.obs[i] = self._reset(env)
            else:
                self.obs[i] = st.observation
        return (stack(next_obs), np.asarray(rewards, np.float32), np.asarray(dones, np.float32),
                np.stack(resp), np.stack(watched), finished)


# -- the policy's forward pass ----------------------------------------------------------------------
class Actor:
    """A compiled forward pass of a ``PolicyNetwork`` at a fixed batch size (no retracing):
    ranking scores and the hyper-action Z of a batch of observations."""

    def __init__(self, model, batch: int) -> None:
        import tensorflow as tf

        self.batch = batch
        self.model = model

        @tf.function(reduce_retracing=True)
        def fwd(inputs):
            _, z, phi = model.forward(inputs)
            return model.ranking_scores(phi, z), z, phi

        self._fwd = fwd

    def __call__(self, obs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b = obs["cand_mask"].shape[0]
        if b > self.batch:
            parts = [self(_rows(obs, slice(i, i + self.batch))) for i in range(0, b, self.batch)]
            return tuple(np.concatenate([p[j] for p in parts]) for j in range(3))  # type: ignore[return-value]
        padded = {k: _pad_rows(v, self.batch) for k, v in obs.items() if k in OBS_KEYS}
        scores, z, phi = self._fwd(padded)
        return np.asarray(scores)[:b], np.asarray(z)[:b], np.asarray(phi)[:b]


def _rows(obs, sl):
    return {k: v[sl] for k, v in obs.items()}


def _pad_rows(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[0] == n:
        return x
    return np.concatenate([x, np.repeat(x[:1], n - x.shape[0], axis=0)])


def noisy_effect_action(z: np.ndarray, phi: np.ndarray, cand_mask: np.ndarray, slate: int, noise: float,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Exploration in the hyper-action space (HAC): Z + N(0, noise²) → top-n of Φ·Z."""
    z_noisy = (z + noise * rng.standard_normal(z.shape)).astype(np.float32)
    scores = np.einsum("bmd,bd->bm", phi, z_noisy)
    return top_n(scores, cand_mask, slate), z_noisy


# -- evaluation on paired sessions ---------------------------------------------------------------
#: rule(batch of observations) -> int [B, n] cache indices, best first
BatchRule = Callable[[dict[str, np.ndarray]], np.ndarray]


class EvalResult(NamedTuple):
    """Per-session outcomes, in session order (paired across rules)."""

    total_reward: np.ndarray
    depth: np.ndarray
    effective_views: np.ndarray
    likes: np.ndarray


def evaluate(rule: BatchRule, world: SyntheticWorld, cfg: EnvConfig, sessions: int, seed: int = EVAL_SESSION_SEED,
             parallel: int = 64) -> EvalResult:
    """Play sessions (seed, 0..sessions-1) of ``world`` with ``rule``, ``parallel`` at a time."""
    out = np.zeros((4, sessions))
    for start in range(0, sessions, parallel):
        envs = [FeedEnv(world, cfg) for _ in range(min(parallel, sessions - start))]
        obs = [e.reset(seed, start + i) for i, e in enumerate(envs)]
        live = [i for i, e in enumerate(envs) if not e.finished]
        ev = np.zeros(len(envs))
        likes = np.zeros(len(envs))
        while live:
            acts = rule(stack([obs[i] for i in live]))
            still = []
            for j, i in enumerate(live):
                valid = int(obs[i]["cand_mask"].sum())
                st = envs[i].step(acts[j][: max(min(valid, cfg.slate), 1)])
                ev[i] += st.responses[:, 0].sum()
                likes[i] += st.responses[:, 1].sum()
                obs[i] = st.observation
                if not envs[i].finished:
                    still.append(i)
            live = still
        for i, e in enumerate(envs):
            out[:, start + i] = (e.total_reward, e.watched, ev[i], likes[i])
    return EvalResult(*out)


def evaluate_hidden(choose, world: SyntheticWorld, cfg: EnvConfig, sessions: int,
                    seed: int = EVAL_SESSION_SEED) -> EvalResult:
    """``evaluate`` for a rule that reads the hidden session (``choose(device state, session)`` → a
    cache index; the world's oracles): the same environments, users and paging, one video per step."""
    out = np.zeros((4, sessions))
    for i in range(sessions):
        env = FeedEnv(world, cfg)
        env.reset(seed, i)
        ev = likes = 0.0
        while not env.finished:
            st = env.step([choose(env.state, env.session)])
            ev += float(st.responses[:, 0].sum())
            likes += float(st.responses[:, 1].sum())
        out[:, i] = (env.total_reward, env.watched, ev, likes)
    return EvalResult(*out)


def greedy_rule(actor: Actor, slate: int) -> BatchRule:
    """Greedy top-n of the policy's ranking scores (the evaluation effect action)."""

    def rule(obs):
        scores, _, _ = actor(obs)
        return top_n(scores, obs["cand_mask"], slate)

    return rule


def summary(res: EvalResult) -> dict:
    return {name: dict(zip(("mean", "ci95"), mean_ci95(getattr(res, name)), strict=True))
            for name in EvalResult._fields}


# -- metric log -------------------------------------------------------------------------------------
class MetricLog:
    """Curves under stable names (``losses/td_loss``, ``charts/total_reward``, ...): name →
    [(step, value)]; ``mean_every`` averages noisy per-update values into one point."""

    def __init__(self, mean_every: int = 50) -> None:
        self.curves: dict[str, list[tuple[int, float]]] = {}
        self._acc: dict[str, list[float]] = {}
        self._last_step: dict[str, int] = {}
        self.mean_every = mean_every
        self.t0 = time.perf_counter()

    def add(self, name: str, step: int, value: float) -> None:
        self.curves.setdefault(name, []).append((int(step), float(value)))

    def accumulate(self, name: str, step: int, value: float) -> None:
        acc = self._acc.setdefault(name, [])
        acc.append(float(value))
        self._last_step[name] = int(step)
        if len(acc) >= self.mean_every:
            self.add(name, step, float(np.mean(acc)))
            acc.clear()

    def flush(self) -> None:
        """Write out the partial means (the end of a run)."""
        for name, acc in self._acc.items():
            if acc:
                self.add(name, self._last_step[name], float(np.mean(acc)))
                acc.clear()

    def last(self, name: str) -> float | None:
        c = self.curves.get(name)
        return c[-1][1] if c else None


def plot_curves(curves: dict[str, list[tuple[int, float]]], path: str | Path, title: str) -> Path | None:
    """charts/* on a linear scale, losses/* on a log scale (|value| for signed losses)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = sorted(curves)
    charts = [n for n in names if n.startswith("charts/")]
    losses = [n for n in names if n.startswith("losses/")]
    panels = charts + losses
    if not panels:
        return None
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, panels, strict=False):
        xs, ys = zip(*curves[name], strict=True) if curves[name] else ((), ())
        if name.startswith("losses/"):
            vals = np.abs(np.asarray(ys, dtype=float))
            neg = bool(np.any(np.asarray(ys) < 0))
            ax.semilogy(xs, np.maximum(vals, 1e-12), marker=".")
            ax.set_title(f"{name} ({'|value|, ' if neg else ''}log)", fontsize=9)
        else:
            ax.plot(xs, ys, marker=".")
            ax.set_title(name, fontsize=9)
        ax.set_xlabel("update step", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def write_run(out_dir: str | Path, model, algo: str, args, log: MetricLog, final: dict, extra: dict | None = None) -> dict:
    """Save the network, metrics.json and curves.png of a training run."""
    from training.policy.network import save_policy

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    args_json = asdict(args) if hasattr(args, "__dataclass_fields__") else dict(args)
    save_policy(model, out, extra={"algo": algo, "args": args_json})
    metrics = {"algo": algo, "args": args_json, "params": int(model.count_params()),
               "wall_s": time.perf_counter() - log.t0, "final_valid": final,
               "curves": {k: [list(p) for p in v] for k, v in log.curves.items()}, **(extra or {})}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_curves(log.curves, out / "curves.png", f"{algo} (seed {args_json.get('seed')})")
    return metrics


# -- a critic g(s, Z) shared by HAC and DDPG ----------------------------------------------------
def build_critic(dim: int, hidden: tuple[int, ...]):
    """g(s, Z): an MLP on [s, Z] → a scalar (HAC's shared critic; the paper used [256, 64])."""
    import keras
    from keras import layers

    s_in = keras.Input((dim,), name="state")
    z_in = keras.Input((dim,), name="hyper_action")
    x = layers.Concatenate()([s_in, z_in])
    for i, w in enumerate(hidden):
        x = layers.Dense(w, activation="relu", name=f"critic_{i}")(x)
    q = layers.Dense(1, name="critic_out")(x)
    return keras.Model([s_in, z_in], layers.Reshape(())(q), name="critic")


def td_target(reward, done, gamma: float, q_next):
    """y = r + γ·(1 − done)·Q′(s′, a′): no bootstrap past the user leaving (works on numpy or
    tensors)."""
    return reward + gamma * (1.0 - done) * q_next


def soft_update(target_vars, source_vars, tau: float) -> None:
    """Polyak averaging θ′ ← τ·θ + (1 − τ)·θ′."""
    for t, s in zip(target_vars, source_vars, strict=True):
        t.assign(tau * s + (1.0 - tau) * t)


def mean_phi(phi, action, watched):
    """Ẑ: the mean of Φ over the shown (watched) items of each row — HAC's inverse module.
    phi [B, M, d], action int [B, n], watched [B, n] → [B, d] (tensors)."""
    import tensorflow as tf

    picked = tf.gather(phi, action, batch_dims=1)  # [B, n, d]
    w = watched[..., None]
    return tf.reduce_sum(picked * w, axis=1) / tf.maximum(tf.reduce_sum(w, axis=1), 1.0)


def target_top_n(scores, cand_mask, n: int):
    """The target policy's greedy effect action (tensors): int32 [B, n]."""
    import tensorflow as tf

    masked = scores - (1.0 - tf.cast(cand_mask > 0.5, tf.float32)) * 1.0e9
    return tf.math.top_k(masked, k=n).indices


#: world names the policy learners accept (``--world``)
POLICY_WORLDS = ("synthetic", "synthetic-legacy", "synthetic-long-term")


def world_for(world_seed: int, world: str = "synthetic") -> SyntheticWorld:
    """The synthetic world ``world`` (legacy unless ``synthetic-long-term``) of ``world_seed``."""
    from device_runtime.sim.world import WorldConfig

    if world not in POLICY_WORLDS:
        raise ValueError(f"`world` must be one of {POLICY_WORLDS}, got {world!r}")
    cfg = WorldConfig.long_term() if world == "synthetic-long-term" else WorldConfig.legacy()
    return SyntheticWorld(cfg, world_seed)
