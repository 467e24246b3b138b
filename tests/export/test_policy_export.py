"""policy.tflite: signatures equal the contract, frozen builtin-only graph, parity with Keras, the
manifest's policy section and hashes, `reelrank verify`'s policy checks, the TF-free runtime's
``policy`` strategy, and the CLI chain train-policy → export-policy → emulate on an unseen world."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, run_cli
from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT

keras = pytest.importorskip("keras")

from device_runtime import contract as C  # noqa: E402
from device_runtime.artifact import load_manifest  # noqa: E402
from device_runtime.litert import load_interpreter  # noqa: E402
from export.policy_export import POLICY_SAMPLES, PolicyExportConfig, export_policy  # noqa: E402


def _artifact_copy(dst):
    shutil.copytree(GOLDEN_ARTIFACT, dst)
    return dst


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from training.policy.network import PolicyConfig, build_policy, save_policy

    root = tmp_path_factory.mktemp("policy")
    keras.utils.set_random_seed(3)
    save_policy(build_policy(PolicyConfig(dim=16, hidden=16)), root / "run", extra={"algo": "hac"})
    art = _artifact_copy(root / "art")
    manifest = export_policy(root / "run", art, PolicyExportConfig(beam_lambda=0.25, sample_pages=24),
                             log=lambda *a: None)
    return art, manifest


def test_signatures_parity_and_manifest(exported):
    art, manifest = exported
    sec = manifest["policy"]
    assert sec["params"] <= 100_000 and sec["beam_lambda"] == 0.25
    assert sec["parity"] == {"pages": 24, "order_identical": 24, "max_scaled_score_diff": sec["parity"]["max_scaled_score_diff"]}
    assert sec["parity"]["max_scaled_score_diff"] <= 1e-5
    assert set(manifest["files"]) == {"model.tflite", "sample_inputs.npz", "policy.tflite", POLICY_SAMPLES}
    assert load_manifest(art)["policy"] == sec  # hashes of every file, policy included, match
    interp = load_interpreter(art / "policy.tflite", reference=True)  # frozen: runs without XNNPACK
    sigs = interp.get_signature_list()
    for name, spec in C.policy_signature_specs(C.Dims()).items():
        assert sorted(sigs[name]["inputs"]) == sorted(s.name for s in spec["inputs"])
        assert sorted(sigs[name]["outputs"]) == sorted(s.name for s in spec["outputs"])
    assert not {"VAR_HANDLE", "READ_VARIABLE", "CUSTOM"} & set(sec["ops"])


def test_verify_runs_the_policy_checks(exported):
    from export.verify import verify_artifact

    rep = verify_artifact(exported[0], extra_pages=2, log=lambda *a: None)
    names = {c.name: c.ok for c in rep.checks}
    assert rep.ok, [c for c in rep.checks if not c.ok]
    assert names["policy_rerank = Keras (reference kernels)"] and names["policy_guide = numpy λ·normalised score"]
    assert names["embedded manifest"]  # model.tflite's embedded copy still equals manifest.json


def test_the_tf_free_runtime_serves_the_policy_order(exported):
    code = f"""
import sys; sys.path.insert(0, {str(ROOT)!r})
import numpy as np
from device_runtime.reranker import Reranker
r = Reranker({str(exported[0])!r})
s = np.load({str(exported[0] / POLICY_SAMPLES)!r})
same = 0
for i in range(s["cand_mask"].shape[0]):
    page = {{k: s[k][i] for k in ("hist_dense", "hist_ids", "hist_mask", "cand_dense", "cand_ids", "cand_mask", "context")}}
    res = r.rerank_page(page, "policy")
    n = int(s["cand_mask"][i].sum())
    same += res.fallback is None and np.array_equal(res.order, s["keras.order"][i][:n])
    beam = r.rerank_page(page, "policy_beam")
    assert beam.fallback is None and sorted(beam.order.tolist()) == list(range(n)), beam
print(same, s["cand_mask"].shape[0], "tensorflow" in sys.modules, "keras" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-4:] == ["24", "24", "False", "False"]


def test_export_refuses_oversized_policies_and_bad_lambdas(tmp_path, exported):
    src = exported[1]["policy"]["source"]["policy_run"]
    with pytest.raises(ValueError, match=r"<= 10 parameters \(`max_params`\), got"):
        export_policy(src, _artifact_copy(tmp_path / "a"), PolicyExportConfig(max_params=10), log=lambda *a: None)
    with pytest.raises(ValueError, match="`beam_lambda` must be a finite number >= 0, got -1"):
        PolicyExportConfig(beam_lambda=-1)


def test_cli_train_export_verify_emulate_on_an_unseen_world(tmp_path):
    run = tmp_path / "policy_hac"
    out = run_cli("train-policy", "--algo", "hac", "--world", "synthetic", "--steps", "20", "--seed", "1",
                  "--out", str(run), "--quiet")
    assert json.loads(out.stdout)["params"] <= 100_000 and (run / "curves.png").exists()
    art = _artifact_copy(tmp_path / "art")
    out = run_cli("export-policy", "--policy", str(run), "--artifact", str(art), "--sample-pages", "16")
    par = json.loads(out.stdout)["parity"]
    assert par["order_identical"] == par["pages"] == 16
    assert "VERIFIED" in run_cli("verify", str(art), "--extra-pages", "2").stdout
    out = run_cli("emulate", "--artifact", str(art), "--sessions", "3", "--world-seed", "4242",
                  "--strategies", "server,policy,policy_beam", "--quiet", "--json", str(tmp_path / "emu.json"))
    rep = json.loads((tmp_path / "emu.json").read_text())
    assert rep["world"]["world_seed"] == 4242
    for s in ("policy", "policy_beam"):
        assert rep["strategies"][s]["fallbacks"] == 0 and rep["strategies"][s]["reranks"] > 0
        assert np.isfinite(rep["strategies"][s]["total_reward"]["mean"])
