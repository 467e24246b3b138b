"""Measurements of a world that the tests, `world-info` and the demo share.

* label rates and depth under the server's order (the calibration targets);
* "order matters": the oracle's best-of-N reordering of a page against the server order, in true
  expected ListReward;
* "feedback is informative": a rule that follows the user's in-session feedback against the same
  rule blind to it, on paired sessions.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from device_runtime import contract as C
from device_runtime.session import SessionState
from device_runtime.sim.rollout import run_session, server_order
from device_runtime.sim.world import SyntheticWorld, UserSession

#: how each interval helper computes its half-width (reports name the method next to the interval)
CI_NORMAL = "normal: 1.96·s/√n over sessions (per-session or paired per-session values; n ≥ 30)"
CI_STUDENT_T = "student_t: t(0.975, n−1)·s/√n over seeds (scipy.stats)"


def mean_ci95(x: np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of its 95% normal-approximation confidence interval (``CI_NORMAL``).

    For many per-session values (n ≥ 30). Over a few seeds use ``mean_ci95_t``: with 3 seed means
    the 95% factor is t(0.975, 2) = 4.30, not 1.96."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 2:
        return float(x.mean()) if x.size else float("nan"), float("nan")
    return float(x.mean()), float(1.96 * x.std(ddof=1) / np.sqrt(x.size))


def mean_ci95_t(x: np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student's t interval (``CI_STUDENT_T``, df = n − 1): the
    interval for a handful of values such as per-seed means. Needs scipy (the ``train`` extra)."""
    from scipy import stats

    x = np.asarray(x, dtype=np.float64)
    if x.size < 2:
        return float(x.mean()) if x.size else float("nan"), float("nan")
    q = float(stats.t.ppf(0.975, df=x.size - 1))
    return float(x.mean()), float(q * x.std(ddof=1) / np.sqrt(x.size))


def ratio_ci95(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Σnum / Σden over independent units (users) and the half-width of its 95% interval by the delta
    method (cluster-robust: a user's sessions are not independent draws). For per-session means
    (num = a user's summed reward, den = the user's sessions) and relative gains (num = paired
    difference, den = the baseline's value)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    n = num.size
    r = float(num.sum() / den.sum()) if den.sum() else float("nan")
    if n < 2 or not np.isfinite(r):
        return r, float("nan")
    resid = num - r * den
    se = math.sqrt(float(np.sum(resid**2)) / (n * (n - 1))) / float(den.mean())
    return r, 1.96 * se


def server_rates(world: SyntheticWorld, sessions: int, seed: int) -> dict[str, float]:
    ev = like = n = 0
    depths = []
    for s in range(sessions):
        imps = run_session(world, world.new_session(seed, s), record=True)
        depths.append(len(imps))
        for imp in imps:
            ev += imp.response.effective_view
            like += imp.response.like
            n += 1
    return {
        "effective_view_rate": ev / max(n, 1),
        "like_rate": like / max(n, 1),
        "mean_depth": float(np.mean(depths)),
        "median_depth": float(np.median(depths)),
        "impressions": float(n),
    }


def oracle_reorder_gain(
    world: SyntheticWorld, pages: int, seed: int, n_perm: int = 100, alpha: float = 1.0, beta: float = 5.0
) -> np.ndarray:
    """Relative gain in true expected ListReward of the best of ``n_perm`` random reorderings of the
    session's first page over the server order, one value per page (session)."""
    gains = []
    for s in range(pages):
        sess = world.new_session(seed, s)
        page = world.server_page(sess, 0).videos
        base = sess.expected_list_reward(page, alpha, beta)
        rng = np.random.default_rng([seed, s, 7])
        best = base
        for _ in range(n_perm):
            best = max(best, sess.expected_list_reward(rng.permutation(page), alpha, beta))
        gains.append((best - base) / base)
    return np.asarray(gains)


def _pxtr_score(state: SessionState) -> np.ndarray:
    return np.asarray(state.cache.server_p_ev) + 3.0 * np.asarray(state.cache.server_p_like)


def blind_rule(state: SessionState, session: UserSession) -> int:
    """Sort the cache by the server's pXTR only: no use of in-session feedback."""
    return int(np.argmax(_pxtr_score(state)))


def feedback_rule(state: SessionState, session: UserSession) -> int:
    """The same score plus evidence from the last 5 watched videos: each adds
    0.1 · 0.8^age · log(watch ratio / effective-view threshold ratio) to the candidates of its topic
    (watched past the threshold pulls a topic up, a quick skip pushes it down). Only what the
    device sees is used: the history's watch ratio, duration and topic."""
    from device_runtime.features import hash_id

    score = _pxtr_score(state)
    h = state.history()
    topics = hash_id(np.asarray(state.cache.topic), C.ID_VOCAB["topic"])
    wr_col = C.N_VIDEO_DENSE + C.FEEDBACK.index("watch_ratio")
    dur_col = C.VIDEO_DENSE.index("duration")
    for i in range(min(5, h.mask.size)):
        if h.mask[i]:
            ratio = max(float(h.dense[i, wr_col]) * C.WATCH_RATIO_CAP, 0.01)
            duration = max(math.expm1(float(h.dense[i, dur_col]) * math.log1p(C.DURATION_CAP_S)), 1e-3)
            threshold = min(duration, 18.0) / duration
            score = score + 0.1 * (0.8**i) * math.log(ratio / threshold) * (topics == h.ids[i, 0])
    return int(np.argmax(score))


def paired_rewards(
    world: SyntheticWorld, rules: dict, sessions: int, seed: int, alpha: float = 1.0, beta: float = 5.0
) -> dict[str, np.ndarray]:
    """Total reward per session for each rule on the same users and random streams."""
    out: dict[str, list[float]] = {name: [] for name in rules}
    for s in range(sessions):
        for name, rule in rules.items():
            imps = run_session(world, world.new_session(seed, s), rule, record=True)
            out[name].append(
                sum(alpha * i.response.effective_view + beta * i.response.like for i in imps)
            )
    return {k: np.asarray(v) for k, v in out.items()}


def measure_world(world: SyntheticWorld, sessions: int = 300, seed: int = 0) -> dict:
    rates = server_rates(world, sessions, seed)
    gain = oracle_reorder_gain(world, min(sessions, 200), seed)
    rewards = paired_rewards(
        world, {"server": server_order, "blind": blind_rule, "feedback": feedback_rule}, sessions, seed
    )
    diff = rewards["feedback"] - rewards["blind"]
    g_mean, g_ci = mean_ci95(gain)
    d_mean, d_ci = mean_ci95(diff)
    return {
        **rates,
        "oracle_best_of_100_gain": {"mean": g_mean, "ci95": g_ci},
        "total_reward": {k: dict(zip(("mean", "ci95"), mean_ci95(v), strict=True)) for k, v in rewards.items()},
        "feedback_minus_blind": {"mean": d_mean, "ci95": d_ci},
        "sessions": sessions,
        "seed": seed,
    }


#: KuaiRand-Pure's standard-feed rates (1,436,609 rows; shared/data/kuairand/README.md)
KUAIRAND_FEED = {"effective_view_rate": 0.3318, "like_rate": 0.0185, "hate_rate": 0.0005}


def kuairand_activity(path: str | Path) -> dict:
    """From KuaiRand's random-exposure log: the long-view rate of randomly exposed videos, the feed's
    lift over it, and active days per user (days with at least one row) over the log's span. Random
    rows are a sparse sample of each user's feed (median 3.5 per active day), so a day with no row is
    rarely an active day: active days count days, not the gaps between rows."""
    import csv

    days: dict[str, set[str]] = {}
    long_view = rows = 0
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            days.setdefault(r["user_id"], set()).add(r["date"])
            long_view += int(r["long_view"])
            rows += 1
    span = len(set().union(*days.values())) if days else 0
    d = np.asarray([len(v) for v in days.values()], float)
    rate = long_view / max(rows, 1)
    return {"random_effective_view_rate": rate, "feed_lift_effective_view": KUAIRAND_FEED["effective_view_rate"] / rate,
            "days_in_log": span, "users": len(days),
            "active_days": {"mean": float(d.mean()), "p10": float(np.percentile(d, 10)),
                            "p50": float(np.median(d)), "p90": float(np.percentile(d, 90))}}


def measure_episodes(world: SyntheticWorld, users: int = 300, seed: int = 0,
                     kuairand_log: str | Path | None = None) -> dict:
    """Calibration of a multi-session world under server order: label rates (hate included), session
    depth, sessions per episode, the lift of the served feed over random exposure (a uniformly drawn
    catalog video at a session's start, its true p_ev), and active days per user over the span of
    KuaiRand's log (17 days; episodes stretched to it for this count only), beside KuaiRand's own
    figures (``kuairand_activity`` of ``kuairand_log`` where the file is present)."""
    from dataclasses import replace

    from device_runtime.sim.rollout import run_episode

    def play(w: SyntheticWorld) -> list:
        return [run_episode(w, w.new_episode(seed, i), server_order) for i in range(users)]

    eps = play(world)
    rs = [r for ep in eps for rec in ep for r in rec.responses]
    depths = [len(rec.responses) for ep in eps for rec in ep]
    rng = np.random.default_rng([seed, 0xD1CE])
    random_ev = []
    for i in range(min(users, 100)):  # random exposure: the true p_ev of random videos at a session's start
        sess = world.new_session(seed, i)
        for v in rng.integers(0, world.config.n_videos, 5):
            random_ev.append(sess._probs(sess.state, int(v))[0])
    target = {**KUAIRAND_FEED}
    if kuairand_log is not None and Path(kuairand_log).exists():
        target.update(kuairand_activity(kuairand_log))
    span = float(target.get("days_in_log", 17))
    long = type(world)(replace(world.config, episode_days=span, max_sessions=math.ceil(
        world.config.max_sessions * span / world.config.episode_days)), world.world_seed)
    days = np.asarray([len({int(rec.start_h // 24) for rec in ep}) for ep in play(long)], float)
    ev = float(np.mean([r.effective_view for r in rs]))
    return {
        "effective_view_rate": ev,
        "like_rate": float(np.mean([r.like for r in rs])),
        "hate_rate": float(np.mean([r.hate for r in rs])),
        "mean_depth": float(np.mean(depths)), "median_depth": float(np.median(depths)),
        "sessions_per_episode": float(np.mean([len(ep) for ep in eps])),
        "episode_days": world.config.episode_days,
        "random_effective_view_rate": float(np.mean(random_ev)),
        "feed_lift_effective_view": ev / float(np.mean(random_ev)),
        "active_days": {"days": span, "mean": float(days.mean()), "p10": float(np.percentile(days, 10)),
                        "p50": float(np.median(days)), "p90": float(np.percentile(days, 90))},
        "kuairand": target,
        "impressions": float(len(rs)),
    }
