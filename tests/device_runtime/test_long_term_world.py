"""The long-term world: clickbait regret, boredom, hate, retention across sessions — and the
legacy world untouched when they are off."""

import math
from dataclasses import replace

import numpy as np
import pytest

from device_runtime.session import SessionState
from device_runtime.sim.rollout import run_episode, run_session, server_order
from device_runtime.sim.world import (
    SyntheticWorld,
    WorldConfig,
    _State,
    concentration,
    return_probability,
)

LT = WorldConfig.long_term()


@pytest.fixture(scope="module")
def lt_world():
    return SyntheticWorld(LT, world_seed=11)


@pytest.fixture(scope="module")
def episodes(lt_world):
    """200 users' weeks under server order: (responses per session, sessions, active days)."""
    out = []
    for i in range(200):
        ep = lt_world.new_episode(3, i)
        out.append(run_episode(lt_world, ep, server_order))
    return out


def test_legacy_is_the_default_and_an_episode_is_one_session():
    assert WorldConfig.legacy() == WorldConfig() and not WorldConfig().multi_session
    w = SyntheticWorld(world_seed=4)
    recs = run_episode(w, w.new_episode(0, 7), server_order)
    same = run_session(w, w.new_session(0, 7), server_order)
    assert len(recs) == 1 and [r.effective_view for r in recs[0].responses] == [i.response.effective_view for i in same]
    assert all(r.hate == 0 for r in recs[0].responses)


def test_utility_is_correlated_with_appeal_as_configured(lt_world):
    cat = lt_world.catalog
    assert np.corrcoef(cat.quality, cat.utility)[0, 1] == pytest.approx(0.4, abs=0.05)
    assert SyntheticWorld(world_seed=11).catalog.utility is None  # legacy: utility is appeal
    assert np.array_equal(SyntheticWorld(world_seed=11).catalog.quality, cat.quality)  # same catalog draws


def test_clickbait_lowers_satisfaction_by_the_regret_term(lt_world):
    s = lt_world.new_session(0, 0)
    cat = lt_world.catalog
    v = int(np.argmax(cat.quality - cat.utility))  # high appeal, low utility
    st = s.state
    p_ev, p_like, _, nxt = s._probs(st, v)
    p_hate = (1 - p_ev) / (1 + math.exp(-(LT.hate_bias - LT.hate_slope * math.log(p_ev / (1 - p_ev)))))
    felt = p_ev * (1 + LT.w_regret * (cat.utility[v] - cat.quality[v])) + LT.like_boost * p_like
    expect = LT.satisfaction_decay * st.satisfaction + (1 - LT.satisfaction_decay) * (felt - LT.hate_penalty * p_hate)
    assert nxt.satisfaction == pytest.approx(expect, rel=1e-12)
    legacy_like = LT.satisfaction_decay * st.satisfaction + (1 - LT.satisfaction_decay) * (p_ev + LT.like_boost * p_like)
    assert nxt.satisfaction < legacy_like


def test_boredom_is_topic_concentration_and_shortens_sessions(lt_world):
    assert concentration(np.array([1.0, 0.0, 0.0])) == 1.0
    assert concentration(np.array([1.0, 1.0, 1.0, 1.0])) == pytest.approx(0.25)
    topic0 = np.flatnonzero(lt_world.catalog.topic == 0)[:12]
    mixed = [int(np.flatnonzero(lt_world.catalog.topic == t)[0]) for t in range(12)]
    s = lt_world.new_session(0, 1)
    same_hn = s.list_probabilities(topic0)[:, 2]
    quiet = SyntheticWorld(replace(LT, w_boredom=0.0), world_seed=11).new_session(0, 1)
    assert same_hn[-1] < quiet.list_probabilities(topic0)[-1, 2]  # boredom costs staying
    st = s.state
    for v in topic0:
        _, _, _, st = s._probs(st, int(v))
    st2 = s.state
    for v in mixed:
        _, _, _, st2 = s._probs(st2, int(v))
    assert st.boredom > 0.9 and st2.boredom < 0.2


def test_hate_only_on_poor_matches_at_kuairands_rate(episodes):
    rs = [r for ep in episodes for rec in ep for r in rec.responses]
    assert all(not (r.hate and r.effective_view) for r in rs)
    rate = np.mean([r.hate for r in rs])
    assert 0.0002 < rate < 0.0012, rate  # KuaiRand standard feed: 0.05%


def test_calibration_bands_under_server_order(episodes):
    rs = [r for ep in episodes for rec in ep for r in rec.responses]
    depth = np.mean([len(rec.responses) for ep in episodes for rec in ep])
    assert 0.28 < np.mean([r.effective_view for r in rs]) < 0.38
    assert 0.012 < np.mean([r.like for r in rs]) < 0.03
    assert 10 < depth < 40
    sessions = np.mean([len(ep) for ep in episodes])
    days = np.mean([len({int(rec.start_h // 24) for rec in ep}) for ep in episodes])
    assert 3 < sessions < 12 and 2.5 < days < 5.5  # a week: KuaiRand's 8.0 of 17 days ≈ 3.3 of 7


def test_return_law_by_hand():
    st = _State(10, 0.0, np.zeros(16), {}, None, 0.0, sat_sum=10 * 0.45, bore_sum=10 * 0.5, hates=1.0)
    z = LT.return_bias + LT.return_w_satisfaction * (0.45 - LT.s_ref) - LT.return_w_boredom * (0.5 - LT.boredom_ref) \
        - LT.return_w_hate * 1.0
    assert return_probability(LT, st) == pytest.approx(1 / (1 + math.exp(-z)))
    assert return_probability(LT, st._replace(hates=3.0)) < return_probability(LT, st)
    assert return_probability(LT, st._replace(sat_sum=10 * 0.6)) > return_probability(LT, st)
    assert return_probability(WorldConfig(), st) == 0.0


def test_episodes_are_deterministic_and_keep_the_device_history(lt_world):
    a = run_episode(lt_world, lt_world.new_episode(5, 2), server_order)
    b = run_episode(lt_world, lt_world.new_episode(5, 2), server_order)
    assert [(r.part, r.start_h, [x.watch_s for x in r.responses]) for r in a] == \
           [(r.part, r.start_h, [x.watch_s for x in r.responses]) for r in b]
    assert len(a) >= 2 and a[1].gap_h > 0 and a[1].start_h > a[0].start_h
    st = SessionState(n_history=8)
    st._hist_dense.append(np.ones(3))
    st.consumed, st.elapsed_s = 5, 100.0
    st.start_session(7200.0)
    assert len(st._hist_dense) == 1 and st.consumed == 0 and st.elapsed_s == 0 and st.since_last_s == 7200.0
    assert len(st.cache) == 0


def test_emulate_counts_users_and_reports_per_session_beside_per_episode(lt_world):
    from device_runtime.reranker import Reranker
    from device_runtime.sim.emulator import EmulatorConfig, run_emulator, summarize
    from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT

    cfg = EmulatorConfig(sessions=4, seed=1, strategies=("server", "greedy"))
    runs = run_emulator(lt_world, Reranker(GOLDEN_ARTIFACT), cfg, progress=False)
    rep = summarize(runs)
    for name, run in runs.items():
        assert len(run.sessions) == 4 and len(run.parts) == 4  # one entry per user
        assert [m.total_reward for m in run.sessions] == pytest.approx([sum(p.total_reward for p in ep) for ep in run.parts])
        s = rep["strategies"][name]
        assert s["sessions_per_episode"] == pytest.approx(np.mean([len(ep) for ep in run.parts]))
        assert set(s["per_session"]) == {"depth", "effective_views", "likes", "total_reward"}
    legacy = summarize(run_emulator(SyntheticWorld(world_seed=11), Reranker(GOLDEN_ARTIFACT), cfg, progress=False))
    assert "per_session" not in legacy["strategies"]["server"]


def test_logs_of_an_episode_carry_the_history_across_sessions(lt_world):
    pytest.importorskip("pyarrow")
    from training.data.synthetic_logs import LogConfig, simulate_logs

    logs = simulate_logs(LogConfig(sessions=6, seed=2), progress=False, world=lt_world)
    sid, pos, mask = logs.session_id, logs.position, logs.hist_mask.sum(1)
    later = sid >= 6  # session k >= 1 of user s has id s + 6k
    assert later.any() and set(np.unique(sid % 6)) <= set(range(6))
    first_rows = (pos == 0) & (logs.prefix_len == 0)
    assert np.all(mask[first_rows & ~later] == 0)  # a user's first session starts with an empty history
    assert np.all(mask[first_rows & later] > 0)  # a return starts with the device's kept history


def test_emulate_and_simulate_logs_commands_in_the_long_term_world(tmp_path):
    import json

    from tests.conftest import run_cli
    from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT

    out = tmp_path / "e.json"
    proc = run_cli("emulate", "--artifact", str(GOLDEN_ARTIFACT), "--world", "synthetic-long-term", "--world-seed", "1001",
                   "--sessions", "3", "--seed", "1", "--strategies", "server,greedy,oracle_myopic", "--json", str(out),
                   "--quiet", timeout=300)
    assert "paired users (episodes" in proc.stdout
    rep = json.loads(out.read_text())
    assert rep["strategies"]["oracle_myopic"]["uses_hidden_state"] is True
    assert rep["strategies"]["server"]["sessions_per_episode"] >= 1
    pytest.importorskip("pyarrow")
    proc = run_cli("simulate-logs", "--world", "synthetic-long-term", "--sessions", "5", "--seed", "1",
                   "--out", str(tmp_path / "l.parquet"), "--quiet")
    assert json.loads(proc.stdout)["sessions"] > 5  # 5 users, each a week of sessions


def test_hate_reaches_the_device_history_the_event_log_and_its_replay(tmp_path):
    from device_runtime import contract as C
    from device_runtime.events import EventLog, group_sessions, read_events
    from device_runtime.feed import DeviceFeed
    from device_runtime.reranker import Reranker
    from device_runtime.sim.replay import replay_session
    from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT

    world = SyntheticWorld(world_seed=3)
    s = world.new_session(0, 0)
    page = world.server_page(s, 0)
    with EventLog(tmp_path / "ev.jsonl") as log:
        feed = DeviceFeed(Reranker(GOLDEN_ARTIFACT), "server", log=log)
        feed.page_arrived(world.raw_videos(page), page.propensity)
        feed.show(feed.next_index())
        feed.skipped(0.05, 1.0, 2.0, 1, hate=1)
        feed.show(feed.next_index())
        feed.video_finished(0.9, 1, 0, 12.0, 1.0, 0)
        feed.end()
    col = C.N_VIDEO_DENSE + C.FEEDBACK.index("hate")
    assert feed.state.history().dense[:2, col].tolist() == [0.0, 1.0]  # newest first
    events = list(read_events(tmp_path / "ev.jsonl"))
    assert [e.get("hate") for e in events if e["type"] in ("skipped", "video_finished")] == [1, None]
    imps = replay_session(group_sessions(iter(events))[0])
    assert [i.response.hate for i in imps] == [1, 0]
    assert imps[1].history.dense[0, col] == 1.0  # the replayed device saw the hate too


def test_rl_episode_is_the_users_week_and_done_means_churn(lt_world):
    from device_runtime.sim.policy_env import EnvConfig, FeedEnv

    env = FeedEnv(lt_world, EnvConfig(depth_cap=200))  # the world's own per-session cap
    churned = 0
    for i in range(12):
        obs = env.reset(4, i)
        total, ends = 0.0, 0
        while True:
            step = env.step([0])  # server order
            total += step.reward
            ends += step.session_ended
            if step.session_ended and not (step.done or step.truncated):
                assert step.observation["hist_mask"].sum() > 0  # the next session starts with the history
            if step.done or step.truncated:
                break
        recs = run_episode(lt_world, lt_world.new_episode(4, i), server_order)
        assert total == sum(r.effective_view + 5 * r.like for rec in recs for r in rec.responses)
        assert env.sessions == len(recs) and ends == len(recs)
        assert step.done == env.episode.churned and step.truncated == (not env.episode.churned)
        churned += step.done
    assert obs is not None


def test_logs_from_events_of_a_multi_session_user_equal_simulate_logs(tmp_path):
    """The replayed device keeps its history across a user's sessions, as the live one did."""
    pytest.importorskip("pyarrow")
    from reelrank.cli import main
    from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT
    from training.data.synthetic_logs import LogConfig, read_parquet, simulate_logs

    events, out = tmp_path / "ev.jsonl", tmp_path / "l.parquet"
    assert main(["emulate", "--artifact", str(GOLDEN_ARTIFACT), "--world", "synthetic-long-term", "--sessions", "3",
                 "--seed", "3", "--world-seed", "5", "--strategies", "server", "--events", str(events), "--quiet"]) == 0
    assert main(["logs-from-events", "--events", str(events), "--out", str(out), "--strategy", "server"]) == 0
    got, _ = read_parquet(out)
    want = simulate_logs(LogConfig(sessions=3, seed=3, world_seed=5), progress=False,
                         world=SyntheticWorld(LT, world_seed=5))
    assert got.n == want.n > 0 and (want.session_id >= 3).any()
    for name, a, b in zip(want._fields, got, want, strict=True):
        assert np.array_equal(a, b), name


def test_policy_learners_log_and_train_in_the_long_term_world():
    pytest.importorskip("keras")
    from training.policy.common import world_for
    from training.policy.logged import logged_sessions

    assert world_for(3, "synthetic-long-term").config == LT and world_for(3).config == WorldConfig()
    with pytest.raises(ValueError, match="`world` must be one of"):
        world_for(3, "nowhere")
    data = logged_sessions(9, 4, 1, world="synthetic-long-term")
    assert (data.session >= 4).any()  # later sessions of the 4 users are logged too
    first = np.flatnonzero(np.r_[True, np.diff(data.session) != 0])  # each session's first row
    later = data.session[first] >= 4
    assert np.all(data.obs["hist_mask"][first][later].sum(1) > 0)  # a return starts with the kept history
