"""`reelrank verify ARTIFACT`: the artifact against independent references. TensorFlow-free (LiteRT +
numpy), so it runs on a phone or a Pi as well as on the server.

Checks, on the sample pages and on fresh simulated pages:
* manifest: schema version, sha256 of every file, signatures equal to the contract, the embedded
  copy equal to manifest.json;
* ops: builtin only — no Flex, custom or variable op in any subgraph;
* `rerank` equals the numpy Algorithm 1 over `score` (identical order and steps, list_reward within
  1e-5), under XNNPACK and under the reference kernels;
* threshold 1.0 equals plain beam search run for L_max steps; beam size 1 equals greedy;
* `score` equals the Keras model's outputs stored at export (1e-5 for float32).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device_runtime import contract as C
from device_runtime.artifact import (
    MODEL,
    POLICY,
    SAMPLES,
    ArtifactError,
    check_signatures,
    dims_of,
    load_manifest,
)
from device_runtime.beam_search import beam_search, signature_scorer
from device_runtime.litert import SignatureRunner, load_interpreter, read_embedded_manifest
from device_runtime.sim.samples import collect_inputs, row, with_search_params
from device_runtime.sim.world import SyntheticWorld

LIST_REWARD_TOL = 1e-5
#: |TFLite score - Keras| allowed per quantization
SCORE_TOL = {"none": 1e-5, "fp16": 2e-2, "dynamic-int8": 6e-2}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    checks: list[Check] = field(default_factory=list)
    ops: dict = field(default_factory=dict)
    size_bytes: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, bool(ok), detail))

    def to_json(self) -> dict:
        return {"ok": self.ok, "size_bytes": self.size_bytes, "ops": self.ops,
                "checks": [c.__dict__ for c in self.checks]}


def greedy_with_prefix(scorer, cand_mask, max_steps, alpha, beta) -> np.ndarray:
    """Sequential greedy: at every step place the unused candidate with the best
    s·(α p_ev + β p_like) given the prefix so far (= beam search with k = 1)."""
    valid = np.asarray(cand_mask) > 0.5
    placed: list[int] = []
    for _ in range(min(max_steps, int(valid.sum()))):
        _, p_ev, p_like = scorer(placed)
        gain = np.float32(alpha) * np.asarray(p_ev, np.float32) + np.float32(beta) * np.asarray(p_like, np.float32)
        gain = np.where(valid, gain, -np.inf)
        gain[placed] = -np.inf
        placed.append(int(np.argmax(gain)))  # argmax: first (lowest) index among ties
    from device_runtime.beam_search import final_order

    return final_order(placed, valid)


def _compare(a, b) -> tuple[bool, float]:
    same = np.array_equal(a.order, b["order"]) and a.steps == int(b["steps"])
    return same, abs(a.list_reward - float(b["list_reward"]))


def verify_artifact(artifact_dir: str | Path, extra_pages: int = 200, seed: int = 777, log=print) -> VerifyReport:
    root = Path(artifact_dir)
    rep = VerifyReport()
    try:
        manifest = load_manifest(root)
        rep.add("manifest", True, f"schema {manifest['schema_version']}, {len(manifest['files'])} file hashes match")
    except ArtifactError as e:
        rep.add("manifest", False, f"{e.reason}: {e}")
        return rep
    try:
        check_signatures(manifest)
        rep.add("signatures", True, "score and rerank equal the contract")
    except (ArtifactError, KeyError) as e:
        rep.add("signatures", False, str(e))
    from export.manifest import EMBED_EXCLUDES

    embedded = read_embedded_manifest(root / MODEL)
    want = {k: v for k, v in manifest.items() if k not in EMBED_EXCLUDES}
    rep.add("embedded manifest", embedded == json.loads(json.dumps(want)),
            "TFLite metadata equals manifest.json" if embedded == want else "TFLite metadata differs from manifest.json")
    blob = (root / MODEL).read_bytes()
    rep.size_bytes = len(blob)
    from export.opcheck import FORBIDDEN, op_histogram

    hist = op_histogram(blob)
    rep.ops = dict(sorted(hist.items()))
    bad = sorted(n for n in hist if n.split(":")[0] in FORBIDDEN or "Flex" in n)
    rep.add("ops", not bad, "builtin only, no variable ops" if not bad else f"forbidden ops: {bad}")

    dims = dims_of(manifest)
    k = int(manifest["beam_size"])
    defaults = manifest["defaults"]
    samples = np.load(root / SAMPLES)
    rerank_in = {n[len("rerank."):]: samples[n] for n in samples.files if n.startswith("rerank.")}
    fresh = with_search_params(
        collect_inputs(extra_pages, dims, SyntheticWorld(world_seed=int(manifest["source"]["sample_world_seed"])), seed=seed),
        defaults["alpha"], defaults["beta"], defaults["threshold"], defaults["n_show"],
    )
    pages = {key: np.concatenate([rerank_in[key], fresh[key]]) for key in rerank_in}
    n = pages["cand_mask"].shape[0]

    for reference in (False, True):
        label = "reference kernels" if reference else "XNNPACK"
        interp = load_interpreter(root / MODEL, reference=reference, quantization=manifest.get("quantization"))
        rerank = SignatureRunner(interp, C.RERANK_SIGNATURE)
        score = SignatureRunner(interp, C.SCORE_SIGNATURE)
        bad_adaptive = bad_plain = 0
        max_dlr = 0.0
        for i in range(n):
            p = row(pages, i)
            scorer = signature_scorer(score, p, dims.prefix_len)
            args = dict(beam_size=k, max_steps=dims.l_max, alpha=float(p["alpha"]), beta=float(p["beta"]))
            ref = beam_search(scorer, p["cand_mask"], threshold=float(p["threshold"]), n_show=int(p["n_show"]), **args)
            same, dlr = _compare(ref, rerank(**p))
            max_dlr = max(max_dlr, dlr)
            bad_adaptive += (not same) or dlr > LIST_REWARD_TOL
            if not reference:  # plain beam search: threshold 1.0 against a search with no early stop
                plain_ref = beam_search(scorer, p["cand_mask"], threshold=np.inf, n_show=1, **args)
                same_p, dlr_p = _compare(plain_ref, rerank(**{**p, "threshold": np.float32(1.0)}))
                bad_plain += (not same_p) or dlr_p > LIST_REWARD_TOL
        rep.add(f"rerank = numpy Algorithm 1 over score ({label})", bad_adaptive == 0,
                f"{n - bad_adaptive}/{n} pages identical order and steps, max |Δ list_reward| {max_dlr:.2e}")
        if not reference:
            rep.add("threshold 1.0 = plain beam search for L_max steps", bad_plain == 0,
                    f"{n - bad_plain}/{n} pages identical")
            # beam size 1 = greedy: the reference with k=1 against sequential greedy; and the graph
            # itself when it was exported with k=1
            bad_greedy = 0
            for i in range(min(n, 100)):
                p = row(pages, i)
                scorer = signature_scorer(score, p, dims.prefix_len)
                g = greedy_with_prefix(scorer, p["cand_mask"], dims.l_max, float(p["alpha"]), float(p["beta"]))
                if k == 1:
                    got = rerank(**{**p, "threshold": np.float32(1.0)})["order"]
                else:
                    got = beam_search(scorer, p["cand_mask"], beam_size=1, max_steps=dims.l_max,
                                      alpha=float(p["alpha"]), beta=float(p["beta"]), threshold=np.inf, n_show=1).order
                bad_greedy += not np.array_equal(g, got)
            what = "in-graph rerank (k=1)" if k == 1 else "beam search with k=1 over score"
            rep.add("beam size 1 = greedy", bad_greedy == 0, f"{what}: {min(n, 100) - bad_greedy}/{min(n, 100)} pages identical")
            # score against the Keras model's outputs recorded at export
            score_in = {nme[len("score."):]: samples[nme] for nme in samples.files if nme.startswith("score.")}
            worst = 0.0
            for i in range(score_in["cand_mask"].shape[0]):
                out = score(**row(score_in, i))
                for name in C.SCORE_OUTPUTS:
                    worst = max(worst, float(np.max(np.abs(out[name] - samples[f"keras.{name}"][i]))))
            tol = SCORE_TOL.get(manifest.get("quantization", "none"), 1e-5)
            rep.add("score = Keras model", worst <= tol, f"max |Δp| {worst:.2e} (tolerance {tol:g}, quantization {manifest.get('quantization')})")
    if POLICY in manifest["files"]:  # the compact policy (reelrank export-policy)
        from export.policy_export import verify_policy

        verify_policy(root, manifest, rep)
    return rep


def format_report(rep: VerifyReport, artifact_dir: str | Path) -> str:
    lines = [f"op histogram ({sum(rep.ops.values())} ops): " + ", ".join(f"{k} {v}" for k, v in rep.ops.items()),
             f"model.tflite size: {rep.size_bytes:,} bytes", ""]
    for c in rep.checks:
        lines.append(f"[{'PASS' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
    failed = [c.name for c in rep.checks if not c.ok]
    verdict = (f"VERIFIED: {artifact_dir} passes all {len(rep.checks)} checks" if rep.ok
               else f"FAILED: {artifact_dir} fails {len(failed)} of {len(rep.checks)} checks ({', '.join(failed)})")
    lines += ["", verdict]
    return "\n".join(lines)
