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
_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler, str]] = {}

#: stages of the pipeline, in the order ``reelrank --help`` lists them
STAGES = {
    "data": "simulate or load logs, describe worlds",
    "train": "train rankers and policies",
    "export": "write and check artifacts",
    "device": "run artifacts through the device runtime (emulator, its event logs)",
    "evaluate": "compare strategies, rankers and policies",
    "benchmark": "latency, bundles for real devices",
    "pipeline": "everything at once",
}


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None], stage: str = "pipeline"):
    if stage not in STAGES:
        raise ValueError(f"`stage` must be one of {list(STAGES)}, got {stage!r}")

    def deco(fn: Handler) -> Handler:
        _COMMANDS[name] = (help, configure, fn, stage)
        return fn

    return deco


# -- one source of truth for defaults -------------------------------------------------------------
#: (parser prog, option string) -> (dataclass, field name): every flag whose default comes from a config
CONFIG_FLAGS: dict[tuple[str, str], tuple[type, str]] = {}


def config_default(cls: type, name: str):
    """The default of dataclass field ``name`` of ``cls`` (its ``default`` or ``default_factory()``)."""
    import dataclasses

    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise ValueError(f"`{cls.__name__}.{name}` has no default")
    raise ValueError(f"`{cls.__name__}` has no field {name!r}")


def csv_words(text: str) -> tuple[str, ...]:
    """``"a,b, c"`` -> ``("a", "b", "c")`` (argparse ``type`` for comma-separated names)."""
    return tuple(w.strip() for w in text.split(",") if w.strip())


def csv_ints(text: str) -> tuple[int, ...]:
    """``"1,2"`` -> ``(1, 2)`` (argparse ``type`` for comma-separated integers)."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _shown(value) -> str:
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


def config_arg(p: argparse.ArgumentParser, flag: str, cls: type, name: str | None = None, *,
               help: str = "", show=_shown, **kw) -> None:
    """``p.add_argument(flag, ...)`` whose default IS the dataclass field's default (``name``
    defaults to the flag's words joined by ``_``): the CLI never restates a default, so the two
    cannot drift. The help text gets ``(default …)`` appended."""
    name = name or flag.lstrip("-").replace("-", "_")
    default = config_default(cls, name)
    if kw.get("action") in ("store_true", "store_false"):
        p.add_argument(flag, help=help, **kw)
    else:
        p.add_argument(flag, default=default, help=f"{help} (default {show(default)})".strip(), **kw)
    prog = getattr(p, "prog", None) or getattr(getattr(p, "_container", None), "prog", "?")
    CONFIG_FLAGS[(prog, flag)] = (cls, name)


#: worlds every world-taking command accepts; ``synthetic-legacy`` is ``synthetic`` today (the first
#: world, in which every earlier number was measured) and stays that world when ``synthetic`` moves
#: on to the long-term world
WORLDS = ("synthetic", "synthetic-legacy", "kuairand")
#: the long-term world (retention, clickbait, boredom, hate): so far only `world-info` plays its
#: multi-session episodes
LONG_TERM = "synthetic-long-term"


def _world_args(p: argparse.ArgumentParser, long_term: bool = False) -> None:
    choices = WORLDS + ((LONG_TERM,) if long_term else ())
    p.add_argument("--world", default="synthetic", choices=choices,
                   help="world to simulate: synthetic (default; = synthetic-legacy) or kuairand (the "
                        "synthetic law over KuaiRand's real catalog and users, calibrated to its logs)"
                        + (f"; {LONG_TERM}: retention across sessions, clickbait, boredom, hate "
                           "(docs/world.md)" if long_term else ""))
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
    if world not in ("synthetic", "synthetic-legacy", LONG_TERM):
        raise SystemExit(f"error: --world must be one of {list(WORLDS) + [LONG_TERM]}, got {world!r}")
    from device_runtime.sim.world import SyntheticWorld, WorldConfig

    base = WorldConfig.long_term() if world == LONG_TERM else WorldConfig.legacy()
    cfg = WorldConfig.load(config, base) if config else base
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
    from training.data.synthetic_logs import LogConfig

    p.add_argument("--sessions", type=int, required=True,
                   help="number of sessions to simulate (users, each a week of sessions, in a multi-session world)")
    config_arg(p, "--seed", LogConfig, type=int, help="run seed (users and random streams)")
    p.add_argument("--out", type=Path, required=True, help="output Parquet file")
    config_arg(p, "--history", LogConfig, "n_history", type=int, help="N_h, watched videos kept")
    config_arg(p, "--max-steps", LogConfig, "l_max", type=int, help="L_max (prefix holds L_max - 1)")
    config_arg(p, "--explore-show", LogConfig, type=float,
               help="probability the logging client shows a random cached video instead of the "
                    "server's next one (0: pure server order)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _world_args(p, long_term=True)


@command("simulate-logs", "simulate sessions under the server's policy and write a Parquet log",
         _simulate_logs_args, stage="data")
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
    p.add_argument("--sessions", type=int, default=300,
                   help="sessions (users, in a multi-session world) used to measure the world")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--headroom", action="store_true",
                   help="measure planning headroom with the world's true model: oracle_lookahead vs "
                        "oracle_myopic on the same users' episodes (docs/world.md)")
    p.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _world_args(p, long_term=True)


@command("world-info", "print a world's parameters, its measured label rates and (--headroom) how much "
         "planning can gain (numpy only)", _world_info_args, stage="data")
def _world_info(args: argparse.Namespace) -> int:
    world = load_world(args)
    if args.sessions < 2:
        raise SystemExit(f"error: --sessions must be >= 2, got {args.sessions}")
    out: dict = {"world": world_meta(args, world)}
    if args.headroom:
        if not hasattr(world, "new_episode") or getattr(args, "world", "synthetic") == "kuairand":
            raise SystemExit("error: --headroom needs a synthetic world (the planner reads its true law)")
        from device_runtime.sim.headroom import measure_headroom

        out["sessions"], out["seed"] = args.sessions, args.seed
        out["headroom"] = measure_headroom(world, args.sessions, args.seed, progress=not args.quiet)
        h = out["headroom"]
        print(f"oracle_myopic {h['oracle_myopic']['mean']:.2f} ± {h['oracle_myopic']['ci95']:.2f}, "
              f"oracle_lookahead {h['oracle_lookahead']['mean']:.2f} ± {h['oracle_lookahead']['ci95']:.2f} "
              f"per episode; gain {h['gain']['mean']:+.2f} ± {h['gain']['ci95']:.2f} "
              f"({100 * h['gain']['relative']:+.1f}% ± {100 * h['gain']['relative_ci95']:.1f}%, paired over "
              f"{h['gain']['n']} users)", file=sys.stderr)
    elif world.config.multi_session if hasattr(world.config, "multi_session") else False:
        from device_runtime.sim import kuairand_tables as T
        from device_runtime.sim.world_stats import measure_episodes

        log = (getattr(args, "data_dir", None) or T.default_data_dir()) / T.LOG_FILE
        out["config"] = world.config.to_json()
        out["measured"] = measure_episodes(world, args.sessions, args.seed, kuairand_log=log)
    else:
        from device_runtime.sim.world_stats import measure_world

        out["config"], out["measured"] = world.config.to_json(), measure_world(world, sessions=args.sessions,
                                                                               seed=args.seed)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


def _grouped_help() -> str:
    width = max((len(n) for n in _COMMANDS), default=10) + 2
    lines = ["commands, by stage:"]
    for stage, what in STAGES.items():
        names = [n for n, c in _COMMANDS.items() if c[3] == stage]
        if not names:
            continue
        lines.append(f"\n  {stage} — {what}")
        lines += [f"    {n:<{width}}{_COMMANDS[n][0]}" for n in names]
    lines.append("\n`reelrank COMMAND --help` shows a command's flags and their defaults.")
    return "\n".join(lines)


def _command_in(argv: list[str] | None) -> str | None:
    """The subcommand named in ``argv`` (the first word that is a command), if any."""
    for word in sys.argv[1:] if argv is None else argv:
        if word in _COMMANDS:
            return word
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``only``, just that subcommand's flags are configured (the others
    keep their one-line help), so running a command imports only its own config modules."""
    parser = argparse.ArgumentParser(
        prog="reelrank", description="On-device reranking of short-video feeds.",
        usage="reelrank [-h] [--verbose] COMMAND [flags]",
        epilog=_grouped_help(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--verbose", action="store_true",
                        help="show what TensorFlow, absl, oneDNN and LiteRT print (hidden by default)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS)
    order = list(STAGES)
    for name, (help_, configure, fn, _stage) in sorted(_COMMANDS.items(), key=lambda kv: order.index(kv[1][3])):
        p = sub.add_parser(name, prog=f"reelrank {name}", help=help_, description=help_)
        if only is None or name == only:
            configure(p)
        p.set_defaults(_handler=fn)
    return parser


def _register_all() -> None:
    # Subcommand modules add themselves to _COMMANDS on import; they import nothing heavy at top.
    from reelrank import commands  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `reelrank --verbose COMMAND ...`: a global flag, taken out before the parser sees the command
    n_global = next((i for i, a in enumerate(argv) if not a.startswith("-")), len(argv))
    verbose = "--verbose" in argv[:n_global]
    argv = [a for i, a in enumerate(argv) if i >= n_global or a != "--verbose"]
    _register_all()
    parser = build_parser(only=_command_in(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "_handler", None):
        parser.print_help()
        return 2
    from reelrank.quiet import quiet_frameworks

    with quiet_frameworks(verbose):
        return int(args._handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
