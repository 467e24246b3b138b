"""The exported artifact against independent references (TF-Agents style: signatures by name,
outputs equal to the source)."""

import json
import shutil

import numpy as np
import pytest

from device_runtime import contract as C
from device_runtime.artifact import ArtifactError, load_manifest
from device_runtime.beam_search import beam_search, signature_scorer
from device_runtime.litert import SignatureRunner, load_interpreter, read_embedded_manifest
from device_runtime.sim.samples import row
from export.opcheck import op_histogram
from tests.conftest import run_cli

LR_TOL = 1e-5


def _runners(art, reference=False):
    it = load_interpreter(art / "model.tflite", reference=reference)
    return SignatureRunner(it, "score"), SignatureRunner(it, "rerank")


def test_signatures_equal_the_contract(tiny_artifact):
    it = load_interpreter(tiny_artifact / "model.tflite")
    sigs = it.get_signature_list()
    d = C.Dims()
    for name, spec in C.signature_specs(d).items():
        assert sorted(sigs[name]["inputs"]) == sorted(s.name for s in spec["inputs"])
        assert sorted(sigs[name]["outputs"]) == sorted(s.name for s in spec["outputs"])
        runner = it.get_signature_runner(name)
        details = runner.get_input_details()
        for s in spec["inputs"]:
            assert tuple(details[s.name]["shape"]) == s.shape, s.name
            assert np.dtype(details[s.name]["dtype"]) == np.dtype(s.dtype), s.name


def test_builtin_ops_only_and_frozen(tiny_artifact):
    hist = op_histogram((tiny_artifact / "model.tflite").read_bytes())
    assert "WHILE" in hist and "TOPK_V2" in hist
    assert not [n for n in hist if n.startswith("CUSTOM") or "VARIABLE" in n or n == "VAR_HANDLE"]


def test_manifest_is_complete_and_embedded(tiny_artifact):
    m = load_manifest(tiny_artifact)
    assert m["dims"] == {"n_history": 8, "m_max": 16, "l_max": 6, "prefix_len": 5}
    assert m["beam_size"] == 4 and m["quantization"] == "none"
    assert m["defaults"] == C.DEFAULT_RERANK_PARAMS
    assert m["prefix_gathered_from"] == {"prefix_dense": "cand_dense", "prefix_ids": "cand_ids"}
    assert set(m["files"]) == {"model.tflite", "sample_inputs.npz", "model.onnx"}
    assert m["training_data"]["fingerprint"] == "test-random-weights"
    ranges = {i["name"]: i.get("range") for i in m["signatures"]["rerank"]["inputs"]}
    assert ranges["cand_ids"] == [0, 63] and ranges["n_show"] == [0, 6]
    embedded = read_embedded_manifest(tiny_artifact / "model.tflite")
    assert embedded == {k: v for k, v in m.items() if k not in ("files", "size_bytes")}


def test_sample_inputs_come_from_real_pages(tiny_artifact):
    s = np.load(tiny_artifact / "sample_inputs.npz")
    assert s["rerank.cand_mask"].shape == (64, 16)
    assert s["score.prefix_mask"].shape == (64, 5)
    # real pages: 9..12 cached candidates, histories that fill up, several prefix lengths
    valid = s["rerank.cand_mask"].sum(1)
    assert valid.min() >= 1 and valid.max() <= 12  # cache limit: 3 leftovers + a page of 9
    assert len(set(s["rerank.hist_mask"].sum(1).tolist())) > 3
    assert len(set(s["score.prefix_mask"].sum(1).tolist())) > 2


@pytest.mark.parametrize("reference", [False, True])
def test_rerank_equals_numpy_algorithm_1(tiny_artifact, reference):
    score, rerank = _runners(tiny_artifact, reference)
    s = np.load(tiny_artifact / "sample_inputs.npz")
    batch = {n[7:]: s[n] for n in s.files if n.startswith("rerank.")}
    for i in range(batch["cand_mask"].shape[0]):
        p = row(batch, i)
        for threshold, n_show in ((0.95, 1), (1.0, 1), (0.999, 3)):
            p2 = {**p, "threshold": np.float32(threshold), "n_show": np.int32(n_show)}
            ref = beam_search(signature_scorer(score, p2, 5), p["cand_mask"], beam_size=4, max_steps=6,
                              alpha=1.0, beta=5.0, threshold=threshold, n_show=n_show)
            out = rerank(**p2)
            np.testing.assert_array_equal(out["order"], ref.order)
            assert int(out["steps"]) == ref.steps
            assert abs(float(out["list_reward"]) - ref.list_reward) <= LR_TOL


def _edge_page(n_valid, dup=False, seed=0):
    rng = np.random.default_rng(seed)
    mask = (np.arange(16) < n_valid).astype(np.float32)
    cd = rng.random((16, 6)).astype(np.float32) * mask[:, None]
    ci = (rng.integers(1, 63, (16, 2)) * mask[:, None]).astype(np.int32)
    if dup:
        cd[1], ci[1] = cd[0], ci[0]
    return {"hist_dense": rng.random((8, C.N_HIST_DENSE)).astype(np.float32), "hist_ids": rng.integers(1, 63, (8, 2)).astype(np.int32),
            "hist_mask": np.ones(8, np.float32), "cand_dense": cd, "cand_ids": ci, "cand_mask": mask,
            "context": rng.random(4).astype(np.float32), "alpha": np.float32(1.0), "beta": np.float32(5.0),
            "threshold": np.float32(1.0), "n_show": np.int32(1)}


def test_edge_pages_empty_single_and_exact_ties(tiny_artifact):
    score, rerank = _runners(tiny_artifact)
    out = rerank(**_edge_page(0))
    assert out["order"].tolist() == [-1] * 16 and int(out["steps"]) == 0 and float(out["list_reward"]) == 0.0
    out = rerank(**_edge_page(1))
    assert out["order"].tolist() == [0] + [-1] * 15 and int(out["steps"]) == 1
    # two identical candidates: the tie breaks toward the lower index
    p = _edge_page(2, dup=True)
    out = rerank(**p)
    assert out["order"][:2].tolist() == [0, 1]


def test_list_reward_hand_derived(tiny_artifact):
    """Two candidates, k=4, threshold 1.0 → both placed; LR = g(a) + p_hn(a) · g(b | a)."""
    score, rerank = _runners(tiny_artifact)
    p = _edge_page(2, seed=3)
    out = rerank(**p)
    a, b = out["order"][:2]
    fixed = {k: p[k] for k in ("hist_dense", "hist_ids", "hist_mask", "cand_dense", "cand_ids", "cand_mask", "context")}
    empty = score(**fixed, prefix_dense=np.zeros((5, 6), np.float32), prefix_ids=np.zeros((5, 2), np.int32),
                  prefix_mask=np.zeros(5, np.float32))
    pd = np.zeros((5, 6), np.float32)
    pi = np.zeros((5, 2), np.int32)
    pd[0], pi[0] = p["cand_dense"][a], p["cand_ids"][a]
    after_a = score(**fixed, prefix_dense=pd, prefix_ids=pi, prefix_mask=np.eye(1, 5, dtype=np.float32)[0])
    lr = (empty["p_effective_view"][a] + 5 * empty["p_like"][a]) + empty["p_has_next"][a] * (
        after_a["p_effective_view"][b] + 5 * after_a["p_like"][b])
    assert float(out["list_reward"]) == pytest.approx(float(lr), abs=LR_TOL)
    assert int(out["steps"]) == 2


def test_onnx_rerank_matches_tflite(tiny_artifact):
    pytest.importorskip("onnxruntime")
    from export.onnx_export import OnnxRerank

    onnx = OnnxRerank(tiny_artifact / "model.onnx")
    _, rerank = _runners(tiny_artifact)
    s = np.load(tiny_artifact / "sample_inputs.npz")
    batch = {n[7:]: s[n] for n in s.files if n.startswith("rerank.")}
    for i in range(batch["cand_mask"].shape[0]):
        p = row(batch, i)
        a, b = rerank(**p), onnx(**p)
        np.testing.assert_array_equal(a["order"], b["order"])
        assert int(a["steps"]) == int(b["steps"])


def test_verify_passes_and_a_tampered_artifact_fails(tiny_artifact, tmp_path):
    out = run_cli("verify", str(tiny_artifact), "--extra-pages", "20", "--json", str(tmp_path / "v.json"))
    assert "VERIFIED" in out.stdout and "op histogram" in out.stdout
    assert json.loads((tmp_path / "v.json").read_text())["ok"] is True
    bad = tmp_path / "bad"
    shutil.copytree(tiny_artifact, bad)
    blob = bytearray((bad / "model.tflite").read_bytes())
    blob[-10] ^= 0xFF
    (bad / "model.tflite").write_bytes(bytes(blob))
    with pytest.raises(ArtifactError) as e:
        load_manifest(bad)
    assert e.value.reason == "hash_mismatch"
    with pytest.raises(AssertionError, match="exited 1"):
        run_cli("verify", str(bad), "--extra-pages", "5")


def test_export_cli_writes_an_artifact_with_report(tiny_run, tmp_path):
    out = tmp_path / "art"
    proc = run_cli("export", "--ranker", str(tiny_run), "--out", str(out), "--max-candidates", "9", "--beam-size", "2",
                   "--max-steps", "4", "--sample-pages", "64", "--quantize", "fp16", "--quant-pages", "20",
                   "--quant-log-sessions", "10", "--onnx")
    m = load_manifest(out)
    assert m["dims"]["m_max"] == 9 and m["beam_size"] == 2 and m["dims"]["l_max"] == 4 and m["quantization"] == "fp16"
    assert "FLOPs per rerank" in proc.stdout and "mean stability" in proc.stdout
    rep = json.loads((out / "quantization_report.json").read_text())
    assert rep["pages"] > 0 and "kendall_tau_mean" in rep
    assert (out / "model.onnx").exists()
