"""`reelrank demo`: the whole pipeline that exists today on the built-in synthetic world, ending
with a summary table. Every number it prints is computed in this run."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from reelrank.cli import command


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sessions", type=int, default=400, help="sessions per step (default 400)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", type=Path, default=None, help="keep outputs here (default: temp dir)")
    p.add_argument("--json", type=Path, default=None, help="also write the summary as JSON")
    p.add_argument("--ranker-preset", default="small", choices=("tiny", "small", "kuaishou"),
                   help="preset of the ranker trained on the demo's logs (default small)")
    p.add_argument("--ranker-epochs", type=int, default=4, help="epochs of that training (default 4)")


def _table(rows: list[tuple[str, str, str]]) -> str:
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{'step':<{w0}}  {'measure':<{w1}}  value", f"{'-' * w0}  {'-' * w1}  -----"]
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows]
    return "\n".join(lines)


@command("demo", "run the pipeline on the synthetic world and print a summary", _args)
def _demo(args: argparse.Namespace) -> int:
    from device_runtime.world import SyntheticWorld
    from device_runtime.world_stats import measure_world
    from training.data.synthetic_logs import LogConfig, label_rates, simulate_logs, write_parquet

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="reelrank-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str]] = []
    summary: dict = {}

    print(f"[1] world: measuring the synthetic world on {args.sessions} sessions ...", flush=True)
    world = SyntheticWorld(world_seed=0)
    stats = measure_world(world, sessions=args.sessions, seed=args.seed)
    summary["world"] = stats
    rows += [
        ("world", "effective-view rate (server order)", f"{stats['effective_view_rate']:.3f}"),
        ("world", "like rate (server order)", f"{stats['like_rate']:.4f}"),
        ("world", "mean session depth", f"{stats['mean_depth']:.1f}"),
        ("world", "oracle best-of-100 reorder gain",
         f"{stats['oracle_best_of_100_gain']['mean']:+.1%} ± {stats['oracle_best_of_100_gain']['ci95']:.1%}"),
        ("world", "feedback rule − blind rule, reward",
         f"{stats['feedback_minus_blind']['mean']:+.2f} ± {stats['feedback_minus_blind']['ci95']:.2f}"),
    ]

    print(f"[2] logs: simulating {args.sessions} logged sessions ...", flush=True)
    t0 = time.perf_counter()
    logs = simulate_logs(LogConfig(sessions=args.sessions, seed=args.seed))
    secs = time.perf_counter() - t0
    log_path = workdir / "logs.parquet"
    write_parquet(logs, log_path, {"world": "synthetic", "world_seed": 0, "seed": args.seed,
                                   "sessions": args.sessions})
    rates = label_rates(logs)
    summary["logs"] = {**rates, "impressions_per_s": logs.n / secs, "path": str(log_path)}
    rows += [
        ("logs", "impressions written", f"{logs.n}"),
        ("logs", "impressions / s (1 core)", f"{logs.n / secs:,.0f}"),
        ("logs", "effective-view / like rate", f"{rates['effective_view']:.3f} / {rates['like']:.4f}"),
    ]

    print(f"[3] ranker: training the {args.ranker_preset} ranker and its baselines on those logs ...",
          flush=True)
    rows += _train_ranker_step(args, logs, workdir / "ranker", summary)

    print(f"\nReelRank demo summary (synthetic world, world_seed 0, seed {args.seed})")
    print(_table(rows))
    print(f"\noutputs in {workdir}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


def _train_ranker_step(args: argparse.Namespace, logs, run_dir: Path, summary: dict) -> list[tuple[str, str, str]]:
    from device_runtime.contract import TASKS
    from training.ranker.inputs import ranker_data
    from training.ranker.pipeline import RunConfig, run
    from training.ranker.train import TrainConfig

    train = TrainConfig(epochs=args.ranker_epochs, batch_size=256, seed=args.seed, progress=False)
    metrics = run(ranker_data(logs), run_dir, RunConfig(preset=args.ranker_preset, train=train,
                                                        split_seed=args.seed), log=lambda m: None)
    summary["ranker"] = {k: metrics[k] for k in ("model", "baselines", "margins", "split")}
    summary["ranker"]["impressions_per_s"] = metrics["training"]["impressions_per_s"]

    def aucs(m: dict) -> str:
        return " / ".join(f"{m[t]['auc']:.3f}" if t in m else "-" for t in TASKS)

    label = "AUC has_next / effective_view / like"
    return [
        ("ranker", f"held-out users: {metrics['split']['users']['test']}, rows", f"{metrics['split']['rows']['test']}"),
        ("ranker", f"{label}, {args.ranker_preset} ranker", aucs(metrics["model"])),
        ("ranker", f"{label}, no-context network", aucs(metrics["baselines"]["no_context"])),
        ("ranker", f"{label}, logistic regression", aucs(metrics["baselines"]["logistic_regression"])),
        ("ranker", f"{label}, server pXTR", aucs(metrics["baselines"]["server_pxtr"])),
        ("ranker", "train impressions / s (2 cores)", f"{metrics['training']['impressions_per_s']:,.0f}"),
    ]
