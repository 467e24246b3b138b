"""`reelrank export`: a trained ranker run → an artifact directory.

    model.tflite        signatures `score` and `rerank` (adaptive beam search in the graph)
    sample_inputs.npz   inputs of both signatures from real simulated pages (+ Keras `score` outputs)
    manifest.json       contract, dims, defaults, hashes, data fingerprint, metrics, FLOPs, stability
    model.onnx          optional (`--onnx`), the `rerank` signature via tf2onnx
    savedmodel/         the frozen TF SavedModel the others were converted from (server side only;
                        not part of the device artifact, not in the manifest's file list)
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from device_runtime import contract as C
from device_runtime.artifact import MODEL, ONNX, SAMPLES
from device_runtime.litert import MANIFEST_METADATA_KEY
from device_runtime.sim.samples import collect_inputs, score_inputs_from, with_search_params
from device_runtime.sim.world import SyntheticWorld
from export import manifest as M
from export.config import ExportConfig
from export.convert import embed_metadata, frozen_module, save_savedmodel, to_tflite
from export.graph import SearchConfig
from export.opcheck import op_histogram, subgraph_flops


def keras_score_outputs(model, score_inputs: dict[str, np.ndarray], dims: C.Dims) -> dict[str, np.ndarray]:
    """The Keras model's predictions for stacked ``score`` inputs: {task output: [P, M]}."""
    p, m = score_inputs["cand_mask"].shape
    rows = {
        "hist_dense": np.repeat(score_inputs["hist_dense"], m, axis=0),
        "hist_ids": np.repeat(score_inputs["hist_ids"], m, axis=0),
        "hist_mask": np.repeat(score_inputs["hist_mask"], m, axis=0),
        "prefix_dense": np.repeat(score_inputs["prefix_dense"], m, axis=0),
        "prefix_ids": np.repeat(score_inputs["prefix_ids"], m, axis=0),
        "prefix_mask": np.repeat(score_inputs["prefix_mask"], m, axis=0),
        "cand_dense": score_inputs["cand_dense"].reshape(p * m, -1),
        "cand_ids": score_inputs["cand_ids"].reshape(p * m, -1),
        "context": np.repeat(score_inputs["context"], m, axis=0),
    }
    short = model.config.prefix_len - rows["prefix_mask"].shape[1]
    if short > 0:  # an export with a smaller L_max than the ranker's: pad with empty prefix slots
        for name in ("prefix_dense", "prefix_ids", "prefix_mask"):
            x = rows[name]
            rows[name] = np.concatenate([x, np.zeros((x.shape[0], short, *x.shape[2:]), x.dtype)], axis=1)
    probs = np.asarray(model.predict(rows, batch_size=4096, verbose=0)).reshape(p, m, 3)
    probs = probs * score_inputs["cand_mask"][:, :, None]
    return {name: probs[:, :, i].astype(np.float32) for i, name in enumerate(C.SCORE_OUTPUTS)}


def export_artifact(run_dir: str | Path, out_dir: str | Path, cfg: ExportConfig, log=print) -> dict:
    from export.stability import stability_table
    from training.ranker.model import load_ranker

    model, payload = load_ranker(run_dir)
    dims = C.Dims(n_history=model.config.n_history, m_max=cfg.max_candidates, l_max=cfg.max_steps)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    search = SearchConfig(dims, cfg.beam_size)

    log(f"[export] freezing `score` and `rerank` (M_max={dims.m_max}, k={cfg.beam_size}, L_max={dims.l_max}) ...")
    sm_dir = out / "savedmodel"
    if sm_dir.exists():
        shutil.rmtree(sm_dir)
    save_savedmodel(frozen_module(model, search), sm_dir)
    log(f"[export] converting to TFLite (builtin ops only, quantize={cfg.quantize}) ...")
    blob = to_tflite(sm_dir, cfg.quantize)

    log(f"[export] collecting {cfg.sample_pages} pages from simulated sessions ...")
    world = SyntheticWorld(world_seed=cfg.world_seed)
    pages = collect_inputs(cfg.sample_pages, dims, world, seed=cfg.seed)
    rerank_in = with_search_params(pages, cfg.alpha, cfg.beta, cfg.threshold, cfg.n_show)
    score_in = score_inputs_from(pages, dims, seed=cfg.seed)
    keras_out = keras_score_outputs(model, score_in, dims)
    samples = {f"rerank.{k}": v for k, v in rerank_in.items()}
    samples |= {f"score.{k}": v for k, v in score_in.items()}
    samples |= {f"keras.{k}": v for k, v in keras_out.items()}
    np.savez_compressed(out / SAMPLES, **samples)

    flops = subgraph_flops(blob)
    by_name = {f.name: f.flops for f in flops}
    tmp = Path(tempfile.mkdtemp()) / MODEL
    tmp.write_bytes(blob)
    stab = stability_table(tmp, rerank_in, score_in, dims, cfg.beam_size)
    mean_steps = stab["mean_steps"]
    pre, body = by_name.get(C.RERANK_SIGNATURE, 0), by_name.get("while_body", 0)
    flops_info = {
        "rerank_before_loop": pre,
        "rerank_per_step": body,
        "mean_steps_sample": mean_steps,
        # step 1 runs before the loop (one live beam, M rows); the loop body runs steps - 1 times
        "per_rerank_hoisted": pre + max(mean_steps - 1.0, 0.0) * body,
        # estimate without hoisting: every step re-runs the prefix-independent work for each of the
        # k beams' M rows (k × the pre-loop work) next to the prefix-dependent head
        "per_rerank_not_hoisted": mean_steps * (body + cfg.beam_size * pre),
        "score_call": by_name.get(C.SCORE_SIGNATURE, 0),
    }
    metrics_path = Path(run_dir) / "metrics.json"
    ranker_metrics = json.loads(metrics_path.read_text()).get("model") if metrics_path.exists() else None
    manifest = M.build_manifest(
        dims=dims, beam_size=cfg.beam_size, quantization=cfg.quantize,
        defaults={"alpha": cfg.alpha, "beta": cfg.beta, "threshold": cfg.threshold, "n_show": cfg.n_show},
        ranker_payload=payload, ranker_metrics=ranker_metrics,
        data_fingerprint=M.fingerprint_of(run_dir, payload),
        extra={
            "source": {"ranker_run": str(Path(run_dir)), "sample_world_seed": cfg.world_seed,
                       "sample_seed": cfg.seed, "sample_pages": cfg.sample_pages},
            "flops": flops_info,
            "stability": stab,
            "params": int(model.count_params()),
            "ops": dict(sorted(op_histogram(blob).items())),
        },
    )
    blob = embed_metadata(blob, MANIFEST_METADATA_KEY, M.embedded_copy(manifest))
    (out / MODEL).write_bytes(blob)
    files = [MODEL, SAMPLES]
    if cfg.onnx:
        from export.onnx_export import export_onnx

        log("[export] converting `rerank` to ONNX (tf2onnx) ...")
        export_onnx(sm_dir, out / ONNX)
        files.append(ONNX)
    manifest["size_bytes"] = {f: (out / f).stat().st_size for f in files}
    manifest = M.finalize(manifest, out, files)
    return manifest
