"""The policy table (HAC's Table 2 format): every algorithm trained with several seeds on the
training world, evaluated on held-out world seeds next to the ranker's strategies, on the same
users (paired sessions), total reward and depth as mean ± 95% CI.

Evaluation sessions are ``world.new_session(0, i)`` of each held-out world, the same for every
row, so paired differences (HAC − DDPG, HAC − SL) compare the same users; seed j of one algorithm
is paired with seed j of another. Every row plays the same ``FeedEnv`` (depth cap, paging).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device_runtime.sim.policy_env import EnvConfig
from device_runtime.sim.world_stats import CI_NORMAL, CI_STUDENT_T, mean_ci95, mean_ci95_t
from training.policy import common as U

ALGOS = ("hac", "ddpg", "sl", "reinforce_topk")
RANKER_STRATEGIES = ("server", "greedy", "adaptive_beam")
METRICS = ("total_reward", "depth")
#: default update budgets of the table (each a few tens of seconds on 2 cores)


@dataclass(frozen=True)
class TableConfig:
    """What the table trains and evaluates."""

    algos: tuple[str, ...] = ALGOS
    """Algorithms to train."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Training seeds per algorithm (>= 3 for the table's claim)."""
    steps: int | None = None
    """Updates per training run; None = each algorithm's own default (``default_steps``)."""
    world: str = "synthetic"
    """World law of training and evaluation: synthetic (= synthetic-legacy) or synthetic-long-term,
    where a row's total reward is per user-week (episode)."""
    eval_worlds: tuple[int, ...] = (1001, 1002, 1003)
    """Held-out world seeds (catalog and users never seen in training)."""
    eval_sessions: int = 100
    """Evaluation sessions per held-out world."""
    artifact: Path | None = None
    """Ranker artifact for the ranker strategies (and policy export); None = server order only."""
    strategies: tuple[str, ...] = RANKER_STRATEGIES
    """Ranker strategies to evaluate (need ``artifact`` except ``server``)."""
    policy_beam: bool = True
    """Export each HAC seed into a copy of the artifact and evaluate ``policy`` (TFLite) and
    ``policy_beam`` too."""
    beam_lambda: float = 0.5
    """λ of the policy-guided beam search."""
    slate: int = 1
    """n: videos per action."""
    depth_cap: int = 50
    """Episode length cap."""
    oracles: bool = True
    """Also evaluate ``oracle_myopic`` and ``oracle_lookahead`` (the world's true model and hidden
    state: the ceiling rows; slate 1 only)."""
    log_sessions: int = 600
    """Logged sessions for the offline learners (sl, reinforce_topk)."""
    extra: dict = field(default_factory=dict)
    """Per-algorithm Args overrides: {algo: {field: value}}."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.algos) - set(ALGOS))
        if unknown:
            raise ValueError(f"`algos` must be among {ALGOS}, got {unknown}")
        if not self.seeds:
            raise ValueError("`seeds` must name at least one seed, got none")
        if self.eval_sessions < 2:
            raise ValueError(f"`eval_sessions` must be >= 2, got {self.eval_sessions}")
        if self.artifact is None and set(self.strategies) - {"server"}:
            raise ValueError(f"`strategies` {sorted(set(self.strategies) - {'server'})} need a ranker `artifact`")


def algo_module(name: str):
    from training.policy import ddpg, hac, reinforce_topk, sl

    return {"hac": hac, "ddpg": ddpg, "sl": sl, "reinforce_topk": reinforce_topk}[name]


def default_steps(algo: str) -> int:
    """Gradient updates an algorithm trains for by default: its ``Args.steps`` (one source of truth)."""
    return int(algo_module(algo).Args.steps)


def make_args(algo: str, seed: int, steps: int, cfg: TableConfig, progress: bool):
    mod = algo_module(algo)
    kw = dict(seed=seed, steps=steps, slate=cfg.slate, depth_cap=cfg.depth_cap, progress=progress, world=cfg.world,
              eval_every=max(steps // 4, 1), eval_sessions=32)
    if algo in ("sl", "reinforce_topk"):
        kw["log_sessions"] = cfg.log_sessions
    kw.update(cfg.extra.get(algo, {}))
    return mod.Args(**kw)


def evaluate_on_worlds(rule: U.BatchRule, cfg: TableConfig, env_cfg: EnvConfig) -> dict[str, np.ndarray]:
    """Per-session outcomes over every held-out world, concatenated in (world, session) order."""
    parts = [U.evaluate(rule, U.world_for(w, cfg.world), env_cfg, cfg.eval_sessions) for w in cfg.eval_worlds]
    return {name: np.concatenate([getattr(p, name) for p in parts]) for name in U.EvalResult._fields}


def reranker_rule(reranker, strategy: str, slate: int) -> U.BatchRule:
    """A rule that asks the device runtime's ``Reranker`` for every row (a fallback serves the
    server order, as on the device)."""

    def rule(obs):
        out = np.zeros((obs["cand_mask"].shape[0], slate), np.int64)
        for i in range(out.shape[0]):
            r = reranker.rerank_page({k: v[i] for k, v in obs.items()}, strategy)
            order = np.asarray(r.order)
            out[i, : min(slate, order.size)] = order[:slate]
        return out

    return rule


def _row(values: list[dict[str, np.ndarray]], kind: str, wall_s: float, extra: dict | None = None) -> dict:
    """Aggregate a row: pooled per-session mean ± 95% CI (normal), per-seed means ± 95% CI
    (Student's t, df = seeds − 1)."""
    row: dict = {"kind": kind, "seeds": len(values), "wall_s": wall_s, **(extra or {})}
    for m in METRICS + ("effective_views", "likes"):
        pooled = np.concatenate([v[m] for v in values])
        mean, ci = mean_ci95(pooled)
        seed_means = [float(v[m].mean()) for v in values]
        s_mean, s_ci = mean_ci95_t(np.asarray(seed_means))
        row[m] = {"mean": mean, "ci95": ci, "seed_means": seed_means, "seed_ci95": s_ci, "n_sessions": int(pooled.size)}
    return row


def paired(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]], metric: str) -> dict:
    """a − b per session (seed j with seed j; a single-run row pairs with every seed)."""
    n = max(len(a), len(b))
    per_seed = [a[j % len(a)][metric] - b[j % len(b)][metric] for j in range(n)]
    diffs = np.concatenate(per_seed)
    mean, ci = mean_ci95(diffs)
    seed_means = [float(d.mean()) for d in per_seed]
    s_mean, s_ci = mean_ci95_t(np.asarray(seed_means))
    return {"mean": mean, "ci95": ci, "n": int(diffs.size),
            "seed_means": seed_means, "seed_mean": s_mean, "seed_ci95": s_ci}


def run_table(cfg: TableConfig, out_dir: str | Path, *, progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Train, evaluate, and write ``policy_table.json`` and ``policy_table.md`` to ``out_dir``."""
    from device_runtime.reranker import Reranker

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env_cfg = EnvConfig(slate=cfg.slate, depth_cap=cfg.depth_cap)
    t_all = time.perf_counter()
    results: dict[str, list[dict[str, np.ndarray]]] = {}
    rows: dict[str, dict] = {}
    runs: dict[str, list[Path]] = {}

    # ---- the ranker's strategies (one run each: nothing to seed) ----------------------------------------
    reranker = Reranker(cfg.artifact) if cfg.artifact is not None else None
    for strat in cfg.strategies:
        t0 = time.perf_counter()
        if strat == "server" and reranker is None:
            def rule(obs):
                return np.zeros((obs["cand_mask"].shape[0], cfg.slate), np.int64)
        else:
            rule = reranker_rule(reranker, strat, cfg.slate)
        results[strat] = [evaluate_on_worlds(rule, cfg, env_cfg)]
        rows[strat] = _row(results[strat], "ranker strategy", time.perf_counter() - t0,
                           {"fallbacks": dict(reranker.fallbacks) if reranker else {}})
        log(f"[policy-table] {strat}: total reward {rows[strat]['total_reward']['mean']:.3f}")

    # ---- the ceiling: the world's own oracles (hidden state) --------------------------------------------
    if cfg.oracles and cfg.slate == 1:
        from device_runtime.sim.headroom import LookaheadOracle, MyopicOracle, typical_session

        for name in ("oracle_myopic", "oracle_lookahead"):
            t0 = time.perf_counter()
            parts = []
            for w in cfg.eval_worlds:
                world = U.world_for(w, cfg.world)
                choose = MyopicOracle() if name == "oracle_myopic" else LookaheadOracle(typical_session(world))
                parts.append(U.evaluate_hidden(choose, world, env_cfg, cfg.eval_sessions))
            results[name] = [{m: np.concatenate([getattr(p, m) for p in parts]) for m in U.EvalResult._fields}]
            rows[name] = _row(results[name], "oracle (world's true model)", time.perf_counter() - t0,
                              {"uses_hidden_state": True})
            log(f"[policy-table] {name}: total reward {rows[name]['total_reward']['mean']:.3f}")

    # ---- the policies --------------------------------------------------------------------------------
    for algo in cfg.algos:
        steps = cfg.steps or default_steps(algo)
        results[algo], runs[algo], train_s, params = [], [], 0.0, 0
        for seed in cfg.seeds:
            t0 = time.perf_counter()
            run_dir = out / "runs" / f"{algo}_seed{seed}"
            model, _ = algo_module(algo).train(make_args(algo, seed, steps, cfg, progress), run_dir)
            train_s += time.perf_counter() - t0
            params = int(model.count_params())
            results[algo].append(evaluate_on_worlds(U.greedy_rule(U.Actor(model, 64), cfg.slate), cfg, env_cfg))
            runs[algo].append(run_dir)
            log(f"[policy-table] {algo} seed {seed}: total reward {results[algo][-1]['total_reward'].mean():.3f} "
                f"({time.perf_counter() - t0:.0f} s)")
        rows[algo] = _row(results[algo], "policy (Keras, greedy top-n)", train_s,
                          {"steps": steps, "params": params, "runs": [str(p) for p in runs[algo]]})

    # ---- the exported HAC policy on the device runtime, and policy-guided beam search ----------------
    if cfg.policy_beam and cfg.artifact is not None and "hac" in runs:
        from device_runtime.reranker import Reranker
        from export.policy_export import PolicyExportConfig, export_policy

        for strat in ("policy", "policy_beam"):
            results[strat] = []
        t_dev = {"policy": 0.0, "policy_beam": 0.0}
        for run_dir in runs["hac"]:
            tmp = Path(tempfile.mkdtemp(prefix="policy_table_art_"))
            try:
                for f in Path(cfg.artifact).iterdir():
                    if f.is_file():
                        shutil.copy2(f, tmp / f.name)
                export_policy(run_dir, tmp, PolicyExportConfig(beam_lambda=cfg.beam_lambda, sample_pages=16),
                              log=lambda *a: None)
                rr = Reranker(tmp)
                for strat in ("policy", "policy_beam"):
                    t0 = time.perf_counter()
                    results[strat].append(evaluate_on_worlds(reranker_rule(rr, strat, cfg.slate), cfg, env_cfg))
                    t_dev[strat] += time.perf_counter() - t0
                fb = dict(rr.fallbacks)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        rows["policy"] = _row(results["policy"], "hac exported (policy.tflite via the device runtime)",
                              t_dev["policy"], {"fallbacks": fb})
        rows["policy_beam"] = _row(results["policy_beam"], f"policy-guided beam search (λ = {cfg.beam_lambda:g})",
                                   t_dev["policy_beam"], {"fallbacks": fb})

    # ---- paired comparisons ----------------------------------------------------------------------------
    comparisons = {}
    for a, b in (("hac", "ddpg"), ("hac", "sl"), ("hac", "reinforce_topk"), ("sl", "greedy"),
                 ("hac", "server"), ("policy_beam", "adaptive_beam"), ("policy", "hac"),
                 ("oracle_lookahead", "oracle_myopic"), ("oracle_myopic", "greedy")):
        if a in results and b in results:
            comparisons[f"{a} - {b}"] = {m: paired(results[a], results[b], m) for m in METRICS}
    report = {
        "config": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()},
                   "steps_per_algo": {a: cfg.steps or default_steps(a) for a in cfg.algos}},
        "rows": rows, "paired": comparisons, "wall_s": time.perf_counter() - t_all,
        "intervals": {"ci95": CI_NORMAL, "seed_ci95": CI_STUDENT_T},
    }
    if {"hac", "sl", "oracle_myopic", "oracle_lookahead"} <= set(rows):
        gap = rows["oracle_lookahead"]["total_reward"]["mean"] - rows["oracle_myopic"]["total_reward"]["mean"]
        won = rows["hac"]["total_reward"]["mean"] - rows["sl"]["total_reward"]["mean"]
        report["headroom_captured"] = won / gap if gap else float("nan")  # (HAC − SL) / (lookahead − myopic)
    (out / "policy_table.json").write_text(json.dumps(report, indent=2, default=_json_default))
    (out / "policy_table.md").write_text(format_table(report) + "\n")
    return report


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _pm(mean: float, ci: float, sign: bool = False) -> str:
    """``mean ± ci``; a single seed has no interval (``n/a``)."""
    m = f"{mean:+.3f}" if sign else f"{mean:.3f}"
    return f"{m} ± {ci:.3f}" if np.isfinite(ci) else f"{m} (one seed: no interval)"


def format_table(report: dict) -> str:
    c = report["config"]
    unit = "users (a week of sessions each; totals per user)" if c.get("world") == "synthetic-long-term" \
        else "sessions"
    lines = [f"World {c.get('world', 'synthetic')}: held-out worlds {c['eval_worlds']} × {c['eval_sessions']} "
             f"{unit} each (paired users), "
             f"depth cap {c['depth_cap']}, slate {c['slate']}; total reward and depth: mean ± 95% CI over "
             f"sessions pooled across seeds (normal); across seeds: mean of the seed means ± 95% Student's t "
             f"interval (df = seeds − 1); seed means in brackets.", "",
             "| row | kind | seeds | total reward | depth | across seeds (t) | seed means (total reward) |",
             "|---|---|---|---|---|---|---|"]
    for name, r in report["rows"].items():
        tr, dp = r["total_reward"], r["depth"]
        seeds = ", ".join(f"{v:.2f}" for v in tr["seed_means"])
        lines.append(f"| {name} | {r['kind']} | {r['seeds']} | {tr['mean']:.3f} ± {tr['ci95']:.3f} "
                     f"| {dp['mean']:.2f} ± {dp['ci95']:.2f} | {_pm(np.mean(tr['seed_means']), tr['seed_ci95'])} "
                     f"| [{seeds}] |")
    if report["paired"]:
        lines += ["", "| paired difference | total reward (per session) | depth | total reward across seeds (t) |",
                  "|---|---|---|---|"]
        for pair, d in report["paired"].items():
            t = d["total_reward"]
            lines.append(f"| {pair} | {t['mean']:+.3f} ± {t['ci95']:.3f} "
                         f"| {d['depth']['mean']:+.2f} ± {d['depth']['ci95']:.2f} "
                         f"| {_pm(t.get('seed_mean', float('nan')), t.get('seed_ci95', float('nan')), sign=True)} |")
    lines += ["", f"wall {report['wall_s']:.0f} s; updates per run {c['steps_per_algo']}"]
    return "\n".join(lines)
