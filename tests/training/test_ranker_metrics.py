import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.ranker.metrics import auc, logloss, task_metrics


def test_auc_matches_hand_derived_value_with_a_tie():
    # positives score 0.9, 0.3, 0.5; negatives 0.9, 0.1. Of the 6 (pos, neg) pairs the positive
    # wins 3 ((0.9,0.1), (0.3,0.1), (0.5,0.1)), ties 1 ((0.9,0.9)) and loses 2: (3 + 0.5) / 6.
    y = np.array([1, 0, 1, 0, 1])
    s = np.array([0.9, 0.9, 0.3, 0.1, 0.5])
    assert auc(y, s) == pytest.approx(3.5 / 6, abs=1e-12)


def test_auc_extremes_and_single_class():
    y = np.array([0, 0, 1, 1])
    assert auc(y, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auc(y, np.array([0.4, 0.3, 0.2, 0.1])) == 0.0
    assert auc(y, np.full(4, 0.5)) == 0.5  # all tied
    assert math.isnan(auc(np.ones(3), np.array([0.1, 0.2, 0.3])))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=2, max_size=40))
def test_auc_equals_pair_counting(rows):
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows], dtype=float)  # few distinct values: many ties
    pos, neg = s[y], s[~y]
    if pos.size == 0 or neg.size == 0:
        return
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert auc(y, s) == pytest.approx(wins / (pos.size * neg.size), abs=1e-12)


def test_logloss_hand_value_and_length_check():
    # -(ln 0.8 + ln 0.75) / 2
    assert logloss(np.array([1, 0]), np.array([0.8, 0.25])) == pytest.approx(
        -(math.log(0.8) + math.log(0.75)) / 2)
    with pytest.raises(ValueError, match="same length"):
        logloss(np.array([1, 0]), np.array([0.5]))


def test_task_metrics_skips_tasks_without_a_predictor():
    labels = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0]], dtype=np.float32)
    out = task_metrics(labels, {"has_next": np.array([0.9, 0.1, 0.8]), "like": None})
    assert set(out) == {"has_next"} and out["has_next"]["auc"] == 1.0 and out["has_next"]["n"] == 3
