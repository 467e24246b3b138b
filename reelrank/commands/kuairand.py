"""KuaiRand subcommands: `world-calibration` (the real-catalog world against the data: JSON + PNG,
optionally re-fitting), `kuairand-info` (the loader's join and label rates) and `kuairand-split`
(user-disjoint subsets in KuaiRand's own format, for training and for evaluating on unseen users)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reelrank.cli import _world_args, command, load_world


# -- world-calibration ----------------------------------------------------------------------------
def _calibration_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="folder for calibration.json and calibration.png")
    p.add_argument("--fit", action="store_true",
                   help="re-fit the calibration from the --world-config (or stored) values first")
    p.add_argument("--iterations", type=int, default=16, help="fit iterations (with --fit)")
    p.add_argument("--random-sessions", type=int, default=300, help="sessions in which random videos are probed")
    p.add_argument("--server-sessions", type=int, default=400, help="server-ordered sessions")
    p.add_argument("--probes", type=int, default=8, help="random videos probed per position")
    p.add_argument("--seed", type=int, default=0)
    _world_args(p)


@command("world-calibration", "compare the kuairand world with KuaiRand's rates (JSON + PNG); --fit re-fits",
         _calibration_args, stage="data")
def _world_calibration(args: argparse.Namespace) -> int:
    import time

    from device_runtime.sim import kuairand_calibration as K

    if args.world != "kuairand":
        raise SystemExit(f"error: world-calibration needs --world kuairand, got {args.world!r}")
    world = load_world(args)
    cfg = K.MeasureConfig(args.random_sessions, args.probes, args.server_sessions, args.seed)
    log, videos, users = K.load_targets(world.data_dir)
    data = K.data_rates(log, videos, users)
    t0 = time.perf_counter()
    if args.fit:
        def progress(it, cal, m):
            print(f"fit {it}: random long_view {m['overall']['long_view']:.4f}, server long_view "
                  f"{m['server']['long_view']:.4f}", flush=True)

        cal, measured = K.fit(world.data_dir, world.calibration, args.iterations, cfg, args.world_seed,
                              progress=progress)
    else:
        cal, measured = world.calibration, K.measure(world, log, cfg)
    rows = K.comparison(data, measured)
    args.out.mkdir(parents=True, exist_ok=True)
    measure = {"random_sessions": cfg.random_sessions, "probes_per_step": cfg.probes_per_step,
               "server_sessions": cfg.server_sessions, "seed": cfg.seed}
    report = {"calibration": cal.to_json(), "measure": measure, "seconds": time.perf_counter() - t0,
              "data": data, "world": measured, "comparison": rows}
    (args.out / "calibration.json").write_text(json.dumps(report, indent=2))
    if args.fit:
        (args.out / "kuairand_calibration.json").write_text(json.dumps(cal.to_json(), indent=2))
    plot_calibration(rows, args.out / "calibration.png")
    summary = [f"{r['target']:<15} {r['family']:<10} {r['level']:<13} {r['label']:<9} "
               f"data {r['data']:.4f} ± {r['ci95']:.4f}  world {r['world']:.4f}"
               for r in rows if r["family"] in ("overall", "duration", "video_type")]
    print("\n".join(summary))
    print(json.dumps({"out": str(args.out), "server_mean_depth": round(measured["server"]["mean_depth"], 2)}))
    return 0


def plot_calibration(rows: list[dict], path: Path) -> None:
    """One panel per (label): data (with 95% CI) against the world, per target and group level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from device_runtime.sim.kuairand_calibration import FAMILIES, LABELS

    fams = ("overall", "duration", "video_type", "activity")
    fig, axes = plt.subplots(len(LABELS), len(fams), figsize=(17, 10),
                             gridspec_kw={"width_ratios": [1.6, 4, 1.6, 2]})
    for i, label in enumerate(LABELS):
        for j, fam in enumerate(fams):
            ax = axes[i, j]
            sel = [r for r in rows if r["label"] == label and r["family"] == fam]
            if fam == "overall":
                names = ["random\nexposure", "standard\nfeed"]
                sel = sorted(sel, key=lambda r: r["target"] != "random exposure")
            else:
                names = list(FAMILIES[fam])
            x = np.arange(len(sel))
            ax.bar(x - 0.2, [r["data"] for r in sel], 0.4, yerr=[[min(r["ci95"], r["data"]) for r in sel], [r["ci95"] for r in sel]],
                   label="KuaiRand", color="#4c72b0", capsize=2)
            ax.bar(x + 0.2, [r["world"] for r in sel], 0.4, label="kuairand world", color="#dd8452")
            ax.set_xticks(x, names, fontsize=7, rotation=0 if fam != "duration" else 30)
            ax.set_title(f"{label} · {fam}", fontsize=9)
            ax.tick_params(axis="y", labelsize=7)
            if i == 0 and j == 0:
                ax.legend(fontsize=7)
    fig.suptitle("kuairand world vs KuaiRand: random-exposure log (by group, 95% CI) and the "
                 "standard feed (server pages)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- kuairand-info / kuairand-split -----------------------------------------------------------------
def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="KuaiRand folder (or log .csv)")
    p.add_argument("--pxtr-from", type=Path, default=None,
                   help="log of training users for per-video pXTR (default: neutral constants)")


@command("kuairand-info", "load a KuaiRand log into the feature contract and print join and label rates",
         _info_args, stage="data")
def _kuairand_info(args: argparse.Namespace) -> int:
    from training.data.kuairand import load_kuairand

    logs, report = load_kuairand(args.data, pxtr_from=args.pxtr_from)
    print(json.dumps(report, indent=2))
    return 0


def _split_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="KuaiRand folder (or log .csv)")
    p.add_argument("--out", type=Path, required=True, help="writes OUT/train and OUT/eval")
    p.add_argument("--eval-fraction", type=float, default=0.2, help="share of users held out (default 0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trim-tables", action="store_true",
                   help="cut the video/user tables to the ids each part uses (small slices)")


@command("kuairand-split", "write user-disjoint train/eval subsets of a KuaiRand log (same format)",
         _split_args, stage="data")
def _kuairand_split(args: argparse.Namespace) -> int:
    from training.data.kuairand import split_users, write_subset

    train, held = split_users(args.data, args.eval_fraction, args.seed)
    out = {"train": write_subset(args.data, args.out / "train", train, args.trim_tables),
           "eval": write_subset(args.data, args.out / "eval", held, args.trim_tables)}
    print(json.dumps(out))
    return 0
