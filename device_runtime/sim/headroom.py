"""How much planning can gain at all: two oracles that rank with the world's true model.

* ``oracle_myopic`` shows the cached video with the highest true immediate reward α·p_ev + β·p_like
  (the current intent, satisfaction, fatigue and boredom are known: it is the perfect myopic ranker).
* ``oracle_lookahead`` plans with the same true model but **without** knowing any future random
  draw: a one-step lookahead. Each cached video is valued by its true immediate reward, then — with
  its true p_has_next — either the value of the session ending in the state it leaves (the true
  return probability of that end state × the value of a return) or a *fluid continuation*: the
  state's satisfaction relaxes toward its typical level with the world's own decay and boredom toward
  its typical concentration, every further video earns the typical reward, the user stays with the
  true p_has_next of each such state and, on leaving, is worth the return value again. The typical
  levels and the return value (``Typical``) are measured once under the myopic ranker on the
  planner's own users (run seed 10⁶). No future intent switch, page, outcome uniform or return draw
  is read (a test resamples them all and finds every choice unchanged). Rollouts over the rest of
  the finite cache were tried first and lost to the myopic ranker in the legacy world (postponing
  the best video is free in such a rollout): docs/long_term_world.md has the numbers.

Both are ``ChooseFn`` rules of ``device_runtime.sim.rollout`` (they read the hidden
``UserSession``, which only oracles may), and strategies of the same names in reports carry
``"uses_hidden_state": true``. ``measure_headroom`` plays both over the same users' episodes
(common random numbers) and reports the paired gain of planning over the perfect myopic ranker.

Episode reward is counted as expected reward along the realised path: Σ over shown videos of
α·p_ev + β·p_like (the true probabilities), an unbiased, lower-variance stand-in for the sampled
α·effective_view + β·like. A user for whom the server has nothing left counts as not returning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from device_runtime.session import SessionState
from device_runtime.sim.rollout import ChooseFn, run_episode, run_session
from device_runtime.sim.world import SyntheticWorld, UserSession, _State, return_probability
from device_runtime.sim.world_stats import CI_NORMAL, mean_ci95, ratio_ci95

ORACLES = ("oracle_myopic", "oracle_lookahead")


@dataclass(frozen=True)
class PlannerConfig:
    """The lookahead oracle's settings."""

    alpha: float = 1.0
    """Reward weight of an effective view (the world's reward: α = 1, β = 5)."""
    beta: float = 5.0
    """Reward weight of a like."""
    horizon: int = 200
    """Videos of the fluid continuation summed (it stops early once survival is negligible)."""


@dataclass(frozen=True)
class Typical:
    """What a session is like under the perfect myopic ranker, measured on the planner's own users
    (never an evaluation run): the planner's model of the future it cannot see."""

    reward: float
    """Mean expected reward per shown video."""
    satisfaction: float
    """Mean satisfaction (where satisfaction relaxes to as the session goes on)."""
    boredom: float
    """Mean topic concentration (where boredom relaxes to)."""
    return_value: float
    """Mean reward of the rest of an episode after a return (0 without retention)."""


def _cache_videos(state: SessionState) -> list[int]:
    """Catalog indices of the cached videos (the synthetic world's video ids are catalog indices)."""
    return [int(v) for v in np.asarray(state.cache.video_id)]


class MyopicOracle:
    """The perfect myopic ranker: argmax of the true α·p_ev + β·p_like (ties: lower cache index)."""

    name = "oracle_myopic"

    def __init__(self, alpha: float = 1.0, beta: float = 5.0) -> None:
        self.alpha, self.beta = alpha, beta

    def __call__(self, state: SessionState, session: UserSession) -> int:
        best, best_r = 0, -math.inf
        for i, v in enumerate(_cache_videos(state)):
            p_ev, p_like, _, _ = session._probs(session.state, v)
            r = self.alpha * p_ev + self.beta * p_like
            if r > best_r:
                best, best_r = i, r
        return best


class LookaheadOracle:
    """One-step lookahead with the true model and a fluid model of the future (module docstring)."""

    name = "oracle_lookahead"

    def __init__(self, typical: Typical, config: PlannerConfig | None = None) -> None:
        self.typical = typical
        self.config = config or PlannerConfig()

    def _end_value(self, session: UserSession, st: _State) -> float:
        rv = self.typical.return_value
        return return_probability(session.world.config, st) * rv if rv else 0.0

    def future_value(self, session: UserSession, st: _State) -> float:
        """Expected value from the next video on for a user still watching in state ``st``: the
        fluid continuation. Satisfaction relaxes toward the typical level with the world's own decay,
        boredom toward the typical concentration with the exposure's decay; each video earns the
        typical reward; the user stays with the true p_has_next of that state and, on leaving, is
        worth ``return_probability`` of the end state × the return value. No future intent, page or
        random draw is read: what the planner knows of the future is the law and ``typical``."""
        cfg, ty = session.world.config, self.typical
        d = cfg.satisfaction_decay
        sat, bored = st.satisfaction, st.boredom
        long_term = st.exposure is not None
        value, surv = 0.0, 1.0
        n, sat_sum, bore_sum, hates = st.position, st.sat_sum, st.bore_sum, st.hates
        for _ in range(self.config.horizon):
            sat = d * sat + (1.0 - d) * ty.satisfaction
            z = cfg.h0 + session.patience + cfg.h1 * (sat - cfg.s_ref)
            if long_term:
                bored = ty.boredom + cfg.boredom_decay * (bored - ty.boredom)
                z -= cfg.w_boredom * (bored - cfg.boredom_ref)
            hn = 1.0 / (1.0 + math.exp(-z))
            n, sat_sum, bore_sum = n + 1, sat_sum + sat, bore_sum + bored
            end = st._replace(position=n, satisfaction=sat, sat_sum=sat_sum, bore_sum=bore_sum, hates=hates)
            value += surv * (ty.reward + (1.0 - hn) * self._end_value(session, end))
            surv *= hn
            if surv < 1e-4:
                break
        return value + surv * self._end_value(session, end)

    def value(self, session: UserSession, video: int) -> float:
        """Immediate true reward of ``video`` now, then leave (end value) or stay (future value)."""
        pc = self.config
        p_ev, p_like, hn, st = session._probs(session.state, video)
        return (pc.alpha * p_ev + pc.beta * p_like + (1.0 - hn) * self._end_value(session, st)
                + hn * self.future_value(session, st))

    def __call__(self, state: SessionState, session: UserSession) -> int:
        best, best_v = 0, -math.inf
        for i, v in enumerate(_cache_videos(state)):
            val = self.value(session, v)
            if val > best_v:
                best, best_v = i, val
        return best


def staying_probability(session: UserSession, st: _State) -> float:
    """p_has_next of a user in state ``st`` after a neutral video (satisfaction and boredom as they
    are): the state's own propensity to keep watching."""
    cfg = session.world.config
    z = cfg.h0 + session.patience + cfg.h1 * (st.satisfaction - cfg.s_ref)
    if st.exposure is not None:
        z -= cfg.w_boredom * (st.boredom - cfg.boredom_ref)
    return 1.0 / (1.0 + math.exp(-z))


def episode_reward(records, alpha: float = 1.0, beta: float = 5.0) -> tuple[float, list[float]]:
    """(expected reward of the episode along its realised path, the same per session)."""
    per = [float(sum(alpha * r.p_ev + beta * r.p_like for r in rec.responses)) for rec in records]
    return float(sum(per)), per


def typical_session(world: SyntheticWorld, episodes: int = 60, seed: int = 10**6, alpha: float = 1.0,
                    beta: float = 5.0) -> Typical:
    """``Typical`` under the perfect myopic ranker on the planner's own users (run ``seed``)."""
    tails: list[float] = []
    rewards: list[float] = []
    sats: list[float] = []
    bores: list[float] = []
    for i in range(episodes):
        ep = world.new_episode(seed, i)
        recs = []
        session: UserSession | None = ep.session
        while session is not None:
            responses: list = []
            run_session(world, session, MyopicOracle(alpha, beta), record=False, responses=responses)
            st = session.state
            if st.position:
                sats.append(st.sat_sum / st.position if st.exposure is not None else st.satisfaction)
                bores.append(st.bore_sum / st.position)
            recs.append(responses)
            session = ep.next_session()
        per = [float(sum(alpha * r.p_ev + beta * r.p_like for r in resp)) for resp in recs]
        rewards += [alpha * r.p_ev + beta * r.p_like for resp in recs for r in resp]
        tails += [float(sum(per[k:])) for k in range(1, len(per))]
    rv = float(np.mean(tails)) if (tails and world.config.multi_session) else 0.0
    return Typical(float(np.mean(rewards)), float(np.mean(sats)), float(np.mean(bores)) if bores else 0.0, rv)


def measure_headroom(world: SyntheticWorld, sessions: int, seed: int = 0, planner: PlannerConfig | None = None,
                     progress: bool = True) -> dict:
    """Paired episodes of ``oracle_myopic`` and ``oracle_lookahead`` (``sessions`` users)."""
    pc = planner or PlannerConfig()
    typical = typical_session(world, alpha=pc.alpha, beta=pc.beta)
    rules: dict[str, ChooseFn] = {"oracle_myopic": MyopicOracle(pc.alpha, pc.beta),
                                  "oracle_lookahead": LookaheadOracle(typical, pc)}
    totals: dict[str, list[float]] = {k: [] for k in rules}
    n_sessions: dict[str, list[int]] = {k: [] for k in rules}
    for i in tqdm(range(sessions), desc="headroom", unit="user", disable=not progress):
        for name, rule in rules.items():
            recs = run_episode(world, world.new_episode(seed, i), rule)
            totals[name].append(episode_reward(recs, pc.alpha, pc.beta)[0])
            n_sessions[name].append(len(recs))
    out: dict = {}
    for name in rules:
        m, ci = mean_ci95(np.asarray(totals[name]))
        ps, ps_ci = ratio_ci95(np.asarray(totals[name]), np.asarray(n_sessions[name]))
        out[name] = {"mean": m, "ci95": ci, "uses_hidden_state": True,
                     "per_session": {"mean": ps, "ci95": ps_ci},
                     "sessions_per_episode": float(np.mean(n_sessions[name]))}
    base_totals = np.asarray(totals["oracle_myopic"])
    diff = np.asarray(totals["oracle_lookahead"]) - base_totals
    g, gci = mean_ci95(diff)
    rel, rel_ci = ratio_ci95(diff, base_totals)  # the baseline's own uncertainty included (delta method)
    out["gain"] = {"mean": g, "ci95": gci, "relative": rel, "relative_ci95": rel_ci, "n": int(diff.size)}
    out["planner"] = {**(planner or PlannerConfig()).__dict__, **typical.__dict__}
    out["intervals"] = (CI_NORMAL + "; paired per user (episode); per_session and relative: ratio of sums "
                        "over users, delta method (a user's sessions are not independent)")
    return out
