"""The RL environment over the device's view (numpy only): paging as the emulator, done vs
truncated, slates, rewards."""

import numpy as np
import pytest

from device_runtime.sim.policy_env import EnvConfig, FeedEnv, top_n
from device_runtime.sim.rollout import run_session, server_order
from device_runtime.sim.world import SyntheticWorld


@pytest.fixture(scope="module")
def world():
    return SyntheticWorld(world_seed=3)


def test_index_zero_replays_the_server_order_session_impression_for_impression(world):
    for index in range(3):
        imps = run_session(world, world.new_session(5, index), server_order)
        env = FeedEnv(world, EnvConfig(depth_cap=10_000))
        obs = env.reset(5, index)
        for t, imp in enumerate(imps):
            # the observation is the device's snapshot the log generator records
            np.testing.assert_array_equal(obs["hist_dense"], imp.history.dense)
            np.testing.assert_array_equal(obs["cand_ids"], imp.candidates.ids)
            np.testing.assert_array_equal(obs["cand_mask"], imp.candidates.mask)
            np.testing.assert_array_equal(obs["context"], imp.context)
            st = env.step([0])
            r = imp.response
            assert st.reward == 1.0 * r.effective_view + 5.0 * r.like
            assert st.responses[0].tolist() == [r.effective_view, r.like]
            assert st.done == (t == len(imps) - 1) and not st.truncated
            obs = st.observation
        assert env.depth == len(imps) and env.finished


def test_depth_cap_truncates_without_terminating(world):
    env = FeedEnv(world, EnvConfig(depth_cap=3))
    env.reset(5, 0)  # session (5, 0) lasts more than 3 videos (checked by the previous test's log)
    assert len(run_session(world, world.new_session(5, 0), server_order)) > 3
    flags = [(s.done, s.truncated) for s in (env.step([0]) for _ in range(3))]
    assert flags == [(False, False), (False, False), (False, True)]
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step([0])


def test_a_slate_shows_the_chosen_videos_in_order(world):
    env = FeedEnv(world, EnvConfig(slate=3, depth_cap=50))
    obs = env.reset(6, 1)
    ids_before = list(env._cache_videos)
    st = env.step([4, 0, 2])
    assert world.new_session(6, 1).user_id == env.session.user_id
    # the user watched cache entries 4, 0, 2 of the observation, in that order (until leaving)
    shown = [ids_before[i] for i in st.shown]
    assert env.session.seen[: len(shown)] == shown
    assert st.watched.sum() == len(st.shown) and st.reward == pytest.approx(
        float(st.responses[:, 0].sum() + 5 * st.responses[:, 1].sum()))
    assert obs["cand_mask"].sum() >= 3


@pytest.mark.parametrize("action, what", [([0, 0], "distinct"), ([40], r"\[0, "), ([0, 1, 2, 3], "1 to 3")])
def test_invalid_actions_name_the_argument(world, action, what):
    env = FeedEnv(world, EnvConfig(slate=3))
    env.reset(6, 2)
    with pytest.raises(ValueError, match="`action` must be") as e:
        env.step(action)
    assert "got" in str(e.value)


def test_config_errors_name_argument_expected_and_received():
    with pytest.raises(ValueError, match=r"`slate` must be in \[1, m_max = 16\], got 0"):
        EnvConfig(slate=0)
    with pytest.raises(ValueError, match="`depth_cap` must be >= 1, got 0"):
        EnvConfig(depth_cap=0)


def test_top_n_masks_padding_and_breaks_ties_toward_the_lower_index():
    scores = np.array([[1.0, 3.0, 3.0, 9.0], [5.0, 1.0, 0.0, 0.0]])
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], np.float32)
    assert top_n(scores, mask, 2).tolist() == [[1, 2], [0, 0]]


def test_logged_sessions_with_an_exploring_client_have_support_and_exact_propensities():
    from training.policy.logged import logged_sessions

    plain = logged_sessions(0, 6, 123)
    expl = logged_sessions(0, 6, 123, explore_show=0.5)
    assert set(np.unique(plain.action).tolist()) == {0}  # server order: no support off slot 0
    assert (expl.action > 0).any()
    # propensity = server placement × client show probability ∈ {(1 − ε) + ε/n, ε/n}
    n_cache = expl.obs["cand_mask"].sum(axis=1)
    show = np.where(expl.action == 0, 0.5 + 0.5 / n_cache, 0.5 / n_cache)
    assert np.all(expl.propensity <= show + 1e-6) and np.all(expl.propensity > 0)
