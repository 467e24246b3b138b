import json

import numpy as np
import pytest

from device_runtime import contract as C
from device_runtime import features as F


def test_dims_validation_names_the_argument():
    with pytest.raises(ValueError, match="`m_max` must be a positive int, got 0"):
        C.Dims(m_max=0)
    with pytest.raises(ValueError, match="`l_max` must be <= `m_max` = 4, got 6"):
        C.Dims(m_max=4, l_max=6)


def test_signature_specs_are_consistent_with_the_feature_lists():
    d = C.Dims(n_history=8, m_max=16, l_max=6)
    specs = C.signature_specs(d)
    score_in = {s.name: s for s in specs["score"]["inputs"]}
    assert score_in["hist_dense"].shape == (8, len(C.VIDEO_DENSE) + len(C.FEEDBACK))
    assert score_in["cand_dense"].shape == (16, len(C.VIDEO_DENSE))
    assert score_in["prefix_dense"].shape == (5, len(C.VIDEO_DENSE))
    assert score_in["context"].shape == (len(C.CONTEXT),)
    assert [s.name for s in specs["score"]["outputs"]] == ["p_has_next", "p_effective_view", "p_like"]
    assert [s.name for s in specs["rerank"]["outputs"]] == ["order", "list_reward", "steps"]
    # every prefix input names the candidate input it is gathered from, with the same row shape
    for p, c in C.PREFIX_GATHERED_FROM.items():
        assert score_in[p].shape[1:] == score_in[c].shape[1:]
        assert score_in[p].dtype == score_in[c].dtype
    # integer inputs carry a valid range
    assert score_in["cand_ids"].to_json()["range"] == [0, min(C.ID_VOCAB.values()) - 1]


def test_feature_spec_json_round_trips():
    spec = C.feature_spec_json()
    assert json.loads(json.dumps(spec)) == spec
    assert spec["schema_version"] == C.SCHEMA_VERSION


def _raw(n=3):
    return F.RawVideos(
        video_id=np.arange(n), server_p_ev=np.array([0.5, 0.0, 1.2])[:n],
        server_p_like=np.array([0.05, 0.2, 0.0])[:n], server_p_has_next=np.array([0.9, 0.8, 0.7])[:n],
        duration_s=np.array([1800.0, 0.0, 5000.0])[:n], age_days=np.array([365.0, 0.0, 1e9])[:n],
        server_rank=np.array([0, 8, 40])[:n], topic=np.array([0, 62, 63])[:n], author=np.array([5, 1023, -1])[:n],
    )


def test_video_features_hand_derived():
    v = _raw()
    dense = F.video_dense(v)
    assert dense.dtype == np.float32 and dense.shape == (3, len(C.VIDEO_DENSE))
    # server_p_ev clipped to [0, 1]; like scaled by 10 and clipped; duration/age log-normalised with caps
    np.testing.assert_allclose(dense[:, 0], [0.5, 0.0, 1.0])
    np.testing.assert_allclose(dense[:, 1], [0.5, 1.0, 0.0])
    np.testing.assert_allclose(dense[:, 3], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(dense[:, 4], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(dense[:, 5], [0.0, 0.5, 1.0])
    ids = F.video_ids(v)
    # ids: raw % (vocab - 1) + 1; negative → 0 (unknown)
    assert ids.tolist() == [[1, 6], [63, 1], [1, 0]]


def test_feedback_and_context_hand_derived():
    fb = F.Feedback(np.array([1.0, 5.0]), np.array([1, 0]), np.array([0, 1]), np.array([10.0, 2.0]))
    np.testing.assert_allclose(F.feedback_dense(fb), [[0.5, 1, 0, 0, 0], [1.0, 0, 1, 1, 0]])  # no hate given
    hated = F.Feedback(np.array([0.1]), np.array([0]), np.array([0]), np.array([1.0]), np.array([1]))
    np.testing.assert_allclose(F.feedback_dense(hated), [[0.05, 0, 0, 1, 1]])  # schema 2.0: hate
    ctx = F.context_vector(position=0, elapsed_s=3600, since_last_s=1e6, network=1)
    np.testing.assert_allclose(ctx, [0.0, 1.0, 1.0, 1.0])
    ctx2 = F.context_matrix(np.array([0.0]), np.array([3600.0]), np.array([1e6]), np.array([1.0]))
    np.testing.assert_allclose(ctx2[0], ctx)


def test_history_is_newest_first_and_padded():
    dense = np.arange(3 * C.N_HIST_DENSE, dtype=np.float32).reshape(3, C.N_HIST_DENSE)
    ids = np.array([[1, 1], [2, 2], [3, 3]])
    h = F.build_history(dense, ids, n_history=4)
    assert h.ids[:, 0].tolist() == [3, 2, 1, 0]
    assert h.mask.tolist() == [1, 1, 1, 0]
    h2 = F.build_history(dense, ids, n_history=2)
    assert h2.ids[:, 0].tolist() == [3, 2]


def test_candidates_cut_keeps_server_order_and_prefix_gathers():
    v = _raw()
    cands = F.build_candidates(F.video_dense(v), F.video_ids(v), m_max=2)
    assert cands.mask.tolist() == [1, 1]
    np.testing.assert_array_equal(cands.ids, F.video_ids(v)[:2])
    cands4 = F.build_candidates(F.video_dense(v), F.video_ids(v), m_max=4)
    pre = F.build_prefix(cands4, [2, 0], prefix_len=3)
    np.testing.assert_array_equal(pre.dense[:2], cands4.dense[[2, 0]])
    assert pre.mask.tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="`placed` holds at most 1 indices, got 2"):
        F.build_prefix(cands4, [0, 1], prefix_len=1)
