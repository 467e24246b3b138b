"""`reelrank train-ranker` and `reelrank evaluate-ranker`: the context-aware multi-task ranker.
TensorFlow is imported inside the handlers only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reelrank.cli import command, config_arg


def _source_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--logs", type=Path, help="a Parquet log written by `reelrank simulate-logs`")
    src.add_argument("--data", help="a data set instead of a log: kuairand:PATH")


def _load(args: argparse.Namespace):
    from training.ranker.inputs import ranker_data
    from training.ranker.sources import load_source

    try:
        logs, source = load_source(args.logs, args.data)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from None
    return ranker_data(logs), source


def _task_weights(text: str) -> tuple[float, float, float]:
    try:
        w = tuple(float(x) for x in text.split(","))
    except ValueError:
        w = ()
    if len(w) != 3 or min(w) < 0:
        raise argparse.ArgumentTypeError(
            f"--task-weights must be 3 non-negative numbers has_next,effective_view,like, got {text!r}")
    return w  # type: ignore[return-value]


def _train_args(p: argparse.ArgumentParser) -> None:
    _source_args(p)
    p.add_argument("--out", type=Path, required=True, help="run directory (model, metrics.json, curves.png)")
    from training.ranker.config import RunConfig, TrainConfig

    config_arg(p, "--preset", RunConfig, choices=("tiny", "small", "kuaishou"), help="model size")
    config_arg(p, "--epochs", TrainConfig, type=int, help="passes over the training users' rows")
    config_arg(p, "--batch", TrainConfig, "batch_size", type=int, help="batch size")
    config_arg(p, "--lr", TrainConfig, "learning_rate", type=float, help="Adam learning rate")
    w = p.add_mutually_exclusive_group()
    config_arg(w, "--task-weights", TrainConfig, type=_task_weights,
               help="fixed BCE weights has_next,effective_view,like")
    w.add_argument("--rmtl", action="store_true",
                   help="RMTL per-session task weights from per-task critics (also trains the "
                        "fixed-weight model on the same split and reports the difference)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation, batch order and split")
    p.add_argument("--no-baselines", action="store_true",
                   help="skip the no-context and logistic-regression baselines (throughput runs)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


@command("train-ranker", "train the context-aware multi-task ranker and its baselines", _train_args, stage="train")
def _train_ranker(args: argparse.Namespace) -> int:
    from training.ranker.pipeline import METRICS_FILE, RunConfig, run
    from training.ranker.train import TrainConfig

    for name in ("epochs", "batch"):
        if getattr(args, name) < 1:
            raise SystemExit(f"error: --{name} must be >= 1, got {getattr(args, name)}")
    data, source = _load(args)
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch, learning_rate=args.lr,
                        task_weights=tuple(args.task_weights), rmtl=args.rmtl, seed=args.seed,
                        progress=not args.quiet)
    cfg = RunConfig(preset=args.preset, train=train, split_seed=args.seed,
                    baselines=not args.no_baselines)
    metrics = run(data, args.out, cfg, source, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(json.dumps(_summary(metrics, args.out / METRICS_FILE), indent=2))
    return 0


def _summary(metrics: dict, path: Path) -> dict:
    def aucs(m: dict) -> dict:
        return {t: round(v["auc"], 4) for t, v in m.items() if v.get("auc") is not None}

    out = {"metrics": str(path), "auc": {"model": aucs(metrics["model"]),
                                         **{k: aucs(v) for k, v in metrics["baselines"].items()}}}
    if "training" in metrics:
        out["impressions_per_s"] = metrics["training"]["impressions_per_s"]
        out["params"] = metrics["training"]["params"]
    return out


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, required=True, help="a run directory of `train-ranker`")
    _source_args(p)
    p.add_argument("--json", type=Path, default=None, help="also write the metrics here")


@command("evaluate-ranker", "score a trained ranker and its baselines on another log", _evaluate_args, stage="evaluate")
def _evaluate_ranker(args: argparse.Namespace) -> int:
    from training.ranker.evaluate import evaluate_run

    data, source = _load(args)
    try:
        metrics = evaluate_run(args.model, data, source)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from None
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(metrics, indent=2))
    print(json.dumps(metrics, indent=2))
    return 0
