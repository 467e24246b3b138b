"""`reelrank export-policy`: a trained policy run → ``policy.tflite`` inside an existing ranker
artifact, and the policy's check in `reelrank verify`.

    policy.tflite        signatures ``policy_rerank`` (history, candidates, mask, context → scores,
                         order) and ``policy_guide`` (scores, mask → λ·normalised score, the
                         policy-guided beam search's bonus; λ fixed here); builtin ops only,
                         frozen weights, fixed shapes; the manifest's ``policy`` section embedded
    policy_samples.npz   real simulated pages and the Keras network's scores and orders on them
    manifest.json        + ``policy`` section (signatures, λ, parameters, parity, ops), and both
                         files added to the sha256 list

Conversion reuses ``export.convert`` (freezing, output restoring, metadata) and
``export.opcheck``; the verification half (``verify_policy``) is TensorFlow-free.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device_runtime import contract as C
from device_runtime.artifact import MANIFEST, POLICY, dims_of, load_manifest
from device_runtime.litert import (
    MANIFEST_METADATA_KEY,
    SignatureRunner,
    load_interpreter,
    read_embedded_manifest,
)
from device_runtime.policy_strategy import guide_reference

POLICY_SAMPLES = "policy_samples.npz"
#: |TFLite - Keras| / max(1, |Keras|): policy scores are unnormalised Φ·Z (tens), where one float32
#: ulp is already ~4e-6, so the 1e-5 tolerance is relative above magnitude 1 and absolute below it
SCORE_TOL = 1e-5
MAX_PARAMS_DEFAULT = 100_000


@dataclass(frozen=True)
class PolicyExportConfig:
    """What to export."""

    beam_lambda: float = 0.5
    """λ of policy-guided beam search: the bonus of the best-scored candidate, in ListReward units."""
    sample_pages: int = 64
    """Real simulated pages stored with the Keras outputs for parity checks (>= 16)."""
    world_seed: int = 0
    """World the sample pages come from."""
    seed: int = 2025
    """Run seed of the sample sessions."""
    max_params: int = MAX_PARAMS_DEFAULT
    """Refuse a policy network with more parameters than this."""

    def __post_init__(self) -> None:
        if self.sample_pages < 16:
            raise ValueError(f"`sample_pages` must be >= 16, got {self.sample_pages}")
        if not np.isfinite(self.beam_lambda) or self.beam_lambda < 0:
            raise ValueError(f"`beam_lambda` must be a finite number >= 0, got {self.beam_lambda}")


# -- the graph ----------------------------------------------------------------------------------
def policy_functions(model, dims: C.Dims, beam_lambda: float):
    """(policy_rerank, policy_guide) over unbatched contract tensors."""
    import tensorflow as tf

    def policy_rerank(hist_dense, hist_ids, hist_mask, cand_dense, cand_ids, cand_mask, context):
        feeds = {"hist_dense": hist_dense, "hist_ids": hist_ids, "hist_mask": hist_mask, "cand_dense": cand_dense,
                 "cand_ids": cand_ids, "cand_mask": cand_mask, "context": context}
        out = model({k: v[None] for k, v in feeds.items()})
        return {"scores": tf.reshape(out["scores"], [dims.m_max]), "order": tf.reshape(out["order"], [dims.m_max])}

    def policy_guide(scores, cand_mask):
        valid = tf.cast(cand_mask > 0.5, tf.float32)
        big = tf.constant(1.0e9, tf.float32)
        lo = tf.reduce_min(scores * valid + (1.0 - valid) * big)
        span = tf.reduce_max(scores * valid - (1.0 - valid) * big) - lo
        norm = (scores - lo) / tf.maximum(span, tf.constant(1e-30, tf.float32))
        guide = tf.where(span > 0.0, tf.constant(beam_lambda, tf.float32) * norm, tf.zeros_like(scores)) * valid
        return {"guide": guide}

    return policy_rerank, policy_guide


def _specs(name: str, dims: C.Dims) -> dict:
    import tensorflow as tf

    return {s.name: tf.TensorSpec(s.shape, getattr(tf, s.dtype), name=s.name)
            for s in C.policy_signature_specs(dims)[name]["inputs"]}


def to_policy_tflite(model, dims: C.Dims, beam_lambda: float, workdir: Path) -> bytes:
    """Freeze both signatures → SavedModel → TFLite (builtin ops only); raises on a forbidden op."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from export.convert import _restore_structure
    from export.opcheck import check_ops

    module = tf.Module()
    names = (C.POLICY_SIGNATURE, C.POLICY_GUIDE_SIGNATURE)
    for name, fn in zip(names, policy_functions(model, dims, beam_lambda), strict=True):
        specs = _specs(name, dims)
        concrete = tf.function(fn).get_concrete_function(**specs)
        frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False)
        got = [t.name.split(":")[0] for t in frozen.inputs]
        if got != list(specs):
            raise RuntimeError(f"frozen {name} inputs {got} != contract {list(specs)}")
        setattr(module, name, tf.function(_restore_structure(frozen, concrete), input_signature=list(specs.values())))
    sm = workdir / "policy_savedmodel"
    tf.saved_model.save(module, str(sm), signatures={n: getattr(module, n).get_concrete_function() for n in names})
    conv = tf.lite.TFLiteConverter.from_saved_model(str(sm), signature_keys=list(names))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    blob = conv.convert()
    check_ops(blob)
    return blob


# -- parity -------------------------------------------------------------------------------------
def keras_outputs(model, pages: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The Keras network's scores and orders on stacked pages."""
    out = model({s: pages[s] for s in ("hist_dense", "hist_ids", "hist_mask", "cand_dense", "cand_ids",
                                       "cand_mask", "context")})
    return {"scores": np.asarray(out["scores"], np.float32), "order": np.asarray(out["order"], np.int32)}


def parity(runner: SignatureRunner, samples: dict[str, np.ndarray]) -> dict:
    """TFLite ``policy_rerank`` against the stored Keras outputs: identical orders and the largest
    score difference scaled by max(1, |Keras score|) (see ``SCORE_TOL``)."""
    n = samples["cand_mask"].shape[0]
    same, worst = 0, 0.0
    for i in range(n):
        out = runner(**{s.name: samples[s.name][i] for s in C.policy_inputs(_dims_of_samples(samples))})
        same += bool(np.array_equal(out["order"], samples["keras.order"][i]))
        ref = samples["keras.scores"][i]
        worst = max(worst, float(np.max(np.abs(out["scores"] - ref) / np.maximum(1.0, np.abs(ref)))))
    return {"pages": n, "order_identical": same, "max_scaled_score_diff": worst}


def _dims_of_samples(samples) -> C.Dims:
    return C.Dims(n_history=int(samples["hist_mask"].shape[1]), m_max=int(samples["cand_mask"].shape[1]), l_max=1)


# -- export -------------------------------------------------------------------------------------
def export_policy(policy_run: str | Path, artifact_dir: str | Path, cfg: PolicyExportConfig | None = None,
                  log=print) -> dict:
    """Write policy.tflite (+ samples) into ``artifact_dir`` and update its manifest."""
    from device_runtime.sim.samples import collect_inputs
    from export import manifest as M
    from export.convert import embed_metadata
    from export.opcheck import op_histogram
    from training.policy.network import load_policy

    cfg = cfg or PolicyExportConfig()
    root = Path(artifact_dir)
    manifest = load_manifest(root)  # refuses a missing or tampered ranker artifact
    dims = dims_of(manifest)
    model, payload = load_policy(policy_run)
    pc = model.config
    if (pc.n_history, pc.m_max) != (dims.n_history, dims.m_max):
        raise ValueError(f"the policy must be built for the artifact's (n_history, m_max) = "
                         f"({dims.n_history}, {dims.m_max}), got ({pc.n_history}, {pc.m_max})")
    params = int(model.count_params())
    if params > cfg.max_params:
        raise ValueError(f"the policy must have <= {cfg.max_params:,} parameters (`max_params`), got {params:,}")

    log(f"[export-policy] freezing `{C.POLICY_SIGNATURE}` and `{C.POLICY_GUIDE_SIGNATURE}` "
        f"(λ = {cfg.beam_lambda:g}, {params:,} parameters) ...")
    work = Path(tempfile.mkdtemp(prefix="policy_export_"))
    try:
        blob = to_policy_tflite(model, dims, cfg.beam_lambda, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    log(f"[export-policy] parity on {cfg.sample_pages} simulated pages ...")
    from device_runtime.sim.world import SyntheticWorld

    pages = collect_inputs(cfg.sample_pages, dims, SyntheticWorld(world_seed=cfg.world_seed), seed=cfg.seed)
    ref = keras_outputs(model, pages)
    samples = {**pages, "keras.scores": ref["scores"], "keras.order": ref["order"]}
    runner = SignatureRunner(load_interpreter(blob), C.POLICY_SIGNATURE)
    par = parity(runner, samples)
    if par["order_identical"] != par["pages"] or par["max_scaled_score_diff"] > SCORE_TOL:
        raise RuntimeError(f"policy.tflite differs from the Keras network: {par}")

    sigs = {name: {"inputs": [s.to_json() for s in sig["inputs"]], "outputs": [s.to_json() for s in sig["outputs"]]}
            for name, sig in C.policy_signature_specs(dims).items()}
    section = {
        "file": POLICY, "samples": POLICY_SAMPLES, "signatures": sigs, "beam_lambda": cfg.beam_lambda,
        "params": params, "algo": payload.get("algo"), "config": pc.to_json(),
        "source": {"policy_run": str(Path(policy_run)), "sample_world_seed": cfg.world_seed, "sample_seed": cfg.seed},
        "parity": par, "ops": dict(sorted(op_histogram(blob).items())),
    }
    blob = embed_metadata(blob, MANIFEST_METADATA_KEY, json.dumps(section, sort_keys=True).encode())
    (root / POLICY).write_bytes(blob)
    np.savez_compressed(root / POLICY_SAMPLES, **samples)
    manifest["policy"] = section
    files = sorted(set(manifest["files"]) | {POLICY, POLICY_SAMPLES})
    manifest["size_bytes"] = {f: (root / f).stat().st_size for f in files}
    return M.finalize(manifest, root, files)


# -- verification (TensorFlow-free) ---------------------------------------------------------------
def verify_policy(root: Path, manifest: dict, rep) -> None:
    """Add the policy's checks to a ``VerifyReport``: signatures, embedded section, ops, parity
    with the Keras outputs under XNNPACK and the reference kernels, and the guide's λ."""
    from export.opcheck import FORBIDDEN, op_histogram

    section = manifest.get("policy")
    if not isinstance(section, dict):
        rep.add("policy manifest", False, f"{MANIFEST} lists {POLICY} but has no `policy` section")
        return
    dims = dims_of(manifest)
    want = {name: {"inputs": [s.to_json() for s in sig["inputs"]], "outputs": [s.to_json() for s in sig["outputs"]]}
            for name, sig in C.policy_signature_specs(dims).items()}
    rep.add("policy signatures", section.get("signatures") == want,
            f"{', '.join(want)} equal the contract" if section.get("signatures") == want
            else "the policy section's signatures differ from the contract")
    embedded = read_embedded_manifest(root / POLICY)
    rep.add("policy embedded manifest", embedded == json.loads(json.dumps(section)),
            "policy.tflite metadata equals the manifest's policy section" if embedded == section
            else "policy.tflite metadata differs from the manifest's policy section")
    hist = op_histogram((root / POLICY).read_bytes())
    bad = sorted(n for n in hist if n.split(":")[0] in FORBIDDEN or "Flex" in n)
    rep.add("policy ops", not bad, f"builtin only ({sum(hist.values())} ops), no variable ops" if not bad
            else f"forbidden ops: {bad}")
    samples = dict(np.load(root / POLICY_SAMPLES))
    lam = float(section["beam_lambda"])
    for reference in (False, True):
        label = "reference kernels" if reference else "XNNPACK"
        interp = load_interpreter(root / POLICY, reference=reference)
        par = parity(SignatureRunner(interp, C.POLICY_SIGNATURE), samples)
        ok = par["order_identical"] == par["pages"] and par["max_scaled_score_diff"] <= SCORE_TOL
        rep.add(f"policy_rerank = Keras ({label})", ok,
                f"{par['order_identical']}/{par['pages']} pages identical order, max |Δscore| "
                f"{par['max_scaled_score_diff']:.2e} (tolerance {SCORE_TOL:g}, relative above |score| 1)")
        if not reference:
            guide = SignatureRunner(interp, C.POLICY_GUIDE_SIGNATURE)
            worst = 0.0
            for i in range(samples["cand_mask"].shape[0]):
                g = guide(scores=samples["keras.scores"][i], cand_mask=samples["cand_mask"][i])["guide"]
                ref = guide_reference(samples["keras.scores"][i], samples["cand_mask"][i], lam)
                worst = max(worst, float(np.max(np.abs(g - ref))))
            rep.add("policy_guide = numpy λ·normalised score", worst <= SCORE_TOL,
                    f"λ = {lam:g}, max |Δ| {worst:.2e} over {samples['cand_mask'].shape[0]} pages")
