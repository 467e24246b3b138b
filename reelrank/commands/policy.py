"""`reelrank train-policy`, `reelrank export-policy` and `reelrank policy-table`: the compact
HAC-style policy and its baselines. TensorFlow is imported inside the handlers only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reelrank.cli import command, config_arg, config_default, csv_ints

ALGOS = ("hac", "ddpg", "sl", "reinforce_topk")


def _positive(name: str):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = 0
        if v < 1:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {text!r}")
        return v

    return parse


def _algos(text: str) -> tuple[str, ...]:
    from reelrank.cli import csv_words

    return csv_words(text)


def _per_algo(field: str) -> str:
    """``(default hac 1200, ddpg 1200, …)``: each algorithm's own ``Args`` default of ``field``."""
    from benchmarks.policy_table import algo_module

    values = {a: config_default(algo_module(a).Args, field) for a in ALGOS}
    if len(set(values.values())) == 1:
        return f"(default {next(iter(values.values()))} for every algorithm)"
    return "(default " + ", ".join(f"{a} {v}" for a, v in values.items()) + ")"


# -- train-policy ---------------------------------------------------------------------------------
def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algo", required=True, choices=ALGOS, help="hac | ddpg | sl | reinforce_topk")
    p.add_argument("--world", default="synthetic", choices=("synthetic", "synthetic-legacy", "synthetic-long-term"),
                   help="training world (synthetic = synthetic-legacy; synthetic-long-term: an RL episode is a "
                        "user's week of sessions, done = churn)")
    # None = the chosen algorithm's own Args default (its dataclass is the one source of truth)
    p.add_argument("--world-seed", type=int, default=None, help=f"training world seed {_per_algo('world_seed')}")
    p.add_argument("--steps", type=_positive("--steps"), default=None, help=f"gradient updates {_per_algo('steps')}")
    p.add_argument("--seed", type=int, default=None,
                   help=f"seed of initialisation, noise and sessions {_per_algo('seed')}")
    p.add_argument("--slate", type=_positive("--slate"), default=None, help=f"videos shown per action {_per_algo('slate')}")
    p.add_argument("--depth-cap", type=_positive("--depth-cap"), default=None, help=f"episode cap {_per_algo('depth_cap')}")
    p.add_argument("--out", type=Path, required=True, help="run directory (weights, metrics.json, curves.png)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@command("train-policy", "train the compact policy (HAC) or a baseline on the synthetic world", _train_args, stage="train")
def _train_policy(args: argparse.Namespace) -> int:
    from benchmarks.policy_table import algo_module

    mod = algo_module(args.algo)
    given = {k: getattr(args, k) for k in ("seed", "steps", "world_seed", "slate", "depth_cap")
             if getattr(args, k) is not None}
    given["world"] = args.world
    try:
        a = mod.Args(**given, progress=not args.quiet)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    _, metrics = mod.train(a, args.out)
    v = metrics["final_valid"]
    print(json.dumps({"out": str(args.out), "algo": args.algo, "params": metrics["params"],
                      "wall_s": round(metrics["wall_s"], 1),
                      "valid_total_reward": {k: round(x, 3) for k, x in v["total_reward"].items()},
                      "valid_depth": {k: round(x, 3) for k, x in v["depth"].items()},
                      "curves": str(args.out / "curves.png")}, indent=2))
    return 0


# -- export-policy ----------------------------------------------------------------------------------
def _export_args(p: argparse.ArgumentParser) -> None:
    from export.policy_export import PolicyExportConfig

    p.add_argument("--policy", type=Path, required=True, help="a train-policy run directory")
    p.add_argument("--artifact", type=Path, required=True, help="an existing ranker artifact (reelrank export)")
    config_arg(p, "--beam-lambda", PolicyExportConfig, type=float,
               help="λ of policy-guided beam search (policy_beam), fixed in policy.tflite")
    config_arg(p, "--sample-pages", PolicyExportConfig, type=int,
               help="rerank inputs (sample pages) stored for parity checks")
    config_arg(p, "--max-params", PolicyExportConfig, type=int, help="refuse larger policies")


@command("export-policy", "write policy.tflite (policy_rerank, policy_guide) into a ranker artifact",
         _export_args, stage="export")
def _export_policy(args: argparse.Namespace) -> int:
    from device_runtime.artifact import ArtifactError
    from export.policy_export import PolicyExportConfig, export_policy

    try:
        cfg = PolicyExportConfig(beam_lambda=args.beam_lambda, sample_pages=args.sample_pages,
                                 max_params=args.max_params)
        manifest = export_policy(args.policy, args.artifact, cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    except (ValueError, FileNotFoundError, ArtifactError) as e:
        raise SystemExit(f"error: {e}") from None
    s = manifest["policy"]
    par = s["parity"]
    print(json.dumps({"artifact": str(args.artifact), "policy_tflite_bytes": manifest["size_bytes"]["policy.tflite"],
                      "params": s["params"], "algo": s["algo"], "beam_lambda": s["beam_lambda"],
                      "parity": par, "ops": s["ops"]}, indent=2))
    return 0


# -- policy-table -----------------------------------------------------------------------------------
def _table_args(p: argparse.ArgumentParser) -> None:
    from benchmarks.policy_table import TableConfig

    config_arg(p, "--algos", TableConfig, type=_algos, help="comma-separated")
    config_arg(p, "--seeds", TableConfig, type=_positive("--seeds"), show=len,
               help="training seeds per algorithm (seeds 0..N-1)")
    p.add_argument("--steps", type=_positive("--steps"), default=None,
                   help=f"updates per training run {_per_algo('steps')}")
    config_arg(p, "--eval-worlds", TableConfig, type=csv_ints, help="held-out world seeds")
    config_arg(p, "--eval-sessions", TableConfig, type=_positive("--eval-sessions"),
               help="sessions per held-out world")
    p.add_argument("--artifact", type=Path, default=None,
                   help="ranker artifact for greedy/adaptive_beam and policy export "
                        "(default artifacts/ranker if it exists, else server order only)")
    config_arg(p, "--beam-lambda", TableConfig, type=float, help="λ of policy_beam")
    p.add_argument("--no-policy-beam", action="store_true", help="skip exporting HAC and policy_beam")
    config_arg(p, "--slate", TableConfig, type=_positive("--slate"), help="videos per action")
    config_arg(p, "--depth-cap", TableConfig, type=_positive("--depth-cap"), help="episode cap")
    config_arg(p, "--world", TableConfig, choices=("synthetic", "synthetic-legacy", "synthetic-long-term"),
               help="world of training and evaluation (synthetic-long-term: totals per user-week)")
    p.add_argument("--out", type=Path, default=Path("runs/policy_table"), help="output directory")
    p.add_argument("--json", type=Path, default=None, help="also copy the JSON report here")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


@command("policy-table", "train every policy with several seeds and compare on held-out worlds (Table 2)",
         _table_args, stage="evaluate")
def _policy_table(args: argparse.Namespace) -> int:
    from benchmarks.policy_table import RANKER_STRATEGIES, TableConfig, format_table, run_table

    artifact = args.artifact
    if artifact is None and Path("artifacts/ranker/manifest.json").exists():
        artifact = Path("artifacts/ranker")
    if artifact is not None and not (artifact / "manifest.json").exists():
        raise SystemExit(f"error: --artifact must be a ranker artifact directory with manifest.json, got {artifact}")
    strategies = RANKER_STRATEGIES if artifact is not None else ("server",)
    try:
        cfg = TableConfig(algos=tuple(args.algos),
                          seeds=tuple(range(args.seeds) if isinstance(args.seeds, int) else args.seeds), steps=args.steps, eval_worlds=tuple(args.eval_worlds),
                          eval_sessions=args.eval_sessions, artifact=artifact, strategies=strategies,
                          policy_beam=not args.no_policy_beam, beam_lambda=args.beam_lambda, slate=args.slate,
                          depth_cap=args.depth_cap, world=args.world)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    report = run_table(cfg, args.out, progress=not args.quiet, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_table(report))
    print(f"\nwrote {args.out / 'policy_table.json'} and {args.out / 'policy_table.md'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text((args.out / "policy_table.json").read_text())
    return 0
