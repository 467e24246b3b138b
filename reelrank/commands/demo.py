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
    p.add_argument("--sessions", type=int, default=300, help="sessions to measure the world on (default 300)")
    p.add_argument("--log-sessions", type=int, default=3000,
                   help="logged sessions the ranker trains on (default 3000, exploring client 0.3)")
    p.add_argument("--emulate-sessions", type=int, default=300,
                   help="paired sessions per strategy in the emulator (default 300)")
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


@command("demo", "run the pipeline on the synthetic world and print a summary", _args, stage="pipeline")
def _demo(args: argparse.Namespace) -> int:
    from device_runtime.sim.world import SyntheticWorld
    from device_runtime.sim.world_stats import measure_world
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

    print(f"[2] logs: simulating {args.log_sessions} logged sessions ...", flush=True)
    t0 = time.perf_counter()
    logs = simulate_logs(LogConfig(sessions=args.log_sessions, seed=args.seed, explore_show=0.3))
    secs = time.perf_counter() - t0
    log_path = workdir / "logs.parquet"
    write_parquet(logs, log_path, {"world": "synthetic", "world_seed": 0, "seed": args.seed,
                                   "sessions": args.log_sessions, "explore_show": 0.3})
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

    print("[4] export: TFLite artifact with in-graph adaptive beam search ...", flush=True)
    rows += _export_step(workdir / "ranker", workdir / "artifact", summary)

    print(f"[5] emulate: {args.emulate_sessions} paired sessions on an unseen world seed ...", flush=True)
    rows += _emulate_step(args, workdir / "artifact", summary)

    print(f"\nReelRank demo summary (synthetic world, world_seed 0, seed {args.seed})")
    print(_table(rows))
    print(f"\noutputs in {workdir}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


def _export_step(run_dir: Path, art: Path, summary: dict) -> list[tuple[str, str, str]]:
    from export.artifact import ExportConfig, export_artifact
    from export.verify import verify_artifact

    manifest = export_artifact(run_dir, art, ExportConfig(sample_pages=64), log=lambda *a: None)
    rep = verify_artifact(art, extra_pages=64, log=lambda *a: None)
    f = manifest["flops"]
    summary["export"] = {"size_bytes": manifest["size_bytes"], "flops": f, "stability": manifest["stability"],
                         "verify": rep.to_json()}
    return [
        ("export", "model.tflite bytes / params", f"{manifest['size_bytes']['model.tflite']:,} / {manifest['params']:,}"),
        ("export", "FLOPs per rerank, hoisted vs not", f"{f['per_rerank_hoisted']:,.0f} vs {f['per_rerank_not_hoisted']:,.0f}"),
        ("export", "mean search steps at threshold 0.95", f"{manifest['stability']['mean_steps']:.2f}"),
        ("verify", "checks passed", f"{sum(c.ok for c in rep.checks)} / {len(rep.checks)}"),
    ]


def _emulate_step(args: argparse.Namespace, art: Path, summary: dict) -> list[tuple[str, str, str]]:
    from device_runtime.reranker import Reranker
    from device_runtime.sim.emulator import EmulatorConfig, run_emulator, summarize
    from device_runtime.sim.world import SyntheticWorld

    strategies = ("server", "greedy", "adaptive_beam")
    cfg = EmulatorConfig(sessions=args.emulate_sessions, seed=args.seed + 1, strategies=strategies)
    res = summarize(run_emulator(SyntheticWorld(world_seed=1), Reranker(art), cfg, progress=False))
    summary["emulate"] = res
    rows = []
    for name in strategies:
        st = res["strategies"][name]
        rows.append(("emulate", f"total reward, {name} (mean ± 95% CI)",
                     f"{st['total_reward']['mean']:.2f} ± {st['total_reward']['ci95']:.2f}"))
    for pair in ("greedy-server", "adaptive_beam-server", "adaptive_beam-greedy"):
        d = res["paired"][pair]["total_reward"]
        rows.append(("emulate", f"paired {pair}", f"{d['mean']:+.2f} ± {d['ci95']:.2f}"))
    st = res["strategies"]["adaptive_beam"]
    rows.append(("emulate", "adaptive_beam steps / latency p50 µs", f"{st['mean_steps']:.2f} / {st['latency_us']['p50']:,.0f}"))
    return rows


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
