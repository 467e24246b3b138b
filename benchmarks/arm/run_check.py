"""ARM correctness check: the same artifact and device runtime on x86_64 and on emulated aarch64.

The x86_64 side runs ``device_check.run_pages`` in this environment (LiteRT). The aarch64 side
runs ``device_check.py`` under ``qemu-aarch64-static -L .arm/root`` with Debian's aarch64
Python 3.11 and a site folder holding only numpy<2, tflite-runtime 2.14 and a fresh copy of the
pure-Python ``device_runtime`` package (build both with ``benchmarks/arm/setup.sh``). Every path
(in-graph ``rerank``; numpy beam search over ``score``; both again at threshold 1.0) must give the
same ``order`` and ``steps`` and a ``list_reward`` within ``LIST_REWARD_TOL`` on every page.

Correctness only: emulated time is not latency.

    .venv/bin/python benchmarks/arm/run_check.py ARTIFACT [--pages 128] [--report out/arm_check.json]

Exit status: 0 all pages agree, 1 a mismatch, 2 the aarch64 side is missing or failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.arm.device_check import PATHS, run_pages  # noqa: E402

LIST_REWARD_TOL = 1e-5
NOT_LATENCY = "correctness only: emulated time is not latency"


def run_emulated(
    artifact: Path, pages: int, arm_dir: Path, reference: bool
) -> tuple[dict, dict, float]:
    """Outputs, platform info and wall seconds of ``device_check.py`` under qemu-aarch64-static."""
    root, site = arm_dir / "root", arm_dir / "site"
    qemu = shutil.which("qemu-aarch64-static")
    if qemu is None or not (root / ".ready").exists() or not (site / ".ready").exists():
        raise FileNotFoundError(
            f"no aarch64 root under {arm_dir} or no qemu-aarch64-static: run benchmarks/arm/setup.sh"
        )
    with tempfile.TemporaryDirectory(prefix="arm-check-") as tmp:
        pkg = Path(tmp) / "pkg"
        shutil.copytree(
            REPO / "device_runtime",
            pkg / "device_runtime",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        shutil.copy(Path(__file__).with_name("device_check.py"), pkg / "device_check.py")
        out = Path(tmp) / "aarch64.npz"
        env = ["-E", f"PYTHONPATH={pkg}:{site.resolve()}", "-E", "OPENBLAS_NUM_THREADS=1"]
        script = [str(pkg / "device_check.py"), str(artifact), str(out), "--pages", str(pages)]
        cmd = [qemu, "-L", str(root), *env, str(root / "usr/bin/python3.11"), "-s", *script]
        cmd += ["--reference"] if reference else []
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=tmp)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(
                f"emulated run exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
            )
        with np.load(out) as z:
            outputs = {k: z[k] for k in z.files}
    return outputs, json.loads(proc.stdout.strip().splitlines()[-1]), wall


def compare(x86: dict, arm: dict) -> list[dict]:
    """One row per path: pages whose order / steps agree, and the largest |Δ list_reward|."""
    rows = []
    for p in PATHS:
        same_order = np.all(x86[f"{p}.order"] == arm[f"{p}.order"], axis=1)
        same_steps = x86[f"{p}.steps"] == arm[f"{p}.steps"]
        dlr = np.abs(x86[f"{p}.list_reward"] - arm[f"{p}.list_reward"])
        ok = same_order & same_steps & (dlr <= LIST_REWARD_TOL)
        rows.append(
            {
                "path": p,
                "pages": int(ok.size),
                "order_same": int(same_order.sum()),
                "steps_same": int(same_steps.sum()),
                "max_abs_dlist_reward": float(dlr.max()),
                "mean_steps": float(x86[f"{p}.steps"].mean()),
                "mismatched_pages": np.flatnonzero(~ok).tolist(),
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| path | pages | same order | same steps | max abs Δ list_reward | mean steps |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['path']} | {r['pages']} | {r['order_same']} | {r['steps_same']} | {r['max_abs_dlist_reward']:.2e} | "
        f"{r['mean_steps']:.2f} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("artifact", type=Path)
    ap.add_argument(
        "--pages",
        type=int,
        default=128,
        help="sample rerank pages to compare (the check wants >= 50)",
    )
    ap.add_argument("--arm-dir", type=Path, default=REPO / ".arm", help="what setup.sh built")
    ap.add_argument(
        "--reference",
        action="store_true",
        help="reference kernels on both sides instead of XNNPACK",
    )
    ap.add_argument("--report", type=Path, default=REPO / "out" / "arm_check.json")
    args = ap.parse_args(argv)
    artifact = args.artifact.resolve()

    x86, x86_info = run_pages(artifact, args.pages, reference=args.reference)
    try:
        arm, arm_info, wall = run_emulated(
            artifact, args.pages, args.arm_dir.resolve(), args.reference
        )
    except (FileNotFoundError, RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"ARM CHECK NOT RUN: {e}", file=sys.stderr)
        return 2
    rows = compare(x86, arm)
    n = rows[0]["pages"]
    bad = sorted({i for r in rows for i in r["mismatched_pages"]})
    qemu = subprocess.run(
        ["qemu-aarch64-static", "--version"], capture_output=True, text=True
    ).stdout.splitlines()[0]
    print(f"x86_64 : {x86_info}\naarch64: {arm_info} under {qemu}\n")
    print(table(rows) + "\n")
    print(f"emulated run took {wall:.1f} s wall ({NOT_LATENCY})")
    ok = not bad and n >= 1
    verdict = (
        f"ARM CHECK PASSED: {len(rows)} paths x {n} pages identical on aarch64 and x86_64 "
        f"(order, steps, list_reward within {LIST_REWARD_TOL:g})"
        if ok
        else f"ARM CHECK FAILED: {len(bad)} of {n} pages differ between aarch64 and x86_64 (pages {bad[:20]})"
    )
    print(verdict)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(
        json.dumps(
            {
                "ok": ok,
                "artifact": str(artifact),
                "pages": n,
                "list_reward_tol": LIST_REWARD_TOL,
                "x86_64": x86_info,
                "aarch64": {**arm_info, "emulator": qemu, "emulated_wall_s": round(wall, 1)},
                "note": NOT_LATENCY,
                "paths": rows,
                "verdict": verdict,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"report: {args.report}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
