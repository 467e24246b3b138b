"""Interval helpers: the normal factor over many sessions, Student's t over a few seeds."""

import numpy as np
import pytest

pytest.importorskip("scipy")

from benchmarks.policy_table import _pm, paired  # noqa: E402
from device_runtime.sim.world_stats import CI_STUDENT_T, mean_ci95, mean_ci95_t  # noqa: E402


def test_student_t_over_three_seeds_by_hand():
    x = np.array([1.0, 2.0, 4.0])  # mean 7/3, s = sqrt(7/3)
    mean, ci = mean_ci95_t(x)
    assert mean == pytest.approx(7 / 3)
    assert ci == pytest.approx(4.302652729911275 * np.sqrt(7 / 3) / np.sqrt(3))  # t(0.975, 2)
    _, normal = mean_ci95(x)
    assert ci / normal == pytest.approx(4.302652729911275 / 1.96)  # the 2.2x the normal factor missed
    assert "student_t" in CI_STUDENT_T


def test_t_approaches_the_normal_factor_with_many_values():
    x = np.random.default_rng(0).normal(size=2000)
    assert mean_ci95_t(x)[1] == pytest.approx(mean_ci95(x)[1], rel=2e-3)


def test_one_value_has_no_interval():
    assert np.isnan(mean_ci95_t(np.array([3.0]))[1])
    assert _pm(3.0, float("nan")).endswith("(one seed: no interval)")


def test_paired_reports_per_seed_means_with_a_t_interval():
    a = [{"total_reward": np.array([2.0, 4.0])}, {"total_reward": np.array([3.0, 3.0])},
         {"total_reward": np.array([5.0, 7.0])}]
    b = [{"total_reward": np.array([1.0, 1.0])}, {"total_reward": np.array([1.0, 2.0])},
         {"total_reward": np.array([2.0, 2.0])}]
    d = paired(a, b, "total_reward")
    assert d["seed_means"] == [2.0, 1.5, 4.0]
    assert d["seed_mean"] == pytest.approx(7.5 / 3)
    sd = np.std([2.0, 1.5, 4.0], ddof=1)
    assert d["seed_ci95"] == pytest.approx(4.302652729911275 * sd / np.sqrt(3))
    assert d["n"] == 6 and d["mean"] == pytest.approx(np.mean([1, 3, 2, 1, 3, 5]))


def test_ratio_of_sums_with_a_delta_method_interval_by_hand():
    from device_runtime.sim.world_stats import ratio_ci95

    num, den = np.array([2.0, 6.0, 4.0]), np.array([1.0, 2.0, 1.0])  # R = 12 / 4 = 3
    r, ci = ratio_ci95(num, den)
    resid = num - 3.0 * den  # [-1, 0, 1]
    assert r == 3.0
    assert ci == pytest.approx(1.96 * np.sqrt((resid**2).sum() / (3 * 2)) / den.mean())
    assert np.isnan(ratio_ci95(np.array([1.0]), np.array([1.0]))[1])
