"""The device side of the ARM check: the artifact's sample rerank pages through the device runtime.

Runs unchanged on x86_64 (LiteRT, numpy 2) and under qemu-aarch64-static (Debian's aarch64
Python 3.11, numpy<2, tflite-runtime 2.14); imports numpy and ``device_runtime`` only. Four paths
per page, each giving ``order``, ``steps`` and ``list_reward``:

* ``rerank``         the in-graph adaptive beam search, at the page's own threshold;
* ``numpy_beam``     ``device_runtime.beam_search`` (Algorithm 1) over the ``score`` signature;
* ``rerank_t1``, ``numpy_beam_t1``  the same at threshold 1.0, so the search runs up to L_max steps
  (a random-weight artifact often stops after one step at its default threshold).

    python device_check.py ARTIFACT OUT.npz [--pages N] [--reference]

writes ``OUT.npz`` (``<path>.order`` [P, M], ``<path>.steps`` [P], ``<path>.list_reward`` [P]) and
prints one JSON line saying how it ran (platform, interpreter, versions).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

from device_runtime import contract as C
from device_runtime.artifact import MODEL, SAMPLES, check_signatures, dims_of, load_manifest
from device_runtime.beam_search import beam_search, signature_scorer
from device_runtime.litert import SignatureRunner, load_interpreter, runtime_name

PATHS = ("rerank", "numpy_beam", "rerank_t1", "numpy_beam_t1")
FIELDS = ("order", "steps", "list_reward")


def run_pages(
    artifact: str | Path, n_pages: int, *, reference: bool = False
) -> tuple[dict[str, np.ndarray], dict]:
    """``{"<path>.<field>": array}`` over the first ``n_pages`` sample rerank pages, and how they ran."""
    root = Path(artifact)
    manifest = load_manifest(root)  # checks the sha256 of every file, on the device side too
    check_signatures(manifest)
    dims, k = dims_of(manifest), int(manifest["beam_size"])
    interp = load_interpreter(
        root / MODEL, reference=reference, quantization=manifest.get("quantization")
    )
    rerank = SignatureRunner(interp, C.RERANK_SIGNATURE)
    score = SignatureRunner(interp, C.SCORE_SIGNATURE)
    samples = np.load(root / SAMPLES)
    batch = {n[len("rerank.") :]: samples[n] for n in samples.files if n.startswith("rerank.")}
    n = min(int(n_pages), batch["cand_mask"].shape[0])
    rows: dict[str, list] = {f"{p}.{f}": [] for p in PATHS for f in FIELDS}
    for i in range(n):
        page = {name: np.asarray(v[i]) for name, v in batch.items()}
        scorer = signature_scorer(score, page, dims.prefix_len)
        for suffix, t in (("", float(page["threshold"])), ("_t1", 1.0)):
            g = rerank(**{**page, "threshold": np.float32(t)})
            b = beam_search(
                scorer,
                page["cand_mask"],
                beam_size=k,
                max_steps=dims.l_max,
                alpha=float(page["alpha"]),
                beta=float(page["beta"]),
                threshold=t,
                n_show=int(page["n_show"]),
            )
            for name, (order, steps, lr) in (
                (f"rerank{suffix}", (g["order"], g["steps"], g["list_reward"])),
                (f"numpy_beam{suffix}", (b.order, b.steps, b.list_reward)),
            ):
                rows[f"{name}.order"].append(np.asarray(order, np.int32).reshape(-1))
                rows[f"{name}.steps"].append(int(steps))
                rows[f"{name}.list_reward"].append(float(lr))
    outputs = {
        key: np.array(v, np.float64 if key.endswith("list_reward") else np.int32)
        for key, v in rows.items()
    }
    return outputs, {
        **platform_info(),
        "kernels": "reference" if reference else "default (XNNPACK)",
        "fast_runner": bool(getattr(rerank, "fast", False)),
    }


def platform_info() -> dict:
    import importlib

    lite = runtime_name()
    return {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "runtime": lite,
        "runtime_version": getattr(importlib.import_module(lite), "__version__", "?"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("artifact")
    ap.add_argument("out", help="where to write the .npz of outputs")
    ap.add_argument(
        "--pages", type=int, default=128, help="how many sample rerank pages (at most all of them)"
    )
    ap.add_argument(
        "--reference", action="store_true", help="reference kernels instead of the default XNNPACK"
    )
    args = ap.parse_args(argv)
    outputs, info = run_pages(args.artifact, args.pages, reference=args.reference)
    np.savez(args.out, **outputs)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
