"""The benchmark harness on a tiny artifact: every runtime side by side, the variant re-export and
scaling fit, the Table 5 steps benchmark, and the device bundle."""

import json

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.export.conftest import make_ranker_run


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    from export.artifact import ExportConfig, export_artifact

    run = make_ranker_run(tmp_path_factory.mktemp("run") / "tiny")
    out = tmp_path_factory.mktemp("art") / "tiny"
    export_artifact(run, out, ExportConfig(sample_pages=64, onnx=True), log=lambda *a: None)
    return out


def test_latency_all_runtimes_side_by_side_with_variants(art, tmp_path):
    out = tmp_path / "lat.json"
    proc = run_cli("bench", "latency", "--artifact", str(art), "--candidates", "9,16", "--beam-size", "4",
                   "--threads", "1", "--runs", "30",
                   "--warmup", "5", "--pages", "16", "--json", str(out))
    res = json.loads(out.read_text())
    got = {(r["runtime"], r["m"]) for r in res["results"]}
    for rt in ("tflite_xnnpack", "tflite_reference", "python_beam", "onnxruntime", "tf_savedmodel"):
        assert (rt, 16) in got and (rt, 9) in got, rt
    assert any(s["runtime"] == "policy" for s in res["skipped"])  # said, not dropped
    for r in res["results"]:
        for f in ("init_us", "first_run_us", "warmup_mean_us", "count", "min_us", "max_us", "mean_us", "std_us",
                  "p5_us", "p50_us", "p95_us", "p99_us"):
            assert r[f] is not None, f
        assert r["min_us"] <= r["p50_us"] <= r["p99_us"] <= r["max_us"]
        assert r["flops_per_rerank"] > 0 and r["gflops"] > 0
    assert res["numpy_gemm_gflops_1core"] > 0
    assert res["scaling"]["latency_vs_k_l_m"]["points"] == 2
    assert "python_beam" in proc.stdout and (out.with_suffix(".png")).exists()
    rep = run_cli("bench", "report", "--json", str(out)).stdout
    sub = tmp_path / "sub.json"
    run_cli("bench", "latency", "--artifact", str(art), "--runtimes", "tflite_xnnpack,python_beam", "--runs", "5",
            "--warmup", "1", "--pages", "4", "--json", str(sub))
    assert {r["runtime"] for r in json.loads(sub.read_text())["results"]} == {"tflite_xnnpack", "python_beam"}
    assert "| tflite_xnnpack | 16 | 4 | 1 |" in rep and "Ratios of p50" in rep
    # all runtimes reranked the same pages to the same orders
    from benchmarks.latency import pages_for, prepare
    from device_runtime.artifact import dims_of, load_manifest

    m = load_manifest(art)
    batch = pages_for(16, dims_of(m), 8, 5, m["defaults"])
    outs = {rt: [prepare(rt, art, batch, 1, dims_of(m), 4).call(i) for i in range(8)]
            for rt in ("tflite_xnnpack", "tflite_reference", "python_beam", "onnxruntime", "tf_savedmodel")}
    for rt, o in outs.items():
        for i in range(8):
            np.testing.assert_array_equal(o[i]["order"], outs["tflite_xnnpack"][i]["order"], err_msg=rt)


def test_steps_table_format(art, tmp_path):
    from benchmarks.scaling import steps_markdown, steps_table

    t = steps_table(art, runs=10)
    (tmp_path / "steps.json").write_text(json.dumps(t))
    assert "mean stability" in run_cli("bench", "report", "--json", str(tmp_path / "steps.json")).stdout
    assert len(t["relative_latency_by_step"]) == 6 and t["relative_latency_by_step"][0] == 1.0
    assert 0 < t["adaptive_over_fixed"]["list_reward"] <= 1.0 + 1e-6
    assert "relative latency" in steps_markdown(t)


def test_scaling_fit_hand_derived():
    from benchmarks.scaling import scaling_fit

    rows = [{"runtime": "tflite_xnnpack", "threads": 1, "m": m, "k": k, "mean_steps": 2.0, "p50_us": 10 + 0.5 * k * 2 * m}
            for m in (9, 16) for k in (1, 4)]
    fit = scaling_fit({"results": rows})["latency_vs_k_l_m"]
    assert fit["intercept_us"] == pytest.approx(10) and fit["slope_us"] == pytest.approx(0.5) and fit["r2"] == pytest.approx(1)


def test_bundle_holds_the_artifact_a_wheel_and_readme(art, tmp_path):
    out = json.loads(run_cli("bundle", str(art), "--out", str(tmp_path / "b")).stdout)
    b = tmp_path / "b"
    assert (b / "wheels" / out["wheel"]).exists()
    assert not (b / "artifact" / "savedmodel").exists()
    readme = (b / "README.md").read_text()
    assert f"pip install wheels/{out['wheel']}" in readme and "reelrank bench latency --artifact artifact" in readme
