"""The emulator: paired simulated sessions through the device runtime, one strategy at a time.

Session ``i`` of every strategy is ``world.new_session(seed, i)`` — the same user, intent path
and per-position uniforms — so strategies differ only in what the device chose to show (common
random numbers), and paired differences have tight confidence intervals. Each session runs
``rollout.run_session`` with a ``DeviceFeed``: server paging (9 per request, a request every 6
consumed), triggers, reranks through the artifact, feedback, and optionally the event log.

``oracle_myopic`` and ``oracle_lookahead`` (``device_runtime.sim.headroom``) may be listed beside
the device strategies: they rank with the world's true model and hidden state (no artifact, no
device, no event log; synthetic worlds only) and are marked ``"uses_hidden_state": true`` — the
ceiling every learned strategy is measured against.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from device_runtime.events import EventLog
from device_runtime.feed import DeviceFeed, SessionMetrics
from device_runtime.reranker import Reranker
from device_runtime.session import PagingConfig
from device_runtime.sim.rollout import episode_sessions, run_session
from device_runtime.sim.world_stats import CI_NORMAL, mean_ci95, ratio_ci95
from device_runtime.strategies import get_strategy
from device_runtime.triggers import TriggerConfig

METRICS = ("depth", "effective_views", "likes", "total_reward")


@dataclass(frozen=True)
class EmulatorConfig:
    """What to emulate."""

    sessions: int = 2000
    """Paired sessions per strategy."""
    seed: int = 0
    """Run seed: picks users and every random stream (``world.new_session(seed, i)``)."""
    strategies: tuple[str, ...] = ("server", "greedy", "beam", "adaptive_beam")
    """Strategies to compare, in report order (paired differences are later minus earlier)."""
    triggers: TriggerConfig = field(default_factory=TriggerConfig)
    """Which events rerank the cache."""
    paging: PagingConfig | None = None
    """Client paging; None = the world's (page_size, refresh_every, cache_limit)."""

    def __post_init__(self) -> None:
        if self.sessions < 1:
            raise ValueError(f"`sessions` must be >= 1, got {self.sessions}")
        if not self.strategies or len(set(self.strategies)) != len(self.strategies):
            raise ValueError(f"`strategies` must be non-empty and distinct, got {self.strategies}")
        from device_runtime.sim.headroom import ORACLES

        for s in self.strategies:
            if s not in ORACLES:
                get_strategy(s)


@dataclass
class StrategyRun:
    """Everything measured for one strategy."""

    sessions: list[SessionMetrics] = field(default_factory=list)
    latencies_us: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    fallbacks: Counter = field(default_factory=Counter)
    triggers: Counter = field(default_factory=Counter)
    cpu_s: float = 0.0
    uses_hidden_state: bool = False
    parts: list[list[SessionMetrics]] = field(default_factory=list)  # per user: its sessions (episodes)

    def column(self, name: str) -> np.ndarray:
        return np.asarray([getattr(m, name) for m in self.sessions], dtype=np.float64)


def _oracles(world, strategies, alpha: float = 1.0, beta: float = 5.0) -> dict:
    """The hidden-state rules among ``strategies`` (the lookahead calibrated on its own users), ranking
    by the same α, β the report scores with."""
    from device_runtime.sim.headroom import (
        ORACLES,
        LookaheadOracle,
        MyopicOracle,
        PlannerConfig,
        typical_session,
    )
    from device_runtime.sim.world import SyntheticWorld

    names = [s for s in strategies if s in ORACLES]
    if names and type(world) is not SyntheticWorld:
        raise ValueError(f"`strategies` {names} need the synthetic world's true model, got {type(world).__name__}")
    out: dict = {}
    a, b = alpha, beta
    if "oracle_myopic" in names:
        out["oracle_myopic"] = MyopicOracle(a, b)
    if "oracle_lookahead" in names:
        out["oracle_lookahead"] = LookaheadOracle(typical_session(world, alpha=a, beta=b), PlannerConfig(a, b))
    return out


def run_emulator(world, reranker: Reranker, cfg: EmulatorConfig, *, log: EventLog | None = None,
                 progress: bool = True) -> dict[str, StrategyRun]:
    """Play ``cfg.sessions`` users under every strategy. In a multi-session world (``synthetic-long-
    term``) a user is an episode of sessions, the device state (history) kept across them; each
    ``StrategyRun.sessions`` entry is then one episode's totals and ``parts`` holds its sessions."""
    runs = {s: StrategyRun() for s in cfg.strategies}
    n_hist = reranker.dims.n_history
    alpha, beta = reranker.params.alpha, reranker.params.beta
    oracles = _oracles(world, cfg.strategies, alpha, beta)
    multi = bool(getattr(world.config, "multi_session", False))
    for i in tqdm(range(cfg.sessions), desc="emulate", unit="user" if multi else "session", disable=not progress):
        for name in cfg.strategies:
            run = runs[name]
            parts = (episode_sessions(world, world.new_episode(cfg.seed, i), n_hist) if multi
                     else [(0, world.new_session(cfg.seed, i), None)])
            metrics: list[SessionMetrics] = []
            for k, session, state in parts:
                t0 = time.process_time()
                if name in oracles:  # the world's true model chooses; no device in the loop
                    imps = run_session(world, session, oracles[name], paging=cfg.paging, n_history=n_hist,
                                       state=state)
                    ev = sum(m.response.effective_view for m in imps)
                    likes = sum(m.response.like for m in imps)
                    metrics.append(SessionMetrics(len(imps), ev, likes, float(alpha * ev + beta * likes), 0,
                                                  float("nan"), 0))
                    run.uses_hidden_state = True
                else:
                    feed = DeviceFeed(reranker, name, triggers=cfg.triggers, network=session.network, log=log,
                                      session_key=f"{name}/{i}" + (f"/{k}" if multi else ""),
                                      start_fields={"index": i, "seed": cfg.seed, "user_id": int(session.user_id),
                                                    "world_seed": int(getattr(world, "world_seed", 0)),
                                                    **({"part": k, "gap_s": float(state.since_last_s) if k and state else 0.0,
                                                        "log_index": i + k * cfg.sessions} if multi else {})})
                    if state is not None:
                        feed.state = state  # the episode's device: its history carries over
                    run_session(world, session, paging=cfg.paging, n_history=n_hist, record=False, feed=feed)
                    metrics.append(feed.metrics())
                    run.latencies_us.extend(feed.latencies_us)
                    run.steps.extend(feed.steps)
                    run.fallbacks.update(feed.fallback_counts)
                    run.triggers.update(feed.trigger_counts)
                run.cpu_s += time.process_time() - t0
            run.sessions.append(metrics[0] if len(metrics) == 1 and not multi else _total(metrics))
            if multi:
                run.parts.append(metrics)
    return runs


def _total(parts: list[SessionMetrics]) -> SessionMetrics:
    """One episode's totals over its sessions (mean search steps weighted by reranks)."""
    reranks = sum(m.reranks for m in parts)
    steps = [m.steps * m.reranks for m in parts if m.reranks and np.isfinite(m.steps)]
    return SessionMetrics(sum(m.depth for m in parts), sum(m.effective_views for m in parts),
                          sum(m.likes for m in parts), float(sum(m.total_reward for m in parts)), reranks,
                          float(sum(steps) / reranks) if steps and reranks else float("nan"),
                          sum(m.fallbacks for m in parts))


def _mc(x: np.ndarray) -> dict[str, float]:
    m, ci = mean_ci95(x)
    return {"mean": m, "ci95": ci}


def summarize(runs: dict[str, StrategyRun]) -> dict:
    """The report's ``strategies`` and ``paired`` sections."""
    n = min((len(r.sessions) for r in runs.values()), default=0)
    out: dict = {"strategies": {}, "paired": {}, "intervals": CI_NORMAL, "n_sessions": n}
    for name, run in runs.items():
        lat = np.asarray(run.latencies_us) if run.latencies_us else np.zeros(1)
        watched = int(run.column("depth").sum())
        out["strategies"][name] = {
            **{m: _mc(run.column(m)) for m in METRICS},
            "latency_us": {f"p{q}": float(np.percentile(lat, q)) for q in (50, 95, 99)},
            "mean_steps": float(np.mean(run.steps)) if run.steps else 0.0,
            "reranks": len(run.latencies_us),
            "fallbacks": int(sum(run.fallbacks.values())),
            "fallback_reasons": dict(run.fallbacks),
            "triggers": dict(run.triggers),
            "watch_events": watched,
            "watch_events_per_cpu_s": watched / run.cpu_s if run.cpu_s > 0 else float("nan"),
            **({"uses_hidden_state": True} if run.uses_hidden_state else {}),
        }
        if run.parts:  # a multi-session world: the metrics above are per episode (user)
            counts = np.asarray([len(ep) for ep in run.parts], np.float64)
            out["strategies"][name]["per_session"] = {  # ratio of sums over users, delta method
                m: dict(zip(("mean", "ci95"), ratio_ci95(run.column(m), counts), strict=True)) for m in METRICS}
            out["strategies"][name]["sessions_per_episode"] = float(np.mean([len(ep) for ep in run.parts]))
    for a, b in itertools.combinations(list(runs), 2):  # later minus earlier
        pair = {}
        for m in METRICS:
            d = runs[b].column(m) - runs[a].column(m)
            base = float(runs[a].column(m).mean())
            mc = _mc(d)
            pair[m] = {**mc, "relative": mc["mean"] / base if base else float("nan"),
                       "relative_ci95": mc["ci95"] / abs(base) if base else float("nan")}
        out["paired"][f"{b}-{a}"] = pair
    return out


def format_table(summary: dict) -> str:
    """Markdown tables: per strategy (mean ± 95% CI), then the paired differences."""
    rows = ["| strategy | depth | effective views | likes | total reward | latency p50 / p95 / p99 (µs) "
            "| mean steps | fallbacks |", "|---|---|---|---|---|---|---|---|"]
    for name, s in summary["strategies"].items():
        cells = [f"{s[m]['mean']:.3f} ± {s[m]['ci95']:.3f}" for m in METRICS]
        lat = s["latency_us"]
        rows.append(f"| {name} | " + " | ".join(cells)
                    + f" | {lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f} | {s['mean_steps']:.2f} "
                    f"| {s['fallbacks']} |")
    rows += ["", "| paired difference | depth | effective views | likes | total reward |", "|---|---|---|---|---|"]
    for pair, d in summary["paired"].items():
        cells = [f"{d[m]['mean']:+.3f} ± {d[m]['ci95']:.3f} ({100 * d[m]['relative']:+.2f}%)" for m in METRICS]
        rows.append(f"| {pair} | " + " | ".join(cells) + " |")
    n = summary.get("n_sessions", 0)
    unit = "users (episodes)" if any("per_session" in s for s in summary["strategies"].values()) else "sessions"
    rows += ["", f"± is the 95% normal interval over {n} {unit} (paired for differences)"
             + (f"; with fewer than 30 {unit} it is too narrow: run more." if n < 30 else ".")]
    return "\n".join(rows)
