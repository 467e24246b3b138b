"""Loss pieces against hand-derived values: the TD target, the top-K multiplier, weight capping,
returns, HAC's inverse module, Polyak averaging, and policy-guided beam search."""

import math

import numpy as np
import pytest

from device_runtime.beam_search import beam_search
from device_runtime.policy_strategy import guide_reference, guided_beam_search
from training.policy.logged import discounted_returns

tf = pytest.importorskip("tensorflow")

from training.policy.common import mean_phi, soft_update, td_target  # noqa: E402
from training.policy.reinforce_topk import capped_weight, topk_multiplier  # noqa: E402


def test_td_target_bootstraps_only_while_the_user_stays():
    r = np.array([1.0, 6.0, 0.0], np.float32)
    q_next = np.array([10.0, 10.0, 4.0], np.float32)
    done = np.array([1.0, 0.0, 1.0], np.float32)
    y = td_target(r, done, 0.9, q_next)
    assert y[0] == 1.0 and y[2] == 0.0  # done = 1: exactly r, whatever Q′ says
    assert y[1] == pytest.approx(6.0 + 0.9 * 10.0)


def test_topk_multiplier_is_k_times_one_minus_pi_to_the_k_minus_1():
    assert topk_multiplier(0.3, 1) == 1.0  # K = 1: the plain off-policy correction
    assert topk_multiplier(0.25, 2) == pytest.approx(2 * 0.75)
    assert topk_multiplier(0.5, 6) == pytest.approx(6 * 0.5**5)  # 0.1875
    assert topk_multiplier(0.999, 6) < 1e-12  # an item already certain to be in the top K gets no push


def test_weights_are_capped():
    w = capped_weight(np.array([0.5, 0.2]), np.array([0.01, 0.4]), math.e**3)
    assert w[0] == pytest.approx(math.e**3)  # 50 capped to e³ ≈ 20.09
    assert w[1] == pytest.approx(0.5)
    t = capped_weight(tf.constant([0.5]), tf.constant([0.01]), 2.0)
    assert float(t[0]) == 2.0


def test_discounted_returns_by_hand():
    np.testing.assert_allclose(discounted_returns(np.array([1.0, 0.0, 2.0]), 0.9), [1 + 0.81 * 2, 1.8, 2.0], rtol=1e-6)


def test_inverse_module_averages_phi_over_the_watched_items():
    phi = tf.constant([[[1.0, 0.0], [0.0, 2.0], [4.0, 4.0]]])  # B=1, M=3, d=2
    z_hat = mean_phi(phi, tf.constant([[2, 0, 1]]), tf.constant([[1.0, 1.0, 0.0]]))  # the user left before item 1
    np.testing.assert_allclose(z_hat.numpy(), [[2.5, 2.0]])


def test_soft_update_is_polyak_averaging():
    target, source = tf.Variable([1.0, 0.0]), tf.Variable([3.0, 10.0])
    soft_update([target], [source], 0.01)
    np.testing.assert_allclose(target.numpy(), [1.02, 0.1], rtol=1e-6)


def test_guide_is_lambda_times_min_max_normalised_score_on_valid_slots():
    g = guide_reference(np.array([2.0, 4.0, 3.0, 99.0]), np.array([1, 1, 1, 0]), 0.5)
    np.testing.assert_allclose(g, [0.0, 0.5, 0.25, 0.0])
    assert not guide_reference(np.array([1.0, 1.0]), np.array([1, 1]), 0.5).any()  # no spread → no guide


def _random_scorer(m, seed):
    rng = np.random.default_rng(seed)
    table = rng.random((m + 1, 3, m)).astype(np.float32) * np.array([1.0, 0.6, 0.1], np.float32)[:, None]

    def scorer(placed):
        row = table[len(placed)] * (1 + 0.1 * (sum(placed) % 3))
        return row[0], row[1], row[2]

    return scorer


def test_guided_beam_search_with_no_guide_is_beam_search():
    mask = np.array([1] * 10 + [0] * 6, np.float32)
    for seed in range(5):
        scorer = _random_scorer(16, seed)
        kw = dict(beam_size=4, max_steps=6, alpha=1.0, beta=5.0, threshold=0.95, n_show=1)
        a = beam_search(scorer, mask, **kw)
        b = guided_beam_search(scorer, mask, np.zeros(16, np.float32), **kw)
        assert np.array_equal(a.order, b.order) and a.steps == b.steps
        assert b.list_reward == pytest.approx(a.list_reward)


def test_a_large_guide_puts_the_policy_top_first():
    mask = np.array([1] * 10 + [0] * 6, np.float32)
    scores = np.arange(16, dtype=np.float32)[::-1].copy()
    scores[7] = 100.0  # the policy's favourite
    guide = guide_reference(scores, mask, 1e3)
    r = guided_beam_search(_random_scorer(16, 0), mask, guide, beam_size=4, max_steps=6, alpha=1.0, beta=5.0,
                           threshold=0.95, n_show=1)
    assert r.order[0] == 7


def test_guided_search_returns_the_plain_list_reward_of_its_list():
    """The guide ranks beams; the reported ListReward is Σ s_i (α p_ev_i + β p_like_i) of the list."""
    mask = np.array([1] * 8 + [0] * 8, np.float32)
    guide = np.linspace(0.0, 0.5, 16).astype(np.float32)
    scorer = _random_scorer(16, 3)
    r = guided_beam_search(scorer, mask, guide, beam_size=4, max_steps=3, alpha=1.0, beta=5.0, threshold=2.0, n_show=1)
    lr, surv, placed = 0.0, 1.0, []
    for c in r.order[: r.steps]:
        p_hn, p_ev, p_like = scorer(placed)
        lr += surv * (p_ev[c] + 5.0 * p_like[c])
        surv *= p_hn[c]
        placed.append(int(c))
    assert r.steps == 3 and r.list_reward == pytest.approx(lr, rel=1e-6)
