"""Calibrating the real-catalog world against KuaiRand's rates, and measuring how close it is.

Two targets, both from real logs:

* **random exposure** — the random-exposure log's long_view / is_like / is_click rates, overall and
  by duration bucket, video type, music type and user activity. The world's counterpart: users
  drawn like the log's rows play server-ordered sessions; at every position, videos drawn like the
  log's rows are *probed*: their exact response probabilities in the user's current state (the
  state a randomly inserted video meets) are averaged, without showing them.
* **recommended pages** — KuaiRand-Pure's standard-feed rates (``STANDARD_FEED``, from the data
  README: 1,436,609 rows), against the exact probabilities of what the world's server shows, on
  users drawn uniformly from the 27,285-user table.

The gap between the two is the value of personalisation the world has to contain.

``fit`` is a damped fixed-point iteration on logit residuals (all measurements use common random
numbers, so each step is deterministic): the global ``ev_bias`` matches the overall random
long-view rate; each group's offset matches its rate relative to the overall one (group targets
are shrunk toward the overall rate by ``prior_rows`` pseudo-rows, so a 5-row level does not get
an infinite offset); ``personalisation`` scales the user-specific affinity terms until the server's
long-view rate matches; ``like_bias`` / ``like_slope`` solve the 2×2 linearised system for the
random and server like rates; ``watch_ratio_slope`` matches the random valid-play rate. The
standard feed's click rate is not fit: it is reported as a check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import numpy as np

from device_runtime.sim import kuairand_tables as T
from device_runtime.sim.kuairand_world import KuaiRandCalibration, KuaiRandWorld
from device_runtime.sim.rollout import run_session

#: KuaiRand-Pure standard-feed label rates (data README, 1,436,609 rows).
STANDARD_FEED: Final = {"long_view": 0.3318, "is_like": 0.0185, "is_click": 0.4597}
LABELS: Final = ("long_view", "is_like", "is_click")
FAMILIES: Final = {
    "duration": T.DURATION_BUCKETS,
    "video_type": T.TYPE_GROUPS,
    "music_type": T.MUSIC_GROUPS,
    "activity": T.ACTIVITY_GROUPS,
}
_OFFSET_FIELD: Final = {"duration": "duration_offsets", "video_type": "type_offsets",
                        "music_type": "music_offsets", "activity": "activity_offsets"}


@dataclass(frozen=True)
class MeasureConfig:
    """How much simulation one measurement of the world uses."""

    random_sessions: int = 300
    """Server-ordered sessions of log-like users in which random videos are probed."""
    probes_per_step: int = 16
    """Random videos probed at every position of those sessions."""
    server_sessions: int = 400
    """Server-ordered sessions of users drawn uniformly from the user table."""
    seed: int = 0
    """Run seed (users, probes, session streams)."""


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _groups(log: T.RandomLog, videos: T.VideoTable, users: T.UserTable) -> dict[str, np.ndarray]:
    """Group level of every log row (-1 where a table lacks the row's id)."""
    d = np.where(log.duration_ms > 0, log.duration_ms / 1000.0, np.nan)
    vrow, urow = videos.rows_of(log.video_id), users.rows_of(log.user_id)
    return {
        "duration": T.duration_bucket(d),
        "video_type": np.where(vrow >= 0, videos.type_group[vrow], -1),
        "music_type": np.where(vrow >= 0, videos.music_group[vrow], -1),
        "activity": np.where(urow >= 0, users.activity_group[urow], -1),
    }


def data_rates(log: T.RandomLog, videos: T.VideoTable, users: T.UserTable) -> dict:
    """Rates of the random-exposure log: overall and per group level, with row counts."""
    labels = {"long_view": log.long_view, "is_like": log.is_like, "is_click": log.is_click}
    out: dict = {"overall": {"n": log.n, **{k: float(v.mean()) for k, v in labels.items()}}}
    for fam, idx in _groups(log, videos, users).items():
        out[fam] = {}
        for g, name in enumerate(FAMILIES[fam]):
            m = idx == g
            out[fam][name] = {"n": int(m.sum()),
                              **{k: float(v[m].mean()) if m.any() else float("nan") for k, v in labels.items()}}
    return out


def measure(world: KuaiRandWorld, log: T.RandomLog, cfg: MeasureConfig = MeasureConfig()) -> dict:
    """The world's random-exposure rates (same layout as ``data_rates``) and its server rates."""
    cat, v, wc = world.catalog, world.videos, world.config
    # Log rows → table rows (the world's user and catalog indices); rows that miss a join are left out.
    urow, vrow = world.users.rows_of(log.user_id), v.rows_of(log.video_id)
    ok = (urow >= 0) & (vrow >= 0)
    urow, vrow = urow[ok], vrow[ok]
    if urow.size == 0:
        raise ValueError("no log row joins the world's user and video tables")
    user_rows = np.random.default_rng([cfg.seed, 0xCA1]).integers(0, urow.size, cfg.random_sessions)
    sums = {fam: np.zeros((len(names), 4)) for fam, names in FAMILIES.items()}  # n, ev, like, click
    logits: list[float] = []
    personal: list[float] = []  # the user-specific affinity terms of each probe
    for s in range(cfg.random_sessions):
        user = int(urow[user_rows[s]])
        act = int(world.users.activity_group[user])
        rng = np.random.default_rng([cfg.seed, 0xCA1, s])  # probes of session s: same in every world

        def probe(state, sess, act=act, rng=rng):
            vids = vrow[rng.integers(0, vrow.size, cfg.probes_per_step)]
            p = np.array([sess._probs(sess.state, int(x))[:2] for x in vids])
            click = world.click_probability(p[:, 0], vids)
            rows = np.column_stack([np.ones(len(vids)), p, click])
            logits.extend(np.log(p[:, 0] / (1 - p[:, 0])))
            topic = cat.topic[vids]
            personal.extend(wc.w_interest * np.clip(np.log(wc.n_topics * sess.interest[topic]), -3, 1.5))
            bucket = T.duration_bucket(np.where(np.isnan(v.duration_s[vids]), np.nan, cat.duration_s[vids]))
            for fam, idx in (("duration", bucket), ("video_type", v.type_group[vids]),
                             ("music_type", v.music_group[vids])):
                np.add.at(sums[fam], idx, rows)
            sums["activity"][act] += rows.sum(axis=0)
            return 0

        run_session(world, world.new_session(cfg.seed, s, user_id=user), probe, record=False)
    total = sums["duration"].sum(axis=0)
    out: dict = {"unjoined_log_rows": int((~ok).sum()), "overall": {"n": int(total[0]), **dict(zip(LABELS, (total[1:] / total[0]).tolist(), strict=True))},
                 "mean_logit": float(np.mean(logits)), "mean_personal": float(np.mean(personal))}
    for fam, arr in sums.items():
        out[fam] = {name: {"n": int(a[0]), **dict(zip(LABELS, (a[1:] / max(a[0], 1)).tolist(), strict=True))}
                    for name, a in zip(FAMILIES[fam], arr, strict=True)}
    out["server"] = server_rates(world, cfg.server_sessions, cfg.seed + 1)
    return out


def server_rates(world: KuaiRandWorld, sessions: int, seed: int) -> dict:
    """Exact expected rates of what the server shows (users uniform over the user table)."""
    ev, like, click, logit, depth = [], [], [], [], []
    for s in range(sessions):
        imps = run_session(world, world.new_session(seed, s), record=True)
        depth.append(len(imps))
        p = np.array([(i.response.p_ev, i.response.p_like) for i in imps])
        vids = np.array([i.video for i in imps])
        ev.extend(p[:, 0])
        like.extend(p[:, 1])
        click.extend(world.click_probability(p[:, 0], vids))
        logit.extend(np.log(p[:, 0] / (1 - p[:, 0])))
    return {"long_view": float(np.mean(ev)), "is_like": float(np.mean(like)),
            "is_click": float(np.mean(click)), "mean_logit": float(np.mean(logit)),
            "mean_depth": float(np.mean(depth)), "impressions": len(ev)}


def _shrunk(level: dict, overall: dict, label: str, prior_rows: float) -> float:
    return (level[label] * level["n"] + overall[label] * prior_rows) / (level["n"] + prior_rows) \
        if level["n"] else overall[label]


def fit_step(cal: KuaiRandCalibration, data: dict, world_m: dict, damping: float = 0.7,
             prior_rows: float = 50.0) -> KuaiRandCalibration:
    """One damped fixed-point update of every calibrated parameter (see the module docstring)."""
    lv = "long_view"
    d_all, w_all = data["overall"], world_m["overall"]
    srv = world_m["server"]
    gap_target = _logit(STANDARD_FEED[lv]) - _logit(d_all[lv])
    gap_have = _logit(srv[lv]) - _logit(w_all[lv])
    factor = (gap_target / max(gap_have, 1e-3)) ** damping
    # Scaling the personal terms by `factor` moves random probes by (factor - 1) · their mean
    # personal term; ev_bias takes that back in the same step so the two do not fight.
    coupling = (factor - 1.0) * world_m["mean_personal"]
    changes: dict = {"ev_bias": cal.ev_bias - coupling + damping * (_logit(d_all[lv]) - _logit(w_all[lv])),
                     "personalisation": cal.personalisation * factor}
    for fam, names in FAMILIES.items():
        offsets = list(getattr(cal, _OFFSET_FIELD[fam]))
        for g, name in enumerate(names):
            if world_m[fam][name]["n"] == 0:
                continue
            target = _logit(_shrunk(data[fam][name], d_all, lv, prior_rows)) - _logit(d_all[lv])
            have = _logit(world_m[fam][name][lv]) - _logit(w_all[lv])
            offsets[g] += damping * (target - have)
        # Offsets are relative to ev_bias: centre them (data-row weights) so only ev_bias shifts all.
        weights = np.array([data[fam][name]["n"] for name in names], dtype=np.float64)
        centre = float(np.dot(weights, offsets) / max(weights.sum(), 1.0))
        changes[_OFFSET_FIELD[fam]] = tuple(float(o - centre) for o in offsets)
    # like: logit residuals at the random and the server operating points → (Δbias, Δslope)
    r_rand = _logit(d_all["is_like"]) - _logit(w_all["is_like"])
    r_srv = _logit(STANDARD_FEED["is_like"]) - _logit(srv["is_like"])
    a_rand, a_srv = world_m["mean_logit"], srv["mean_logit"]
    d_slope = (r_srv - r_rand) / max(a_srv - a_rand, 1e-3)
    changes["like_slope"] = cal.like_slope + damping * d_slope
    changes["like_bias"] = cal.like_bias + damping * (r_rand - d_slope * a_rand)
    # click: the shift log(18/7)/slope moves the random valid-play logit one for one
    shift = math.log(18 / 7) / cal.watch_ratio_slope
    shift += damping * (_logit(d_all["is_click"]) - _logit(w_all["is_click"]))
    changes["watch_ratio_slope"] = math.log(18 / 7) / max(shift, 1e-3)
    return replace(cal, **changes)


def fit(data_dir: str | Path, start: KuaiRandCalibration | None = None, iterations: int = 12,
        cfg: MeasureConfig = MeasureConfig(), world_seed: int = 0, log_path: str | Path | None = None,
        progress=None) -> tuple[KuaiRandCalibration, dict]:
    """Iterate ``fit_step`` from ``start``; returns the calibration and its final measurement."""
    log, videos, users = load_targets(data_dir, log_path)
    data = data_rates(log, videos, users)
    cal = start or KuaiRandCalibration()
    for it in range(iterations):
        world = KuaiRandWorld(data_dir, cal, world_seed)
        m = measure(world, log, cfg)
        if progress:
            progress(it, cal, m)
        cal = fit_step(cal, data, m)
    final = measure(KuaiRandWorld(data_dir, cal, world_seed), log, cfg)
    return cal, final


def load_targets(data_dir: str | Path, log_path: str | Path | None = None
                 ) -> tuple[T.RandomLog, T.VideoTable, T.UserTable]:
    data_dir = Path(data_dir)
    log = T.read_log(log_path or data_dir / T.LOG_FILE)
    return log, T.read_videos(data_dir), T.read_users(data_dir)


def comparison(data: dict, world_m: dict) -> list[dict]:
    """Flat rows (target, group, level, label, data rate, its 95% CI, rows, world rate)."""
    rows = []
    for label in LABELS:
        rows.append({"target": "standard feed", "family": "overall", "level": "all", "label": label,
                     "data": STANDARD_FEED[label], "ci95": 0.0, "n": 1436609,
                     "world": world_m["server"][label]})
    for fam in ("overall", *FAMILIES):
        levels = {"all": data["overall"]} if fam == "overall" else data[fam]
        wl = {"all": world_m["overall"]} if fam == "overall" else world_m[fam]
        for level, d in levels.items():
            for label in LABELS:
                p, n = d[label], d["n"]
                ci = 1.96 * math.sqrt(p * (1 - p) / n) if n else float("nan")
                rows.append({"target": "random exposure", "family": fam, "level": level, "label": label,
                             "data": p, "ci95": ci, "n": n, "world": wl[level][label]})
    return rows
