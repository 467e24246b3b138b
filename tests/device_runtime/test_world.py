import copy
import dataclasses

import numpy as np
import pytest

from device_runtime.sim.rollout import run_session, server_order
from device_runtime.sim.world import SyntheticWorld, WorldConfig
from device_runtime.sim.world_stats import (
    blind_rule,
    feedback_rule,
    mean_ci95,
    oracle_reorder_gain,
    paired_rewards,
    server_rates,
)


@pytest.fixture(scope="module")
def world():
    return SyntheticWorld(WorldConfig(), world_seed=0)


def test_same_seeds_same_sessions_other_seeds_differ(world):
    def trace(w, seed):
        return [(i.video, i.response) for i in run_session(w, w.new_session(seed, 3))]

    assert trace(world, 1) == trace(SyntheticWorld(WorldConfig(), 0), 1)
    assert trace(world, 1) != trace(world, 2)
    assert trace(world, 1) != trace(SyntheticWorld(WorldConfig(), 5), 1)
    other = SyntheticWorld(dataclasses.replace(WorldConfig(), w_intent=0.0), 0)
    assert trace(world, 1) != trace(other, 1)


def test_world_config_rejects_unknown_parameters():
    with pytest.raises(ValueError, match=r"unknown world parameters \['bogus'\]"):
        WorldConfig.from_json({"bogus": 1})
    assert WorldConfig.from_json({"h0": 2.0}).h0 == 2.0


def test_oracle_list_reward_matches_monte_carlo(world):
    """The closed-form expected reward of a list equals the average realised reward of showing it."""
    sess = world.new_session(11, 0)
    page = world.server_page(sess, 0).videos
    alpha, beta = 1.0, 5.0
    exact = sess.expected_list_reward(page, alpha, beta)
    rng = np.random.default_rng(0)
    totals = []
    for _ in range(6000):
        s = copy.deepcopy(sess)
        s.uniforms = rng.random(s.uniforms.shape)
        total = 0.0
        for v in page:
            r = s.watch(int(v))
            total += alpha * r.effective_view + beta * r.like
            if not r.has_next:
                break
        totals.append(total)
    mean, ci = mean_ci95(np.array(totals))
    assert abs(mean - exact) < max(ci * 1.3, 1e-3), (mean, ci, exact)


def test_hand_derived_list_reward(world):
    """LR = Σ s_i (α p_ev_i + β p_like_i) with s_i = Π_{j<i} p_has_next_j, computed by hand."""
    sess = world.new_session(0, 0)
    page = world.server_page(sess, 0).videos[:3]
    p = sess.list_probabilities(page)
    (e1, l1, h1), (e2, l2, h2), (e3, l3, _) = p
    expected = (e1 + 2 * l1) + h1 * (e2 + 2 * l2) + h1 * h2 * (e3 + 2 * l3)
    assert sess.expected_list_reward(page, 1.0, 2.0) == pytest.approx(expected, rel=1e-12)
    # the oracle does not move the session
    assert sess.position == 0


def test_label_rates_in_calibrated_bands(world):
    r = server_rates(world, sessions=300, seed=0)
    assert 0.28 <= r["effective_view_rate"] <= 0.38, r  # KuaiRand-Pure long_view 33.2%
    assert 0.012 <= r["like_rate"] <= 0.03, r  # KuaiRand-Pure is_like 1.85%
    assert 10 <= r["mean_depth"] <= 40, r


def test_order_matters_oracle_reordering_beats_server_order(world):
    gains = oracle_reorder_gain(world, pages=60, seed=0, n_perm=60)
    mean, ci = mean_ci95(gains)
    assert mean > 0.10 and mean - ci > 0, (mean, ci)


def test_feedback_is_informative(world):
    rewards = paired_rewards(world, {"blind": blind_rule, "feedback": feedback_rule}, sessions=800, seed=2)
    mean, ci = mean_ci95(rewards["feedback"] - rewards["blind"])
    assert mean - ci > 0, (mean, ci)


def test_server_propensities_are_exact():
    greedy = SyntheticWorld(dataclasses.replace(WorldConfig(), explore_rate=0.0), 0)
    sess = greedy.new_session(0, 0)
    page = greedy.server_page(sess, 0)
    np.testing.assert_allclose(page.propensity, 1.0)
    score = page.server_p_ev + greedy.config.like_boost * page.server_p_like
    assert np.all(np.diff(score) <= 0)  # sent best first
    uniform = SyntheticWorld(dataclasses.replace(WorldConfig(), explore_rate=1.0), 0)
    page_u = uniform.server_page(uniform.new_session(0, 0), 0)
    n = uniform.config.pool_size
    np.testing.assert_allclose(page_u.propensity, [1.0 / (n - k) for k in range(9)])


def test_server_never_resends_a_video(world):
    imps = run_session(world, world.new_session(4, 2), server_order)
    videos = [i.video for i in imps]
    assert len(videos) == len(set(videos))
    sess = world.new_session(4, 2)
    pages = [world.server_page(sess, r).videos for r in range(5)]
    allv = np.concatenate(pages)
    assert allv.size == np.unique(allv).size == 45
