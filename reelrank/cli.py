"""The `reelrank` command line. Parsing happens here only; every subcommand imports its heavy
dependencies (TensorFlow, pyarrow, matplotlib) lazily, inside its handler, so the device-side
subcommands run where TensorFlow is absent."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {}


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]):
    def deco(fn: Handler) -> Handler:
        _COMMANDS[name] = (help, configure, fn)
        return fn

    return deco


WORLDS = ("synthetic", "kuairand")


def _world_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--world", default="synthetic", choices=WORLDS,
                   help="world to simulate: synthetic (default) or kuairand (the synthetic law over "
                        "KuaiRand's real catalog and users, calibrated to its logs)")
    p.add_argument("--world-seed", type=int, default=0, help="seed of the world's catalog and users")
    p.add_argument("--world-config", type=Path, default=None,
                   help="JSON file overriding WorldConfig fields (see device_runtime/sim/world.py), or "
                        "KuaiRandCalibration fields with --world kuairand")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="KuaiRand folder for --world kuairand (default: ../shared/data/kuairand "
                        "relative to the repository)")


def load_world(args: argparse.Namespace):
    """The world named by ``--world`` (``--world-seed``, ``--world-config``, ``--data-dir``)."""
    world = getattr(args, "world", "synthetic")
    config = getattr(args, "world_config", None)
    seed = getattr(args, "world_seed", 0)
    if world == "kuairand":
        from device_runtime.sim import kuairand_tables as T
        from device_runtime.sim.kuairand_world import KuaiRandCalibration, KuaiRandWorld

        data_dir = getattr(args, "data_dir", None) or T.default_data_dir()
        missing = [f for f in (T.VIDEO_FILE, T.USER_FILE) if not (Path(data_dir) / f).exists()]
        if missing:
            raise SystemExit(f"error: --world kuairand needs {missing} in --data-dir, "
                             f"not found in {data_dir}")
        cal = KuaiRandCalibration.load(config) if config else KuaiRandCalibration()
        return KuaiRandWorld(data_dir, cal, seed)
    if world != "synthetic":
        raise SystemExit(f"error: --world must be one of {list(WORLDS)}, got {world!r}")
    from device_runtime.sim.world import SyntheticWorld, WorldConfig

    cfg = WorldConfig.load(config) if config else WorldConfig()
    return SyntheticWorld(cfg, seed)


def world_meta(args: argparse.Namespace, world) -> dict:
    """What to record about the world in a log's or report's metadata."""
    meta = {"world": getattr(args, "world", "synthetic"), "world_seed": getattr(args, "world_seed", 0),
            "world_config": world.config.to_json()}
    if hasattr(world, "calibration"):
        meta["kuairand_calibration"] = world.calibration.to_json()
        meta["data_dir"] = str(world.data_dir)
    return meta


# -- simulate-logs ------------------------------------------------------------------------------
def _simulate_logs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sessions", type=int, required=True, help="number of sessions to simulate")
    p.add_argument("--seed", type=int, default=0, help="run seed (users and random streams)")
    p.add_argument("--out", type=Path, required=True, help="output Parquet file")
    p.add_argument("--history", type=int, default=8, help="N_h, watched videos kept (default 8)")
    p.add_argument("--max-steps", type=int, default=6, help="L_max (prefix holds L_max - 1)")
    p.add_argument("--explore-show", type=float, default=0.0,
                   help="probability the logging client shows a random cached video instead of the "
                        "server's next one (default 0: pure server order)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _world_args(p)


@command("simulate-logs", "simulate sessions under the server's policy and write a Parquet log",
         _simulate_logs_args)
def _simulate_logs(args: argparse.Namespace) -> int:
    import time

    from training.data.synthetic_logs import LogConfig, label_rates, simulate_logs, write_parquet

    if args.sessions < 1:
        raise SystemExit(f"error: --sessions must be >= 1, got {args.sessions}")
    world = load_world(args)
    cfg = LogConfig(args.sessions, args.seed, args.world_seed, args.history, args.max_steps, args.explore_show)
    t0 = time.perf_counter()
    logs = simulate_logs(cfg, world.config, progress=not args.quiet, world=world)
    seconds = time.perf_counter() - t0
    meta = {
        **world_meta(args, world),
        "seed": args.seed, "sessions": args.sessions, "n_history": args.history, "l_max": args.max_steps,
        "explore_show": args.explore_show,
    }
    write_parquet(logs, args.out, meta)
    rates = label_rates(logs)
    rates["impressions_per_s"] = logs.n / seconds
    print(json.dumps({"out": str(args.out), **{k: round(v, 4) for k, v in rates.items()}}))
    return 0


# -- world-info ---------------------------------------------------------------------------------
def _world_info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sessions", type=int, default=300, help="sessions used to measure the world")
    p.add_argument("--seed", type=int, default=0)
    _world_args(p)


@command("world-info", "print a world's parameters and its measured label rates (numpy only)",
         _world_info_args)
def _world_info(args: argparse.Namespace) -> int:
    from device_runtime.sim.world_stats import measure_world

    world = load_world(args)
    stats = measure_world(world, sessions=args.sessions, seed=args.seed)
    print(json.dumps({"config": world.config.to_json(), "measured": stats}, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reelrank", description="On-device reranking of short-video feeds."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, configure, fn) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        configure(p)
        p.set_defaults(_handler=fn)
    return parser


def _register_all() -> None:
    # Subcommand modules add themselves to _COMMANDS on import; they import nothing heavy at top.
    from reelrank import commands  # noqa: F401


def _quiet_frameworks() -> None:
    """TensorFlow's C++ INFO lines and Keras's "build() was called" note (our models build by
    calling them once) drown the progress output; a user's own TF_CPP_MIN_LOG_LEVEL wins."""
    import os
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=r".*`build\(\)` was called on layer.*")


def main(argv: list[str] | None = None) -> int:
    _quiet_frameworks()
    _register_all()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_handler", None):
        parser.print_help()
        return 2
    return int(args._handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
