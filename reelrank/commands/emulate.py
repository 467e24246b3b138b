"""`reelrank emulate` (paired sessions through the device runtime) and `reelrank logs-from-events`
(an event log replayed into a training log). `emulate` is TensorFlow-free; `logs-from-events`
imports `training` (pyarrow) inside its handler only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reelrank.cli import _world_args, command, config_arg, csv_words, load_world, world_meta


def _emulate_args(p: argparse.ArgumentParser) -> None:
    from device_runtime.sim.emulator import EmulatorConfig

    p.add_argument("--artifact", type=Path, required=True, help="artifact directory (reelrank export)")
    config_arg(p, "--sessions", EmulatorConfig, type=int,
               help="paired sessions per strategy (users, each a week of sessions, in a multi-session world)")
    config_arg(p, "--seed", EmulatorConfig, type=int, help="run seed: users and random streams")
    config_arg(p, "--strategies", EmulatorConfig, type=csv_words,
               help="comma-separated: server, greedy, beam, adaptive_beam, python_beam, policy, policy_beam")
    p.add_argument("--json", type=Path, default=None, help="write the report as JSON (and a PNG next to it)")
    p.add_argument("--png", type=Path, default=None, help="plot path (default: the --json path with .png)")
    p.add_argument("--events", type=Path, default=None, help="append every session's events to this log")
    p.add_argument("--fsync", choices=("event", "session", "never"), default="session",
                   help="event-log fsync policy (default session; every event is always flushed)")
    p.add_argument("--threads", type=int, default=1, help="interpreter threads (default 1)")
    p.add_argument("--no-like-trigger", action="store_true", help="do not rerank on likes")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _world_args(p, long_term=True)


def _plot(summary: dict, path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed (pip install '.[plot]'): no PNG written"
    names = list(summary["strategies"])
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, metric in zip(axes[:2], ("total_reward", "likes"), strict=True):
        s = summary["strategies"]
        ax.bar(names, [s[n][metric]["mean"] for n in names], yerr=[s[n][metric]["ci95"] for n in names], capsize=4)
        ax.set_title(f"{metric.replace('_', ' ')} per session (mean ± 95% CI)")
        ax.tick_params(axis="x", rotation=20)
    pairs = list(summary["paired"])
    d = summary["paired"]
    axes[2].barh(pairs, [100 * d[p]["total_reward"]["relative"] for p in pairs],
                 xerr=[100 * d[p]["total_reward"]["relative_ci95"] for p in pairs], capsize=3)
    axes[2].axvline(0, color="k", lw=0.8)
    axes[2].set_title("paired Δ total reward (%, 95% CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"wrote {path}"


@command("emulate", "run paired simulated sessions through the device runtime and compare strategies",
         _emulate_args, stage="device")
def _emulate(args: argparse.Namespace) -> int:
    import time

    from device_runtime.events import EventLog
    from device_runtime.litert import runtime_name
    from device_runtime.reranker import Reranker, RerankerConfig
    from device_runtime.sim.emulator import EmulatorConfig, format_table, run_emulator, summarize
    from device_runtime.triggers import TriggerConfig

    try:
        cfg = EmulatorConfig(sessions=args.sessions, seed=args.seed, strategies=tuple(args.strategies),
                             triggers=TriggerConfig(on_like=not args.no_like_trigger))
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    world = load_world(args)
    reranker = Reranker(args.artifact, RerankerConfig(threads=args.threads))
    if not reranker.ok:
        print(f"warning: artifact unusable ({reranker.error.value}: {reranker.error_message}); "
              "every model strategy serves the server order", file=sys.stderr)
    log = EventLog(args.events, args.fsync) if args.events else None
    t0 = time.perf_counter()
    try:
        runs = run_emulator(world, reranker, cfg, log=log, progress=not args.quiet)
    finally:
        if log is not None:
            log.close()
    wall = time.perf_counter() - t0
    summary = summarize(runs)
    p = reranker.params
    report = {
        **summary,
        "world": world_meta(args, world),
        "sessions": args.sessions,
        "seed": args.seed,
        "artifact": {"path": str(args.artifact), "ok": reranker.ok,
                     "error": None if reranker.ok else reranker.error.value,
                     "alpha": p.alpha, "beta": p.beta, "threshold": p.threshold, "n_show": p.n_show,
                     "beam_size": p.beam_size, "l_max": p.l_max},
        "runtime": {"interpreter": runtime_name(), "threads": args.threads, "wall_s": wall},
    }
    unit = "users (episodes of sessions: totals per episode)" if summary["strategies"] and \
        "sessions_per_episode" in next(iter(summary["strategies"].values())) else "sessions"
    print(f"\n{args.sessions} paired {unit} per strategy, seed {args.seed}, world "
          f"{report['world']['world']} (world seed {report['world']['world_seed']}); "
          f"total reward = {p.alpha:g}·effective views + {p.beta:g}·likes\n")
    print(format_table(summary))
    tput = ", ".join(f"{n} {s['watch_events_per_cpu_s']:,.0f}" for n, s in summary["strategies"].items())
    print(f"\nwatch events per CPU-second (rerank included): {tput}; wall {wall:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}; " + _plot(summary, args.png or args.json.with_suffix(".png")))
    elif args.png:
        print(_plot(summary, args.png))
    return 0


# -- logs-from-events -----------------------------------------------------------------------------
def _logs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=Path, required=True, help="an event log (reelrank emulate --events, or a device)")
    p.add_argument("--out", type=Path, required=True, help="output Parquet log (the simulate-logs format)")
    p.add_argument("--strategy", default=None, help="only sessions served by this strategy")
    p.add_argument("--max-steps", type=int, default=6, help="L_max (prefix holds L_max - 1; default 6)")
    p.add_argument("--m-max", type=int, default=16, help="M_max of the replayed cache snapshots (default 16)")


def log_arrays_from_sessions(sessions, l_max: int):
    """``training.data.synthetic_logs.log_arrays_from_sessions`` (the one row builder)."""
    from training.data.synthetic_logs import log_arrays_from_sessions as build

    return build(sessions, l_max)


@command("logs-from-events", "replay an event log into a training log (Parquet, as simulate-logs writes)",
         _logs_args, stage="device")
def _logs_from_events(args: argparse.Namespace) -> int:
    from device_runtime.events import ReadReport, group_sessions, read_events
    from device_runtime.session import SessionState
    from device_runtime.sim.replay import replay_session
    from training.data.synthetic_logs import label_rates, write_parquet

    if not args.events.exists():
        raise SystemExit(f"error: --events {args.events} does not exist")
    rep = ReadReport()
    sessions = [s for s in group_sessions(read_events(args.events, rep))
                if args.strategy is None or s.start.get("strategy") == args.strategy]
    replayed = []
    states: dict = {}  # (strategy, user index) -> the device state a multi-session user's last session left
    for ordinal, se in enumerate(sessions):
        st = se.start
        part, key = int(st.get("part", 0)), (st.get("strategy"), st.get("index"))
        if part and key not in states:
            raise SystemExit(f"error: --events has session {part} of user {key[1]} ({key[0]}) without its "
                             f"earlier sessions; a multi-session user's sessions are replayed in order")
        state = states[key] if part else SessionState(int(st.get("n_history", 8)), float(st.get("network", 1.0)))
        imps = replay_session(se, args.m_max, state=state)
        states[key] = state
        index = int(st.get("log_index", st.get("index", ordinal)))  # simulate-logs' ids: s + k·users
        session_id = index if "log_index" in st else ordinal
        replayed.append((int(st.get("user_id", -1)), session_id, int(st.get("seed", 0)), index, imps))
    logs = log_arrays_from_sessions(replayed, args.max_steps)
    seeds = sorted({int(s.start.get("seed", 0)) for s in sessions})
    world_seeds = sorted({int(s.start.get("world_seed", 0)) for s in sessions})
    n_hist = sorted({int(s.start.get("n_history", 8)) for s in sessions}) or [8]
    meta = {"world": "events", "events": str(args.events), "strategy": args.strategy, "seed": seeds,
            "world_seed": world_seeds, "sessions": len(sessions), "n_history": n_hist[0], "l_max": args.max_steps,
            "incomplete_sessions": sum(not s.complete for s in sessions),
            "skipped_lines": {"torn_tail": rep.torn_tail, "corrupt": rep.corrupt_lines[:100]}}
    write_parquet(logs, args.out, meta)
    print(json.dumps({"out": str(args.out), "events": rep.events, "torn_tail": rep.torn_tail,
                      "corrupt_lines": len(rep.corrupt_lines), "sessions": len(sessions),
                      **{k: round(v, 4) for k, v in label_rates(logs).items()}}))
    return 0
