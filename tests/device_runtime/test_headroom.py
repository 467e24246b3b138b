"""Planning headroom with the world's true model: the lookahead oracle never peeks at future random
draws, gains nothing where the future is the next video's reward (legacy), and gains where it is
not (the long-term world)."""

import json

import numpy as np
import pytest

from device_runtime.session import SessionState
from device_runtime.sim.headroom import (
    LookaheadOracle,
    MyopicOracle,
    episode_reward,
    typical_session,
)
from device_runtime.sim.rollout import run_episode
from device_runtime.sim.world import SyntheticWorld, WorldConfig
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def lt():
    world = SyntheticWorld(WorldConfig.long_term(), world_seed=2024)
    return world, typical_session(world, episodes=25)


def _states(world, n=40):
    """(device state, hidden session) at the first rerank moments of some episodes."""
    out = []
    for i in range(n // 4):
        ep = world.new_episode(7, i)
        s = ep.session
        state = SessionState(network=s.network)
        page = world.server_page(s, 0)
        state.page_arrived(world.raw_videos(page), page.propensity)
        for _ in range(4):
            if not s.active or len(state.cache) < 2:
                break
            out.append((state.copy(), s, ep))
            j = MyopicOracle()(state, s)
            video = int(np.asarray(state.cache.video_id)[j])  # synthetic video ids are catalog indices
            state.take(j)
            s.watch(video)
    return out


def test_lookahead_does_not_peek_at_future_draws(lt):
    world, typical = lt
    oracle = LookaheadOracle(typical)
    checked = 0
    for state, s, ep in _states(world):
        choice = oracle(state, s)
        t = s.state.position
        saved = (s.intent.copy(), s.uniforms.copy(), ep.return_uniforms.copy())
        rng = np.random.default_rng(t)
        s.intent[t + 1:] = rng.integers(0, world.config.n_topics, s.intent.size - t - 1)  # future intent switches
        s.uniforms[:] = rng.random(s.uniforms.shape)  # every outcome draw
        ep.return_uniforms[:] = rng.random(ep.return_uniforms.shape)  # return draws
        assert oracle(state, s) == choice
        s.intent[:], s.uniforms[:], ep.return_uniforms[:] = saved
        checked += 1
    assert checked >= 20


def test_myopic_oracle_takes_the_best_true_immediate_reward(lt):
    world, _ = lt
    state, s, _ = _states(world, 4)[0]
    ids = np.asarray(state.cache.video_id)
    r = [s._probs(s.state, int(v))[0] + 5 * s._probs(s.state, int(v))[1] for v in ids]
    assert MyopicOracle()(state, s) == int(np.argmax(r))


def _gain(world, typical, users):
    rules = {"m": MyopicOracle(), "l": LookaheadOracle(typical)}
    tot = {k: np.array([episode_reward(run_episode(world, world.new_episode(3, i), r))[0] for i in range(users)])
           for k, r in rules.items()}
    d = tot["l"] - tot["m"]
    return d.mean() / tot["m"].mean(), 1.96 * d.std(ddof=1) / np.sqrt(users) / tot["m"].mean()


def test_planning_gains_in_the_long_term_world(lt):
    world, typical = lt
    rel, ci = _gain(world, typical, 24)
    assert rel - ci > 0.0, (rel, ci)


def test_planning_gains_nothing_in_the_legacy_world():
    world = SyntheticWorld(WorldConfig.legacy(), world_seed=2024)
    rel, ci = _gain(world, typical_session(world, episodes=25), 40)
    assert abs(rel) < 0.03, (rel, ci)


def test_world_info_headroom_command(tmp_path):
    out = tmp_path / "h.json"
    run_cli("world-info", "--headroom", "--world", "synthetic-long-term", "--world-seed", "5", "--sessions", "3",
            "--json", str(out), "--quiet", timeout=300)
    h = json.loads(out.read_text())["headroom"]
    for k in ("oracle_myopic", "oracle_lookahead"):
        assert set(h[k]) >= {"mean", "ci95", "uses_hidden_state", "per_session", "sessions_per_episode"}
        assert h[k]["uses_hidden_state"] is True
    assert set(h["gain"]) >= {"mean", "ci95", "relative"} and h["gain"]["n"] == 3
    cal = json.loads(run_cli("world-info", "--world", "synthetic-long-term", "--sessions", "20").stdout)
    m = cal["measured"]
    assert set(m["active_days"]) == {"days", "mean", "p10", "p50", "p90"}
    assert m["kuairand"]["hate_rate"] == 0.0005


def test_kuairand_activity_counts_days_with_rows(tmp_path):
    from device_runtime.sim.world_stats import kuairand_activity

    log = tmp_path / "log.csv"
    log.write_text("user_id,date,long_view\n1,20220422,1\n1,20220422,0\n1,20220425,0\n2,20220423,1\n")
    a = kuairand_activity(log)
    assert a["users"] == 2 and a["days_in_log"] == 3  # dates seen: 22, 23, 25
    assert a["active_days"]["mean"] == 1.5 and a["random_effective_view_rate"] == 0.5


def test_emulate_reports_the_oracles_as_hidden_state_rows():
    from device_runtime.reranker import Reranker
    from device_runtime.sim.emulator import EmulatorConfig, run_emulator, summarize
    from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT

    world = SyntheticWorld(world_seed=1001)
    cfg = EmulatorConfig(sessions=12, seed=2, strategies=("server", "greedy", "oracle_myopic", "oracle_lookahead"))
    rep = summarize(run_emulator(world, Reranker(GOLDEN_ARTIFACT), cfg, progress=False))
    s = rep["strategies"]
    assert s["oracle_myopic"]["uses_hidden_state"] is True and s["oracle_lookahead"]["uses_hidden_state"] is True
    assert "uses_hidden_state" not in s["server"] and "uses_hidden_state" not in s["greedy"]
    assert rep["paired"]["oracle_myopic-server"]["total_reward"]["mean"] > 0
    with pytest.raises(ValueError, match="true model"):
        run_emulator(object(), Reranker(GOLDEN_ARTIFACT), cfg, progress=False)
