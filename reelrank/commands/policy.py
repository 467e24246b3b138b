"""`reelrank train-policy`, `reelrank export-policy` and `reelrank policy-table`: the compact
HAC-style policy and its baselines. TensorFlow is imported inside the handlers only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reelrank.cli import command

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


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


# -- train-policy ---------------------------------------------------------------------------------
def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algo", required=True, choices=ALGOS, help="hac | ddpg | sl | reinforce_topk")
    p.add_argument("--world", default="synthetic", choices=("synthetic",), help="training world (synthetic)")
    p.add_argument("--world-seed", type=int, default=0, help="training world seed (default 0)")
    p.add_argument("--steps", type=_positive("--steps"), default=1200, help="gradient updates (default 1200)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation, noise and sessions (default 0)")
    p.add_argument("--slate", type=_positive("--slate"), default=1, help="videos shown per action (default 1)")
    p.add_argument("--depth-cap", type=_positive("--depth-cap"), default=50, help="episode cap (default 50)")
    p.add_argument("--out", type=Path, required=True, help="run directory (weights, metrics.json, curves.png)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@command("train-policy", "train the compact policy (HAC) or a baseline on the synthetic world", _train_args)
def _train_policy(args: argparse.Namespace) -> int:
    from benchmarks.policy_table import algo_module

    mod = algo_module(args.algo)
    try:
        a = mod.Args(seed=args.seed, steps=args.steps, world_seed=args.world_seed, slate=args.slate,
                     depth_cap=args.depth_cap, progress=not args.quiet)
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
    p.add_argument("--policy", type=Path, required=True, help="a train-policy run directory")
    p.add_argument("--artifact", type=Path, required=True, help="an existing ranker artifact (reelrank export)")
    p.add_argument("--beam-lambda", type=float, default=0.5,
                   help="λ of policy-guided beam search (policy_beam), fixed in policy.tflite (default 0.5)")
    p.add_argument("--sample-pages", type=int, default=64, help="pages stored for parity checks (default 64)")
    p.add_argument("--max-params", type=int, default=100_000, help="refuse larger policies (default 100000)")


@command("export-policy", "write policy.tflite (policy_rerank, policy_guide) into a ranker artifact",
         _export_args)
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
    p.add_argument("--algos", default=",".join(ALGOS), help=f"comma-separated (default {','.join(ALGOS)})")
    p.add_argument("--seeds", type=_positive("--seeds"), default=3, help="training seeds per algorithm (default 3)")
    p.add_argument("--steps", type=_positive("--steps"), default=None,
                   help="updates per training run (default 1200 for every algorithm)")
    p.add_argument("--eval-worlds", type=_int_list, default=(1001, 1002, 1003),
                   help="held-out world seeds (default 1001,1002,1003)")
    p.add_argument("--eval-sessions", type=_positive("--eval-sessions"), default=100,
                   help="sessions per held-out world (default 100)")
    p.add_argument("--artifact", type=Path, default=None,
                   help="ranker artifact for greedy/adaptive_beam and policy export "
                        "(default artifacts/ranker if it exists, else server order only)")
    p.add_argument("--beam-lambda", type=float, default=0.5, help="λ of policy_beam (default 0.5)")
    p.add_argument("--no-policy-beam", action="store_true", help="skip exporting HAC and policy_beam")
    p.add_argument("--slate", type=_positive("--slate"), default=1, help="videos per action (default 1)")
    p.add_argument("--depth-cap", type=_positive("--depth-cap"), default=50, help="episode cap (default 50)")
    p.add_argument("--out", type=Path, default=Path("runs/policy_table"), help="output directory")
    p.add_argument("--json", type=Path, default=None, help="also copy the JSON report here")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


@command("policy-table", "train every policy with several seeds and compare on held-out worlds (Table 2)",
         _table_args)
def _policy_table(args: argparse.Namespace) -> int:
    from benchmarks.policy_table import RANKER_STRATEGIES, TableConfig, format_table, run_table

    artifact = args.artifact
    if artifact is None and Path("artifacts/ranker/manifest.json").exists():
        artifact = Path("artifacts/ranker")
    if artifact is not None and not (artifact / "manifest.json").exists():
        raise SystemExit(f"error: --artifact must be a ranker artifact directory with manifest.json, got {artifact}")
    strategies = RANKER_STRATEGIES if artifact is not None else ("server",)
    try:
        cfg = TableConfig(algos=tuple(a.strip() for a in args.algos.split(",") if a.strip()),
                          seeds=tuple(range(args.seeds)), steps=args.steps, eval_worlds=tuple(args.eval_worlds),
                          eval_sessions=args.eval_sessions, artifact=artifact, strategies=strategies,
                          policy_beam=not args.no_policy_beam, beam_lambda=args.beam_lambda, slate=args.slate,
                          depth_cap=args.depth_cap)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    report = run_table(cfg, args.out, progress=not args.quiet, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_table(report))
    print(f"\nwrote {args.out / 'policy_table.json'} and {args.out / 'policy_table.md'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text((args.out / "policy_table.json").read_text())
    return 0
