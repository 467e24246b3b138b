"""`reelrank train-ranker` and `reelrank evaluate-ranker` end to end (tiny preset, few sessions)."""

import json

import numpy as np
import pytest

from device_runtime import contract as C
from tests.conftest import run_cli

pytest.importorskip("keras")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ranker")
    logs = tmp / "logs.parquet"
    run_cli("simulate-logs", "--sessions", "60", "--seed", "2", "--out", str(logs), "--quiet")
    out = run_cli("train-ranker", "--logs", str(logs), "--out", str(tmp / "run"), "--preset", "tiny",
                  "--epochs", "2", "--batch", "256", "--quiet")
    summary = json.loads(out.stdout)
    assert set(summary["auc"]) >= {"model", "server_pxtr", "no_context", "logistic_regression"}
    return tmp


def test_train_ranker_writes_metrics_model_and_curves(run_dir):
    run = run_dir / "run"
    m = json.loads((run / "metrics.json").read_text())
    for name, scores in [("model", m["model"]), *m["baselines"].items()]:
        assert set(scores) == set(C.TASKS), name
        for task, v in scores.items():
            assert 0.0 <= v["auc"] <= 1.0 and v["logloss"] > 0, (name, task)
    assert set(m["baselines"]) == {"server_pxtr", "no_context", "logistic_regression"}
    assert m["margins"]["no_context"]["has_next"] == pytest.approx(
        m["model"]["has_next"]["auc"] - m["baselines"]["no_context"]["has_next"]["auc"])
    assert m["reload_max_abs_diff"] <= 1e-6
    assert m["split"]["by"] == "user" and m["split"]["users"]["test"] > 0
    assert m["training"]["params"] <= 50_000 and m["training"]["impressions_per_s"] > 0
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "baselines" / "logistic_regression.npz").exists()


def test_saved_run_reloads_with_identical_predictions(run_dir):
    from training.data.synthetic_logs import read_parquet
    from training.ranker.inputs import ranker_data
    from training.ranker.model import load_ranker
    from training.ranker.train import predict

    data = ranker_data(read_parquet(run_dir / "logs.parquet")[0])
    a, _ = load_ranker(run_dir / "run")
    b, _ = load_ranker(run_dir / "run")
    np.testing.assert_allclose(predict(a, data.inputs), predict(b, data.inputs), atol=1e-6, rtol=0)


def test_evaluate_ranker_scores_another_log(run_dir):
    other = run_dir / "other.parquet"
    run_cli("simulate-logs", "--sessions", "20", "--seed", "9", "--out", str(other), "--quiet")
    out = run_cli("evaluate-ranker", "--model", str(run_dir / "run"), "--logs", str(other),
                  "--json", str(run_dir / "eval.json"))
    m = json.loads((run_dir / "eval.json").read_text())
    assert json.loads(out.stdout) == m
    assert set(m["model"]) == set(C.TASKS)
    assert set(m["baselines"]) == {"server_pxtr", "no_context", "logistic_regression"}
    assert m["rows"] > 20
    # a simulated log carries the world's own probabilities: reported apart, as the ceiling
    assert set(m["world_truth"]) == set(C.TASKS)
    assert all(0.5 < m["world_truth"][t]["auc"] <= 1.0 for t in ("has_next", "effective_view"))


def test_train_ranker_rejects_bad_arguments(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.run([sys.executable, "-m", "reelrank", "train-ranker", "--data", "movielens:/x",
                           "--out", str(tmp_path / "r")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and "`data` must be one of ['kuairand:PATH']" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "reelrank", "train-ranker", "--logs", "x.parquet",
                           "--out", str(tmp_path / "r"), "--task-weights", "1,2"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "--task-weights must be 3 non-negative numbers" in proc.stderr


def test_train_ranker_without_baselines(run_dir, tmp_path):
    out = json.loads(run_cli("train-ranker", "--logs", str(run_dir / "logs.parquet"), "--out", str(tmp_path / "nb"),
                             "--preset", "tiny", "--epochs", "1", "--batch", "256", "--no-baselines", "--quiet").stdout)
    metrics = json.loads((tmp_path / "nb" / "metrics.json").read_text())
    # the trained baselines are skipped; the server's own pXTR costs nothing and stays
    assert set(out["auc"]) == {"model", "server_pxtr"}
    assert "no_context" not in metrics["baselines"] and "logistic_regression" not in metrics["baselines"]
