"""Every algorithm trains with a tiny budget through the same code the table runs, and writes
its run (weights, metrics.json with stable metric names, curves.png); the table aggregates seeds."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")

from benchmarks.policy_table import TableConfig, algo_module, run_table  # noqa: E402

TINY = {
    "hac": dict(steps=12, num_envs=4, learning_starts=16, batch_size=16, eval_every=6, eval_sessions=3),
    "ddpg": dict(steps=12, num_envs=4, learning_starts=16, batch_size=16, eval_every=6, eval_sessions=3),
    "sl": dict(steps=12, log_sessions=8, batch_size=32, eval_every=6, eval_sessions=3),
    "reinforce_topk": dict(steps=12, log_sessions=8, batch_size=32, eval_every=6, eval_sessions=3),
}
#: metric names each algorithm must log (dashboards and the table read these)
NAMES = {
    "hac": {"losses/td_loss", "losses/qmax_loss", "losses/hyper_loss", "losses/bce_loss", "charts/total_reward",
            "charts/depth", "charts/episode_reward"},
    "ddpg": {"losses/td_loss", "losses/qmax_loss", "charts/total_reward", "charts/depth"},
    "sl": {"losses/bce_loss", "charts/total_reward", "charts/depth"},
    "reinforce_topk": {"losses/pg_loss", "losses/behaviour_loss", "charts/mean_weight", "charts/total_reward",
                       "charts/depth"},
}


@pytest.mark.parametrize("algo", list(TINY))
def test_each_algorithm_trains_and_writes_its_run(algo, tmp_path):
    mod = algo_module(algo)
    model, metrics = mod.train(mod.Args(progress=False, **TINY[algo]), tmp_path / algo)
    for k, v in metrics["curves"].items():
        assert all(np.isfinite(p[1]) for p in v), k
    on_disk = json.loads((tmp_path / algo / "metrics.json").read_text())
    assert NAMES[algo] <= set(on_disk["curves"])
    assert {"charts/total_reward", "charts/depth"} <= set(on_disk["curves"])
    assert on_disk["params"] == model.count_params() <= 100_000
    assert (tmp_path / algo / "curves.png").stat().st_size > 1000
    assert on_disk["final_valid"]["depth"]["mean"] >= 1


def test_ddpg_refuses_the_hac_regularisers():
    from training.policy import ddpg

    with pytest.raises(ValueError, match="`lambda_hyper` and `lambda_bce` must be 0, got 0.1 and 0.0"):
        ddpg.Args(lambda_hyper=0.1)


def test_table_pools_three_seeds_and_pairs_sessions(tmp_path):
    cfg = TableConfig(algos=("sl",), seeds=(0, 1, 2), steps=4, eval_worlds=(1001,), eval_sessions=3,
                      strategies=("server",), policy_beam=False, log_sessions=6,
                      extra={"sl": {"batch_size": 16, "eval_sessions": 2}})
    rep = run_table(cfg, tmp_path, progress=False, log=lambda *a: None)
    row = rep["rows"]["sl"]
    assert row["seeds"] == 3 and row["total_reward"]["n_sessions"] == 9
    assert len(row["total_reward"]["seed_means"]) == 3 and np.isfinite(row["total_reward"]["ci95"])
    assert rep["rows"]["server"]["seeds"] == 1
    assert json.loads((tmp_path / "policy_table.json").read_text())["rows"]["sl"]["seeds"] == 3
    assert "| sl |" in (tmp_path / "policy_table.md").read_text()
    for oracle in ("oracle_myopic", "oracle_lookahead"):  # the ceiling rows, same users as the others
        assert rep["rows"][oracle]["uses_hidden_state"] is True
        assert rep["rows"][oracle]["total_reward"]["n_sessions"] == 3
    assert rep["rows"]["oracle_myopic"]["total_reward"]["mean"] >= rep["rows"]["server"]["total_reward"]["mean"]
    assert "oracle_lookahead - oracle_myopic" in rep["paired"]


def test_policy_table_command_runs_on_a_tiny_budget(tmp_path):
    from tests.conftest import run_cli

    artifact = Path(__file__).resolve().parents[1] / "golden" / "device_artifact"
    run_cli("policy-table", "--artifact", str(artifact), "--out", str(tmp_path), "--quiet", "--algos", "sl",
            "--seeds", "1", "--steps", "3", "--eval-worlds", "1001", "--eval-sessions", "2", "--no-policy-beam")
    rep = json.loads((tmp_path / "policy_table.json").read_text())
    assert "sl" in rep["rows"] and "server" in rep["rows"]
