"""The same artifact under LiteRT with XNNPACK, under the reference kernels, and under
tflite-runtime 2.14 in a numpy<2 environment; and the quantized variants."""

import numpy as np
import pytest

from device_runtime.litert import SignatureRunner, load_interpreter
from device_runtime.sim.samples import row
from export.opcheck import check_ops
from tests.export.tflrt_venv import run_in_tflrt

LR_TOL = 1e-5
#: dynamic-range int8 quantizes activations at run time, and XNNPACK, the reference kernels and
#: tflite-runtime round them differently: orders and steps must still agree exactly, list rewards
#: within 1e-4 relative (measured: 4.4e-5 on a tiny random-weight model after schema 2.0)
INT8_LR_RTOL = 1e-4


def _litert_outputs(art, reference):
    rr = SignatureRunner(load_interpreter(art / "model.tflite", reference=reference), "rerank")
    s = np.load(art / "sample_inputs.npz")
    batch = {n[7:]: s[n] for n in s.files if n.startswith("rerank.")}
    outs = [rr(**row(batch, i)) for i in range(batch["cand_mask"].shape[0])]
    return (np.array([o["order"] for o in outs]), np.array([int(o["steps"]) for o in outs]),
            np.array([float(o["list_reward"]) for o in outs]))


def _check_same(art, tmp_path, atol=LR_TOL, rtol=0.0):
    info = run_in_tflrt(art, tmp_path / "tflrt")
    assert info["runtime"] == "tflite_runtime" and info["numpy"].startswith("1.")
    xnn = _litert_outputs(art, reference=False)
    for tag in ("default", "reference"):
        got = np.load(tmp_path / f"tflrt_{tag}.npz")
        np.testing.assert_array_equal(got["order"], xnn[0])
        np.testing.assert_array_equal(got["steps"], xnn[1])
        np.testing.assert_allclose(got["list_reward"], xnn[2], atol=atol, rtol=rtol)
    ref = _litert_outputs(art, reference=True)
    np.testing.assert_array_equal(ref[0], xnn[0])
    np.testing.assert_array_equal(ref[1], xnn[1])
    np.testing.assert_allclose(ref[2], xnn[2], atol=atol, rtol=rtol)


def test_fp16_skips_the_old_runtimes_delegate_only():
    from device_runtime import litert

    assert not litert.needs_reference_kernels("none")
    assert not litert.needs_reference_kernels("dynamic-int8")
    assert litert.needs_reference_kernels("fp16") == (litert.runtime_name() == "tflite_runtime")


def test_float_artifact_identical_under_three_runtimes(tiny_artifact, tmp_path):
    _check_same(tiny_artifact, tmp_path)


@pytest.mark.parametrize("quantize", ["fp16", "dynamic-int8"])
def test_quantized_artifacts_run_everywhere_and_agree(tiny_run, tmp_path, quantize):
    from export.artifact import ExportConfig, export_artifact
    from export.quant_report import quant_report

    art = tmp_path / quantize
    export_artifact(tiny_run, art, ExportConfig(sample_pages=64, quantize=quantize), log=lambda *a: None)
    check_ops((art / "model.tflite").read_bytes())
    if quantize == "dynamic-int8":
        _check_same(art, tmp_path, atol=0.0, rtol=INT8_LR_RTOL)
    else:
        _check_same(art, tmp_path)
    rep = quant_report(tiny_run, art, pages=40, log_sessions=20)
    assert rep["quantization"] == quantize
    assert rep["size_bytes"]["quantized"] < rep["size_bytes"]["float32"]
    assert 0.0 <= rep["top1_agreement"] <= 1.0 and -1.0 <= rep["kendall_tau_mean"] <= 1.0
    assert set(rep["auc"]) == {"has_next", "effective_view", "like"}


def test_kendall_tau_and_auc_hand_derived():
    from export.quant_report import auc, kendall_tau  # auc is training.ranker.metrics.auc

    assert kendall_tau(np.array([0, 1, 2, -1]), np.array([0, 1, 2, -1])) == 1.0
    assert kendall_tau(np.array([0, 1, 2]), np.array([2, 1, 0])) == -1.0
    assert kendall_tau(np.array([0, 1, 2]), np.array([1, 0, 2])) == pytest.approx(1 / 3)
    # positives {0.8, 0.4}, negatives {0.5, 0.4}: pairs (0.8>0.5) 1, (0.8>0.4) 1, (0.4<0.5) 0, tie 0.5 → 2.5/4
    assert auc(np.array([1, 1, 0, 0]), np.array([0.8, 0.4, 0.5, 0.4])) == pytest.approx(0.625)
