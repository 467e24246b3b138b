import hashlib

import numpy as np
import pytest

from device_runtime import contract as C
from training.data.synthetic_logs import (
    LogConfig,
    label_rates,
    read_parquet,
    simulate_logs,
    write_parquet,
)


@pytest.fixture(scope="module")
def logs():
    return simulate_logs(LogConfig(sessions=60, seed=3), progress=False)


def test_parquet_round_trip_is_exact(logs, tmp_path):
    path = tmp_path / "l.parquet"
    write_parquet(logs, path, {"seed": 3})
    back, meta = read_parquet(path)
    assert meta["seed"] == 3 and meta["schema_version"] == C.SCHEMA_VERSION
    for name, a, b in zip(logs._fields, logs, back, strict=True):
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    def digest(seed, name):
        p = tmp_path / name
        write_parquet(simulate_logs(LogConfig(sessions=20, seed=seed), progress=False), p, {"seed": seed})
        return hashlib.sha256(p.read_bytes()).hexdigest()

    assert digest(7, "a.parquet") == digest(7, "b.parquet")
    assert digest(7, "a.parquet") != digest(8, "c.parquet")


def test_rows_are_consistent_rankings_contexts(logs):
    n_h, plen = C.N_HISTORY_DEFAULT, C.L_MAX_DEFAULT - 1
    assert logs.hist_dense.shape[1:] == (n_h, C.N_HIST_DENSE)
    assert logs.prefix_dense.shape[1:] == (plen, C.N_VIDEO_DENSE)
    assert np.all(logs.prefix_mask.sum(1) == logs.prefix_len)
    # the history as of the anchor holds min(anchor position, N_h) videos
    anchor = logs.position - logs.prefix_len
    assert np.all(logs.hist_mask.sum(1) == np.minimum(anchor, n_h))
    # the prefix of a row is the targets of the rows just before it, in order
    for i in np.flatnonzero(logs.prefix_len > 1)[:50]:
        j = logs.prefix_len[i]
        prev = [k for k in range(i - j, i)]
        assert np.all(logs.session_id[prev] == logs.session_id[i])
        np.testing.assert_array_equal(logs.prefix_dense[i, :j], logs.cand_dense[prev])
        np.testing.assert_array_equal(logs.prefix_ids[i, :j], logs.cand_ids[prev])
    # an anchor never crosses a page arrival
    for i in np.flatnonzero(logs.prefix_len > 0)[:200]:
        j = logs.prefix_len[i]
        assert logs.request[i - j] == logs.request[i]
    assert np.all((logs.propensity > 0) & (logs.propensity <= 1))


def test_label_rates_are_reported(logs):
    r = label_rates(logs)
    assert r["impressions"] == logs.n
    assert r["effective_view"] == pytest.approx(logs.effective_view.mean())


def test_reading_a_non_log_fails_clearly(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": [1]}), p)
    with pytest.raises(ValueError, match="not a ReelRank log"):
        read_parquet(p)
    with pytest.raises(FileNotFoundError):
        read_parquet(tmp_path / "missing.parquet")


def test_exploring_logging_client_varies_orders_with_exact_propensities():
    base = simulate_logs(LogConfig(sessions=40, seed=5), progress=False)
    expl = simulate_logs(LogConfig(sessions=40, seed=5, explore_show=0.5), progress=False)
    # same users; the shown videos differ once the client explores
    assert np.array_equal(np.unique(base.user_id), np.unique(expl.user_id))
    assert not np.array_equal(base.video_id[:200], expl.video_id[:200])
    # propensity = server placement × show probability: some rows now carry eps / n_cache factors
    assert (expl.propensity < base.propensity.min() - 1e-9).any() or (expl.propensity < 0.5).mean() > (base.propensity < 0.5).mean()
    with pytest.raises(ValueError, match="`explore_show` must be in"):
        LogConfig(explore_show=1.5)


def test_exploring_rule_probabilities_hand_derived():
    from training.data.synthetic_logs import exploring_rule

    class S:
        cache = [0, 1, 2, 3]

    probs: list[float] = []
    rule = exploring_rule(0.2, np.random.default_rng(0), probs)
    picks = [rule(S, None) for _ in range(2000)]
    # P(show index 0) = 0.8 + 0.2/4 = 0.85; any other index 0.05
    assert abs(np.mean(np.array(picks) == 0) - 0.85) < 0.03
    assert set(np.round(probs, 6)) <= {0.85, 0.05}
