"""`reelrank export` and `reelrank verify`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reelrank.cli import command, config_arg


def _export_args(p: argparse.ArgumentParser) -> None:
    from export.config import ExportConfig

    p.add_argument("--ranker", type=Path, required=True, help="a train-ranker output directory")
    p.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    config_arg(p, "--max-candidates", ExportConfig, type=int, help="M_max")
    config_arg(p, "--beam-size", ExportConfig, type=int, help="k (1 = greedy)")
    config_arg(p, "--max-steps", ExportConfig, type=int, help="L_max")
    config_arg(p, "--quantize", ExportConfig, choices=("none", "fp16", "dynamic-int8"), help="weights")
    config_arg(p, "--onnx", ExportConfig, action="store_true", help="also write model.onnx (rerank)")
    config_arg(p, "--sample-pages", ExportConfig, type=int,
               help="rerank inputs (sample pages) stored in sample_inputs.npz (>= 64)")
    p.add_argument("--quant-pages", type=int, default=1000, help="pages for the quantization report")
    p.add_argument("--quant-log-sessions", type=int, default=300,
                   help="logged sessions whose impressions measure the AUC change of a quantized model")


@command("export", "export a trained ranker to a TFLite artifact with in-graph adaptive beam search",
         _export_args, stage="export")
def _export(args: argparse.Namespace) -> int:
    from export.artifact import ExportConfig, export_artifact
    from export.stability import format_table

    cfg = ExportConfig(max_candidates=args.max_candidates, beam_size=args.beam_size, max_steps=args.max_steps,
                       quantize=args.quantize, onnx=args.onnx, sample_pages=args.sample_pages)
    manifest = export_artifact(args.ranker, args.out, cfg)
    f = manifest["flops"]
    print(f"\nwrote {args.out}: " + ", ".join(f"{k} {v:,} B" for k, v in manifest["size_bytes"].items()))
    print(f"parameters: {manifest['params']:,}; quantization: {manifest['quantization']}")
    print(f"FLOPs per rerank (mean {f['mean_steps_sample']:.2f} steps on the sample pages): "
          f"{f['per_rerank_hoisted']:,.0f} with prefix-independent work hoisted out of the loop, "
          f"{f['per_rerank_not_hoisted']:,.0f} without ({f['per_rerank_not_hoisted'] / max(f['per_rerank_hoisted'], 1):.2f}x)")
    print("\nStability by search step (Table 5 format, searching to L_max):")
    print(format_table(manifest["stability"]))
    if args.quantize != "none":
        from export.quant_report import quant_report

        rep = quant_report(args.ranker, args.out, pages=args.quant_pages, log_sessions=args.quant_log_sessions)
        (args.out / "quantization_report.json").write_text(json.dumps(rep, indent=2))
        print("\nQuantization report (vs float32):")
        print(json.dumps(rep, indent=2))
    return 0


def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("artifact", type=Path, help="artifact directory")
    p.add_argument("--extra-pages", type=int, default=200, help="fresh simulated pages beyond the samples")
    p.add_argument("--json", type=Path, default=None, help="write the report as JSON")


@command("verify", "check an artifact against independent references (exit 1 on any failure)", _verify_args, stage="export")
def _verify(args: argparse.Namespace) -> int:
    from export.verify import format_report, verify_artifact

    rep = verify_artifact(args.artifact, extra_pages=args.extra_pages)
    print(format_report(rep, args.artifact))
    if args.json:
        args.json.write_text(json.dumps(rep.to_json(), indent=2))
    sys.stdout.flush()
    return 0 if rep.ok else 1
