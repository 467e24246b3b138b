"""`reelrank bench latency`: rerank latency of every runtime side by side, in one process.

Per configuration (runtime, M_max = m, beam size k, threads) it reports the fields TFLite's
`benchmark_model` prints — init time, first run, warm-up mean, then count/min/max/mean/std and
p5/p50/p95/p99 in µs — plus search steps, (prefix, candidate) rows scored per rerank, FLOPs per
rerank counted from the graph, achieved GFLOP/s, and the efficiency against a single-core float32
GEMM measured with numpy in the same process.

Runtimes: the in-graph adaptive beam search under LiteRT with XNNPACK and with the reference
kernels, `python_beam` (numpy Algorithm 1 over `score`, built to be fast: fixed-shape runner, page
inputs set once per rerank, only the prefix per beam), onnxruntime `rerank`, the TensorFlow
SavedModel `rerank`, and the compact policy when the artifact has one. Runtimes whose package is
absent (e.g. TensorFlow on a phone) are reported as skipped, not silently dropped.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from device_runtime import contract as C
from device_runtime.artifact import MODEL, ONNX, POLICY, dims_of, load_manifest
from device_runtime.beam_search import beam_search, signature_scorer
from device_runtime.litert import SignatureRunner, load_interpreter, runtime_name
from device_runtime.sim.samples import collect_inputs, row, with_search_params
from device_runtime.sim.world import SyntheticWorld, WorldConfig

RUNTIMES = ("tflite_xnnpack", "tflite_reference", "python_beam", "onnxruntime", "tf_savedmodel", "policy")


@dataclass(frozen=True)
class BenchConfig:
    """What to measure."""

    candidates: tuple[int, ...] = (16,)
    """M_max values; a variant artifact is exported per value that differs from the artifact's."""
    beam_sizes: tuple[int, ...] = (4,)
    """Beam sizes k; same rule."""
    threads: tuple[int, ...] = (1,)
    """Interpreter threads."""
    runs: int = 200
    """Timed reranks per configuration (after the warm-up)."""
    warmup: int = 20
    """Untimed reranks per configuration."""
    pages: int = 64
    """Distinct realistic pages cycled through."""
    runtimes: tuple[str, ...] = RUNTIMES
    """Runtimes to measure."""
    seed: int = 31
    """Seed of the simulated sessions the pages come from."""


# -- machine ----------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    info = {"cpu": cpu_model(), "arch": platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__, "interpreter": runtime_name()}
    for mod in ("ai_edge_litert", "onnxruntime", "tensorflow"):
        try:
            from importlib import metadata

            info[mod] = metadata.version(mod.replace("_", "-") if mod != "tensorflow" else "tensorflow-cpu")
        except Exception:  # noqa: BLE001 - absent packages are reported as absent
            info[mod] = None
    return info


def numpy_gemm_gflops(n: int = 384, repeats: int = 30) -> float:
    """Single-core float32 GEMM throughput (numpy's BLAS, limited to one thread by `bench`'s entry
    point before numpy loads): the reference peak for efficiency ratios. Best of ``repeats``."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


# -- timing -----------------------------------------------------------------------------------
def timing_stats(fn: Callable[[int], object], runs: int, warmup: int, n_pages: int) -> dict:
    """benchmark_model-style fields for ``fn(page_index)``."""
    t0 = time.perf_counter_ns()
    fn(0)
    first = (time.perf_counter_ns() - t0) / 1e3
    w = []
    for i in range(warmup):
        t0 = time.perf_counter_ns()
        fn(i % n_pages)
        w.append((time.perf_counter_ns() - t0) / 1e3)
    xs = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        fn(i % n_pages)
        xs[i] = (time.perf_counter_ns() - t0) / 1e3
    return {
        "first_run_us": first, "warmup_mean_us": float(np.mean(w)) if w else None, "count": runs,
        "min_us": float(xs.min()), "max_us": float(xs.max()), "mean_us": float(xs.mean()), "std_us": float(xs.std()),
        **{f"p{q}_us": float(np.percentile(xs, q)) for q in (5, 50, 95, 99)},
    }


# -- pages and variants -----------------------------------------------------------------------
def pages_for(m: int, dims: C.Dims, n: int, seed: int, defaults: dict) -> dict[str, np.ndarray]:
    """Realistic pages with M_max = m slots: the default world (a page of 9 plus the cache) when
    m is the default M_max, else a world whose pages and cache hold m candidates."""
    if m == C.M_MAX_DEFAULT:
        world = SyntheticWorld()
    else:
        cfg = replace(WorldConfig(), page_size=m, cache_limit=m, pool_size=max(120, 4 * m))
        world = SyntheticWorld(cfg)
    raw = collect_inputs(n, dims, world, seed=seed)
    return with_search_params(raw, defaults["alpha"], defaults["beta"], defaults["threshold"], defaults["n_show"])


def variant(artifact: Path, m: int, k: int, cache: Path, log=print) -> Path | None:
    """The artifact itself if it has M_max = m and beam size k, else a cached re-export from its
    ranker run (needs TensorFlow); None when that cannot be made here."""
    manifest = load_manifest(artifact, check_hashes=False)
    if manifest["dims"]["m_max"] == m and manifest["beam_size"] == k:
        return artifact
    out = cache / f"m{m}_k{k}"
    if (out / MODEL).exists():
        return out
    run = manifest.get("source", {}).get("ranker_run")
    try:
        from export.artifact import ExportConfig, export_artifact
    except ImportError:
        log(f"[bench] skip m={m}, k={k}: re-export needs TensorFlow")
        return None
    if not run or not Path(run).exists():
        log(f"[bench] skip m={m}, k={k}: the artifact's ranker run {run!r} is not here")
        return None
    d = manifest["defaults"]
    log(f"[bench] exporting variant m={m}, k={k} from {run} ...")
    export_artifact(run, out, ExportConfig(max_candidates=m, beam_size=k, max_steps=min(manifest["dims"]["l_max"], m),
                                           onnx=True, sample_pages=64, alpha=d["alpha"], beta=d["beta"],
                                           threshold=d["threshold"], n_show=d["n_show"]), log=lambda *a: None)
    return out


# -- runtimes ---------------------------------------------------------------------------------
@dataclass
class Prepared:
    call: Callable[[int], dict]
    init_us: float
    note: str = ""


def _manifest_flops(art: Path) -> dict:
    """FLOPs the exporter counted from the graph (manifest), so no flatbuffer parser is needed."""
    return load_manifest(art, check_hashes=False).get("flops", {})


def prepare(runtime: str, art: Path, batch: dict, threads: int, dims: C.Dims, k: int) -> Prepared | str:
    """A callable running one rerank of page i, or a string saying why this runtime is skipped."""
    n = batch["cand_mask"].shape[0]
    pages = [row(batch, i) for i in range(n)]
    if runtime in ("tflite_xnnpack", "tflite_reference", "python_beam"):
        t0 = time.perf_counter_ns()
        interp = load_interpreter(art / MODEL, reference=runtime == "tflite_reference", threads=threads)
        rerank = SignatureRunner(interp, C.RERANK_SIGNATURE)
        score = SignatureRunner(interp, C.SCORE_SIGNATURE)
        init = (time.perf_counter_ns() - t0) / 1e3
        if runtime != "python_beam":
            return Prepared(lambda i: rerank(**pages[i]), init)

        def python_beam(i: int) -> dict:
            p = pages[i]
            r = beam_search(signature_scorer(score, p, dims.prefix_len), p["cand_mask"], beam_size=k,
                            max_steps=dims.l_max, alpha=float(p["alpha"]), beta=float(p["beta"]),
                            threshold=float(p["threshold"]), n_show=int(p["n_show"]))
            return {"order": r.order, "steps": r.steps, "list_reward": r.list_reward, "evaluations": r.evaluations}

        return Prepared(python_beam, init)
    if runtime == "onnxruntime":
        if not (art / ONNX).exists():
            return "no model.onnx in the artifact (export with --onnx)"
        try:
            from export.onnx_export import OnnxRerank
        except ImportError:
            return "onnxruntime not installed"
        t0 = time.perf_counter_ns()
        try:
            sess = OnnxRerank(art / ONNX, threads=threads)
        except ImportError:
            return "onnxruntime not installed"
        return Prepared(lambda i: sess(**pages[i]), (time.perf_counter_ns() - t0) / 1e3)
    if runtime == "tf_savedmodel":
        if not (art / "savedmodel").exists():
            return "no savedmodel/ in the artifact"
        try:
            import tensorflow as tf
        except ImportError:
            return "TensorFlow not installed"
        if threads != 1:
            return "TensorFlow's thread pools are fixed per process; measured at 1 thread only"
        t0 = time.perf_counter_ns()
        fn = tf.saved_model.load(str(art / "savedmodel")).signatures[C.RERANK_SIGNATURE]
        tensors = [{k2: tf.constant(v) for k2, v in p.items()} for p in pages]
        init = (time.perf_counter_ns() - t0) / 1e3
        return Prepared(lambda i: {k2: v.numpy() for k2, v in fn(**tensors[i]).items()}, init)
    if runtime == "policy":
        if not (art / POLICY).exists():
            return "no policy.tflite in the artifact (add one with `reelrank export-policy`)"
        t0 = time.perf_counter_ns()
        runner = SignatureRunner(load_interpreter(art / POLICY, threads=threads), C.POLICY_SIGNATURE)
        init = (time.perf_counter_ns() - t0) / 1e3
        feeds = [{k2: v for k2, v in p.items() if k2 in runner.inputs} for p in pages]
        return Prepared(lambda i: runner(**feeds[i]), init)
    return f"unknown runtime {runtime!r}"


def _threads_init():
    """Limit numpy's BLAS to one thread for the GEMM reference; must run before numpy loads."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def run_latency(artifact: str | Path, cfg: BenchConfig, log=print) -> dict:
    from tqdm import tqdm

    artifact = Path(artifact)
    base = load_manifest(artifact)
    cache = artifact.parent / f".bench_variants_{artifact.name}"
    peak = numpy_gemm_gflops()
    rows: list[dict] = []
    skipped: list[dict] = []
    combos = [(m, k) for m in cfg.candidates for k in cfg.beam_sizes]
    for m, k in combos:
        art = variant(artifact, m, k, cache, log)
        if art is None:
            skipped.append({"m": m, "k": k, "why": "variant not available here"})
            continue
        manifest = load_manifest(art)
        dims = dims_of(manifest)
        batch = pages_for(m, dims, cfg.pages, cfg.seed, manifest["defaults"])
        fl = _manifest_flops(art)
        pre, body = fl.get("rerank_before_loop", 0), fl.get("rerank_per_step", 0)
        bar = tqdm([(t, r) for t in cfg.threads for r in cfg.runtimes], desc=f"bench m={m} k={k}", unit="config")
        for threads, runtime in bar:
            prep = prepare(runtime, art, batch, threads, dims, k)
            if isinstance(prep, str):
                skipped.append({"runtime": runtime, "m": m, "k": k, "threads": threads, "why": prep})
                continue
            outs = [prep.call(i) for i in range(cfg.pages)]
            steps = [int(o["steps"]) for o in outs if "steps" in o]
            mean_steps = float(np.mean(steps)) if steps else None
            stats = timing_stats(prep.call, cfg.runs, cfg.warmup, cfg.pages)
            row = {"runtime": runtime, "m": m, "k": k, "threads": threads, "init_us": prep.init_us, **stats,
                   "mean_steps": mean_steps}
            if runtime == "python_beam":
                row["score_calls_per_rerank"] = float(np.mean([o["evaluations"] for o in outs]))
                row["rows_scored_per_rerank"] = row["score_calls_per_rerank"] * m
                # each score call runs the encoder and the head on M rows
                row["flops_per_rerank"] = row["score_calls_per_rerank"] * fl.get("score_call", 0)
            elif runtime != "policy" and mean_steps is not None:
                row["rows_scored_per_rerank"] = mean_steps * k * m
                row["flops_per_rerank"] = pre + max(mean_steps - 1.0, 0.0) * body  # step 1 is before the loop
            if row.get("flops_per_rerank"):
                row["gflops"] = row["flops_per_rerank"] / (row["mean_us"] * 1e3)
                row["efficiency_vs_numpy_gemm_1core"] = row["gflops"] / peak / max(threads, 1)
            rows.append(row)
    return {"machine": machine_info(), "numpy_gemm_gflops_1core": peak, "artifact": str(artifact),
            "artifact_params": base.get("params"), "quantization": base.get("quantization"),
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.__dict__.items()},
            "results": rows, "skipped": skipped}
