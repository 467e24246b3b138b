"""The emulator: paired sessions, metrics against direct rollouts, the report's shape."""

import json

import numpy as np
import pytest

from device_runtime.feed import SessionMetrics
from device_runtime.reranker import Reranker
from device_runtime.sim.emulator import (
    EmulatorConfig,
    StrategyRun,
    format_table,
    run_emulator,
    summarize,
)
from device_runtime.sim.rollout import run_session, server_order
from device_runtime.sim.world import SyntheticWorld
from tests.conftest import run_cli
from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT


@pytest.fixture(scope="module")
def runs():
    w = SyntheticWorld(world_seed=6)
    cfg = EmulatorConfig(sessions=5, seed=2, strategies=("server", "adaptive_beam", "python_beam"))
    return w, run_emulator(w, Reranker(GOLDEN_ARTIFACT), cfg, progress=False)


def test_server_strategy_equals_a_direct_server_order_rollout(runs):
    w, r = runs
    for i, m in enumerate(r["server"].sessions):
        imps = run_session(w, w.new_session(2, i), server_order)
        ev = sum(x.response.effective_view for x in imps)
        likes = sum(x.response.like for x in imps)
        assert (m.depth, m.effective_views, m.likes) == (len(imps), ev, likes)
        assert m.total_reward == 1.0 * ev + 5.0 * likes  # the manifest's α = 1, β = 5


def test_python_beam_and_adaptive_beam_play_identical_sessions(runs):
    _, r = runs
    assert r["python_beam"].sessions == r["adaptive_beam"].sessions
    assert r["python_beam"].steps == r["adaptive_beam"].steps


def test_paired_differences_by_hand():
    def run(values):
        s = StrategyRun()
        s.sessions = [SessionMetrics(int(v), int(v), 0, float(v), 1, 1.0, 0) for v in values]
        s.latencies_us, s.steps, s.cpu_s = [10.0, 20.0, 30.0], [1, 2, 3], 1.0
        return s

    a, b = [1, 2, 3, 4], [2, 4, 3, 7]
    out = summarize({"a": run(a), "b": run(b)})
    d = np.subtract(b, a)
    pair = out["paired"]["b-a"]["total_reward"]
    assert pair["mean"] == pytest.approx(d.mean())
    assert pair["ci95"] == pytest.approx(1.96 * d.std(ddof=1) / 2.0)
    assert pair["relative"] == pytest.approx(d.mean() / np.mean(a))
    assert out["strategies"]["a"]["latency_us"] == {"p50": 20.0, "p95": 29.0, "p99": 29.8}
    assert "| b-a |" in format_table(out)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="`sessions` must be >= 1, got 0"):
        EmulatorConfig(sessions=0)
    with pytest.raises(ValueError, match="got 'bogus'"):
        EmulatorConfig(strategies=("server", "bogus"))


def test_emulate_command_writes_the_report(tmp_path):
    out = tmp_path / "out.json"
    proc = run_cli("emulate", "--artifact", str(GOLDEN_ARTIFACT), "--sessions", "3", "--seed", "4",
                   "--world-seed", "8", "--strategies", "server,greedy,beam,adaptive_beam", "--json", str(out),
                   "--quiet", timeout=300)
    assert "| adaptive_beam-greedy |" in proc.stdout
    rep = json.loads(out.read_text())
    assert rep["sessions"] == 3 and rep["seed"] == 4 and rep["world"]["world_seed"] == 8
    assert list(rep["strategies"]) == ["server", "greedy", "beam", "adaptive_beam"]
    s = rep["strategies"]["adaptive_beam"]
    for key in ("depth", "effective_views", "likes", "total_reward"):
        assert set(s[key]) == {"mean", "ci95"}
    assert set(s["latency_us"]) == {"p50", "p95", "p99"} and s["fallbacks"] == 0 and s["mean_steps"] >= 1
    assert set(rep["paired"]["adaptive_beam-greedy"]["total_reward"]) >= {"mean", "ci95"}
    try:
        import matplotlib  # noqa: F401

        assert out.with_suffix(".png").stat().st_size > 1000
    except ImportError:
        assert "no PNG written" in proc.stdout
