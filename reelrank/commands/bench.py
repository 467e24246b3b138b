"""`reelrank bench latency` (and the benchmark reports)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reelrank.cli import command


def _ints(s: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in s.split(",") if x)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from e


def _args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="bench", metavar="WHAT", required=True)
    lat = sub.add_parser("latency", help="rerank latency of every runtime side by side")
    lat.add_argument("--artifact", type=Path, required=True)
    lat.add_argument("--candidates", type=_ints, default=None, help="M_max values, e.g. 9,16,32,64 (default: the artifact's)")
    lat.add_argument("--beam-size", type=_ints, default=None, help="k values, e.g. 1,2,4 (default: the artifact's)")
    lat.add_argument("--threads", type=_ints, default=(1,), help="interpreter threads, e.g. 1,2")
    lat.add_argument("--runs", type=int, default=200, help="timed reranks per configuration")
    lat.add_argument("--warmup", type=int, default=20)
    lat.add_argument("--pages", type=int, default=64, help="distinct realistic pages cycled through")
    lat.add_argument("--runtimes", default=",".join(_RUNTIMES), help="comma-separated subset")
    lat.add_argument("--json", type=Path, required=True, help="output JSON (a .md table and a .png sit beside it)")
    st = sub.add_parser("steps", help="Table 5 format: stability and latency by search step; adaptive vs fixed")
    st.add_argument("--artifact", type=Path, required=True)
    st.add_argument("--runs", type=int, default=200)
    st.add_argument("--json", type=Path, required=True)


_RUNTIMES = ("tflite_xnnpack", "tflite_reference", "python_beam", "onnxruntime", "tf_savedmodel", "policy")


@command("bench", "benchmarks: `bench latency` (runtimes side by side)", _args)
def _bench(args: argparse.Namespace) -> int:
    from benchmarks.latency import _threads_init

    _threads_init()  # before numpy loads: the GEMM reference must be single-core
    from benchmarks.latency import BenchConfig, run_latency
    from benchmarks.report import latency_markdown, latency_plot, ratios_markdown
    from benchmarks.scaling import scaling_fit, steps_markdown, steps_table
    from device_runtime.artifact import load_manifest

    if args.bench == "steps":
        t = steps_table(args.artifact, runs=args.runs)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(t, indent=2))
        print(steps_markdown(t))
        return 0

    manifest = load_manifest(args.artifact)
    cfg = BenchConfig(
        candidates=args.candidates or (manifest["dims"]["m_max"],),
        beam_sizes=args.beam_size or (manifest["beam_size"],),
        threads=args.threads, runs=args.runs, warmup=args.warmup, pages=args.pages,
        runtimes=tuple(r for r in args.runtimes.split(",") if r),
    )
    res = run_latency(args.artifact, cfg)
    res["scaling"] = scaling_fit(res)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2))
    md = latency_markdown(res) + "\n\nRatios of p50 in the same run:\n\n" + ratios_markdown(res)
    fit = res["scaling"].get("latency_vs_k_l_m")
    if fit:
        md += (f"\n\nScaling (tflite_xnnpack p50 ≈ a + b·k·l·m over {fit['points']} configurations): "
               f"a = {fit['intercept_us']:.1f} µs, b = {fit['slope_us']:.3f} µs, R² = {fit['r2']:.3f}.")
    args.json.with_suffix(".md").write_text(md + "\n")
    png = latency_plot(res, args.json.with_suffix(".png"))
    print(md)
    print(f"\nwrote {args.json}, {args.json.with_suffix('.md')}" + (f", {png}" if png else ""))
    return 0


def _bundle_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("artifact", type=Path, help="artifact directory")
    p.add_argument("--out", type=Path, required=True, help="bundle directory to write (replaced)")


@command("bundle", "write what to copy to a Pi or a phone: the artifact, a base wheel, a README", _bundle_args)
def _bundle(args: argparse.Namespace) -> int:
    from benchmarks.bundle import build_bundle

    info = build_bundle(args.artifact, args.out)
    print(json.dumps(info, indent=2))
    return 0
