"""Markdown tables and PNG plots from benchmark JSON (docs/performance.md is made
by these functions, from the JSON, with the command that produced it)."""

from __future__ import annotations

from pathlib import Path


def _f(x, nd=1):
    return "-" if x is None else f"{x:,.{nd}f}"


def latency_markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['arch']}), Python {m['python']}, numpy {m['numpy']}, "
        f"interpreter {m['interpreter']} {m.get('ai_edge_litert') or ''}; numpy single-core float32 GEMM "
        f"{res['numpy_gemm_gflops_1core']:.1f} GFLOP/s.",
        "",
        "| runtime | M_max | k | threads | init µs | first µs | p50 µs | p95 µs | p99 µs | mean ± std µs | steps | FLOPs/rerank | GFLOP/s | eff. |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["results"]:
        lines.append(
            f"| {r['runtime']} | {r['m']} | {r['k']} | {r['threads']} | {_f(r['init_us'], 0)} | {_f(r['first_run_us'], 0)} | "
            f"{_f(r['p50_us'])} | {_f(r['p95_us'])} | {_f(r['p99_us'])} | {_f(r['mean_us'])} ± {_f(r['std_us'])} | "
            f"{_f(r.get('mean_steps'), 2)} | {_f(r.get('flops_per_rerank'), 0)} | {_f(r.get('gflops'), 2)} | "
            f"{_f(r.get('efficiency_vs_numpy_gemm_1core'), 3)} |"
        )
    if res.get("skipped"):
        lines += ["", "Not measured: " + "; ".join(
            f"{s.get('runtime', 'variant')} (m={s['m']}, k={s['k']}): {s['why']}" for s in res["skipped"])]
    return "\n".join(lines)


def ratios_markdown(res: dict, base: str = "python_beam") -> str:
    """p50 of every runtime divided by `base`'s p50 in the same configuration (same run)."""
    by = {}
    for r in res["results"]:
        by.setdefault((r["m"], r["k"], r["threads"]), {})[r["runtime"]] = r["p50_us"]
    lines = ["| M_max | k | threads | " + " | ".join(f"{rt} / {base}" for rt in ("tflite_xnnpack", "tflite_reference",
             "onnxruntime", "tf_savedmodel")) + " |", "|---|---|---|---|---|---|---|"]
    for (m, k, t), d in sorted(by.items()):
        if base not in d:
            continue
        cells = [f"{d[rt] / d[base]:.3f}" if rt in d else "-" for rt in ("tflite_xnnpack", "tflite_reference",
                                                                         "onnxruntime", "tf_savedmodel")]
        lines.append(f"| {m} | {k} | {t} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def latency_plot(res: dict, path: str | Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, 1, figsize=(7, 4.5))
    ks = sorted({r["k"] for r in res["results"]})
    k = max(ks)
    t = min(r["threads"] for r in res["results"])
    for rt in sorted({r["runtime"] for r in res["results"]}):
        pts = sorted((r["m"], r["p50_us"], r["p95_us"]) for r in res["results"]
                     if r["runtime"] == rt and r["k"] == k and r["threads"] == t)
        if pts:
            xs, p50, p95 = zip(*pts, strict=True)
            axes.plot(xs, p50, marker="o", label=rt)
            axes.fill_between(xs, p50, p95, alpha=0.15)
    axes.set_xlabel("candidate slots M_max")
    axes.set_ylabel("rerank latency p50 (µs), band to p95")
    axes.set_yscale("log")
    axes.set_title(f"Rerank latency by runtime (k={k}, {t} thread)\n{res['machine']['cpu']}")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
