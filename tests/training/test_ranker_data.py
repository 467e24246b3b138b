"""Ranker inputs: the user split, the column checks, the baselines' inputs, and no training/serving
skew between the device's live feature building and the logged training rows."""

import numpy as np
import pytest

from device_runtime import contract as C
from device_runtime.features import build_prefix
from device_runtime.sim.rollout import run_session
from device_runtime.sim.world import SyntheticWorld
from training.data.synthetic_logs import LogConfig, simulate_logs
from training.ranker.baselines import server_pxtr
from training.ranker.inputs import FEATURE_NAMES, ranker_data
from training.ranker.logistic import LogisticBaseline, LogisticConfig, flat_features
from training.ranker.metrics import auc
from training.ranker.rmtl import next_rows
from training.ranker.split import split_by_user

SEED, SESSIONS = 5, 6


@pytest.fixture(scope="module")
def logs():
    return simulate_logs(LogConfig(sessions=SESSIONS, seed=SEED), progress=False)


def _live_device_features(seed: int, session_index: int) -> tuple[list[dict], list[int]]:
    """Replay one logged session, snapshotting the live SessionState at every rerank moment."""
    world = SyntheticWorld(world_seed=0)
    snaps: list[dict] = []

    def choose(state, session):  # the behaviour policy of the logs: server order
        snaps.append({"history": state.history(), "context": state.context(),
                      "candidates": state.candidates(C.M_MAX_DEFAULT),
                      "video_ids": np.asarray(state.cache.video_id).copy()})
        return 0

    imps = run_session(world, world.new_session(seed, session_index), choose=choose)
    return snaps, [imp.video for imp in imps]


def test_device_built_features_equal_the_training_row(logs):
    data = ranker_data(logs)
    checked = 0
    for s in range(SESSIONS):
        snaps, shown = _live_device_features(SEED, s)
        rows = np.flatnonzero(logs.session_id == s)
        assert rows.size == len(shown)
        for i in rows:
            t, j = int(logs.position[i]), int(logs.prefix_len[i])
            at = snaps[t - j]  # the device reranks at the anchor t - j ...
            ids = list(at["video_ids"][: C.M_MAX_DEFAULT])
            placed = [ids.index(v) for v in shown[t - j:t]]  # ... having placed these since
            prefix = build_prefix(at["candidates"], placed, C.L_MAX_DEFAULT - 1)
            target = ids.index(shown[t])
            device = {
                "hist_dense": at["history"].dense, "hist_ids": at["history"].ids,
                "hist_mask": at["history"].mask, "prefix_dense": prefix.dense,
                "prefix_ids": prefix.ids, "prefix_mask": prefix.mask,
                "cand_dense": at["candidates"].dense[target], "cand_ids": at["candidates"].ids[target],
                "context": at["context"],
            }
            assert set(device) == set(FEATURE_NAMES)
            for name in FEATURE_NAMES:
                assert device[name].dtype == data.inputs[name].dtype, name
                np.testing.assert_array_equal(device[name], data.inputs[name][i], err_msg=f"row {i} {name}")
            checked += 1
    assert checked == logs.n and (logs.prefix_len > 0).sum() > 10


def test_feature_names_are_the_models_inputs():
    from training.ranker.model import INPUT_NAMES

    assert FEATURE_NAMES == INPUT_NAMES


def test_split_is_by_user_and_covers_every_row(logs):
    user_id = np.repeat(np.arange(50), 7)
    parts = split_by_user(user_id, 0.1, 0.2, seed=1)
    sets = [set(user_id[p]) for p in parts]
    assert all(not (a & b) for k, a in enumerate(sets) for b in sets[k + 1:])
    assert sorted(np.concatenate(parts).tolist()) == list(range(user_id.size))
    assert [len(s) for s in sets] == [35, 5, 10]
    assert all(np.array_equal(a, b) for a, b in zip(parts, split_by_user(user_id, 0.1, 0.2, seed=1), strict=True))
    with pytest.raises(ValueError, match="valid_fraction \\+ test_fraction"):
        split_by_user(user_id, 0.5, 0.5)


def test_ranker_data_names_the_bad_column(logs):
    bad = logs._replace(hist_dense=logs.hist_dense[:, :, :5])
    with pytest.raises(ValueError, match=r"`logs.hist_dense` must have per-row shape \(8, 11\), got \(8, 5\)"):
        ranker_data(bad)
    bad_ids = logs._replace(cand_ids=logs.cand_ids + 5000)
    with pytest.raises(ValueError, match="cand_ids"):
        ranker_data(bad_ids)


def test_server_pxtr_undoes_like_scale_and_drops_constant_columns():
    dense = np.zeros((3, C.N_VIDEO_DENSE), np.float32)
    dense[:, C.VIDEO_DENSE.index("server_p_like")] = [0.1, 0.5, 1.0]
    dense[:, C.VIDEO_DENSE.index("server_p_ev")] = [0.2, 0.3, 0.4]
    out = server_pxtr(dense)
    np.testing.assert_allclose(out["like"], [0.01, 0.05, 0.1], rtol=1e-6)
    np.testing.assert_allclose(out["effective_view"], [0.2, 0.3, 0.4], rtol=1e-6)
    assert out["has_next"] is None  # all zeros: the data set has no such prediction


def test_logistic_regression_recovers_a_planted_signal(logs):
    data = ranker_data(logs)
    rng = np.random.default_rng(0)
    x = flat_features(data.inputs)
    assert x.shape == (data.n, 8 * 11 + 8 + 5 * 6 + 5 + 6 + 4 + C.ID_VOCAB["topic"])  # schema 2.0: 11 per slot
    z = 4.0 * (data.inputs["context"][:, 3] - 0.5) + 3.0 * (data.inputs["cand_dense"][:, 3] - 0.5)
    labels = (rng.random((data.n, 3)) < 1 / (1 + np.exp(-z[:, None]))).astype(np.float32)
    lr = LogisticBaseline.fit(data.inputs, labels, LogisticConfig(l2=1.0))
    p = lr.predict(data.inputs)
    oracle = 1 / (1 + np.exp(-z))
    for k in range(3):
        assert auc(labels[:, k], p[:, k]) > auc(labels[:, k], oracle) - 0.03


def test_next_rows_follow_position_within_session():
    session = np.array([7, 7, 3, 7, 3])
    position = np.array([2, 0, 1, 1, 0])
    assert next_rows(session, position).tolist() == [-1, 3, -1, 0, 2]
