"""Logged sessions for the offline learners (supervised, REINFORCE): the server's behaviour policy
played through ``rollout.run_session`` (the generator behind ``simulate-logs``), kept as the
device's full view at every impression — history, the cache the video was chosen from, context,
the chosen cache index, the server's logged propensity, the responses and the discounted return."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from device_runtime import contract as C
from device_runtime.sim.policy_env import OBS_KEYS
from device_runtime.sim.rollout import run_session, server_order


class LoggedData(NamedTuple):
    obs: dict[str, np.ndarray]  # the policy_rerank inputs, [N, ...]
    action: np.ndarray  # int32 [N]: cache index shown (0 under server order)
    responses: np.ndarray  # float32 [N, 2]: (effective_view, like)
    propensity: np.ndarray  # float32 [N]: the server's probability of this placement
    reward: np.ndarray  # float32 [N]: α·ev + β·like
    ret: np.ndarray  # float32 [N]: Σ_k γ^k r_{t+k} to the session's end
    session: np.ndarray  # int32 [N]

    @property
    def n(self) -> int:
        return int(self.action.shape[0])


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + γ G_{t+1}, G_T = r_T (one session)."""
    out = np.zeros(len(rewards), np.float64)
    acc = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        acc = float(rewards[t]) + gamma * acc
        out[t] = acc
    return out.astype(np.float32)


@lru_cache(maxsize=4)
def logged_sessions(world_seed: int, sessions: int, seed: int, gamma: float = 0.9,
                    alpha: float = C.DEFAULT_RERANK_PARAMS["alpha"], beta: float = C.DEFAULT_RERANK_PARAMS["beta"],
                    n_history: int = C.N_HISTORY_DEFAULT, m_max: int = C.M_MAX_DEFAULT,
                    explore_show: float = 0.0, world: str = "synthetic") -> LoggedData:
    """``sessions`` logged sessions (seed, 0..sessions-1) of the world ``world_seed`` (cached: the
    policy table trains several seeds on the same log). With ``explore_show`` > 0 the logging
    client is ``simulate-logs --explore-show``'s: it shows a uniformly drawn cached video with that
    probability, and the propensity is the server's placement probability times the client's
    probability of the shown index — the support an off-policy learner needs (under pure server
    order every action is slot 0). In a multi-session world every session of a user's episode is
    logged (ids ``s + k·sessions``, the device history kept across them, as ``simulate-logs``);
    returns are discounted within a session."""
    from device_runtime.sim.rollout import episode_sessions
    from training.data.synthetic_logs import exploring_rule
    from training.policy.common import world_for

    w = world_for(world_seed, world)
    multi = w.config.multi_session
    cols: dict[str, list] = {k: [] for k in OBS_KEYS}
    action, resp, prop, rew, ret, sess = [], [], [], [], [], []
    def played():
        for u in range(sessions):
            parts = (episode_sessions(w, w.new_episode(seed, u), n_history) if multi
                     else [(0, w.new_session(seed, u), None)])
            for k, session, state in parts:
                s = u + k * sessions
                show_prob: list[float] = []
                rule = server_order
                if explore_show > 0:
                    rng = np.random.default_rng(np.random.SeedSequence([seed, s, 0xE7]))
                    rule = exploring_rule(explore_show, rng, show_prob)
                imps = run_session(w, session, rule, n_history=n_history, m_max=m_max, state=state)
                yield s, imps, show_prob

    for s, imps, show_prob in played():
        r = np.array([alpha * i.response.effective_view + beta * i.response.like for i in imps], np.float32)
        ret.append(discounted_returns(r, gamma))
        rew.append(r)
        for t, imp in enumerate(imps):
            for k, v in (("hist_dense", imp.history.dense), ("hist_ids", imp.history.ids),
                         ("hist_mask", imp.history.mask), ("cand_dense", imp.candidates.dense),
                         ("cand_ids", imp.candidates.ids), ("cand_mask", imp.candidates.mask),
                         ("context", imp.context)):
                cols[k].append(v)
            action.append(imp.cache_index)
            resp.append((imp.response.effective_view, imp.response.like))
            prop.append(imp.propensity * (show_prob[t] if show_prob else 1.0))
            sess.append(s)
    return LoggedData({k: np.stack(v) for k, v in cols.items()}, np.asarray(action, np.int32),
                      np.asarray(resp, np.float32), np.asarray(prop, np.float32), np.concatenate(rew),
                      np.concatenate(ret), np.asarray(sess, np.int32))
