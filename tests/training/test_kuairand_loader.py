"""The KuaiRand loader: hand-built rows with hand-derived features, and the committed real slice."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from device_runtime import contract as C
from device_runtime.sim import kuairand_tables as T
from tests.conftest import run_cli
from training.data.kuairand import NEUTRAL_PXTR, load_kuairand, split_users, write_subset

SLICE = Path(__file__).resolve().parents[1] / "data" / "kuairand"
LOG_HEADER = ("user_id,video_id,date,hourmin,time_ms,is_click,is_like,is_follow,is_comment,is_forward,"
              "is_hate,long_view,play_time_ms,duration_ms,profile_stay_time,comment_stay_time,"
              "is_profile_enter,is_rand,tab")
VIDEO_HEADER = ("video_id,author_id,video_type,upload_dt,upload_type,visible_status,video_duration,"
                "server_width,server_height,music_id,music_type,tag")
USER_HEADER = "user_id,user_active_degree,is_lowactive_period"
DAY0 = T.date_ms("2022-04-22")  # 00:00 Beijing time


def _log_row(user, video, t_s, click, like, lv, play_ms, dur_ms):
    return f"{user},{video},20220422,0,{DAY0 + int(t_s * 1000)},{click},{like},0,0,0,0,{lv},{play_ms},{dur_ms},0,0,0,1,1"


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    """Two known users and one unknown (7), three known videos and one unknown (99)."""
    (tmp_path / T.VIDEO_FILE).write_text("\n".join([
        VIDEO_HEADER,
        "10,501,NORMAL,2022-04-12,Web,0.0,20000.0,720,1280,1,9.0,\"39,5\"",
        "11,502,AD,2022-04-12,Web,0.0,5000.0,720,1280,1,4.0,",
        "12,501,NORMAL,2022-04-20,Web,0.0,,720,1280,1,,3",
    ]) + "\n")
    (tmp_path / T.USER_FILE).write_text(f"{USER_HEADER}\n1,full_active,0\n2,low_active,0\n")
    rows = [
        _log_row(1, 10, 0, 1, 1, 1, 30000, 20000),  # watch ratio 1.5
        _log_row(1, 11, 600, 0, 0, 0, 1000, 5000),  # 10 min later: same session; 1 s → skip
        _log_row(1, 12, 600 + 1801, 0, 0, 0, 4000, 0),  # 30 min 1 s later: a new session; duration unknown
        _log_row(2, 10, 100, 1, 0, 0, 9000, 20000),
        _log_row(7, 99, 50, 0, 0, 0, 2000, 8000),  # joins neither table
    ]
    (tmp_path / T.LOG_FILE).write_text(LOG_HEADER + "\n" + "\n".join(rows) + "\n")
    return tmp_path


def test_hand_built_rows_map_into_the_contract(tiny):
    logs, rep = load_kuairand(tiny)
    assert logs.n == 5 and list(logs.user_id) == [1, 1, 1, 2, 7]
    # has_next: within 30 min of the same user's next row; sessions follow the links
    assert list(logs.has_next) == [1, 0, 0, 0, 0]
    assert list(logs.session_id) == [0, 0, 1, 2, 3]
    assert list(logs.position) == [0, 1, 0, 0, 0]
    np.testing.assert_allclose(logs.watch_ratio, [1.5, 0.2, 0.0, 0.45, 0.25], rtol=1e-6)
    assert list(logs.effective_view) == [1, 0, 0, 0, 0] and list(logs.like) == [1, 0, 0, 0, 0]
    # the target: duration, age (video 10 uploaded 10 days before 2022-04-22), ids, neutral pXTR
    dur = C.VIDEO_DENSE.index("duration")
    age = C.VIDEO_DENSE.index("age")
    assert logs.cand_dense[0, dur] == pytest.approx(math.log1p(20) / math.log1p(1800), rel=1e-6)
    assert logs.cand_dense[0, age] == pytest.approx(math.log1p(10) / math.log1p(365), rel=1e-6)
    assert logs.cand_dense[2, dur] == 0.0  # unknown duration
    assert logs.cand_dense[0, C.VIDEO_DENSE.index("server_p_ev")] == pytest.approx(NEUTRAL_PXTR["effective_view"])
    assert logs.cand_dense[:, C.VIDEO_DENSE.index("server_rank")].tolist() == [0.0] * 5
    # topic = first tag (39 → 39 % 63 + 1), no tag → unknown 0; author 501 → 501 % 1023 + 1; miss → 0
    assert logs.cand_ids[:, 0].tolist() == [40, 0, 4, 40, 0]
    assert logs.cand_ids[:, 1].tolist() == [502, 503, 502, 502, 0]
    # history = the user's earlier rows, newest first, with feedback
    assert logs.hist_mask.sum(axis=1).tolist() == [0, 1, 2, 0, 0]
    assert logs.hist_ids[2, 0].tolist() == logs.cand_ids[1].tolist()
    assert logs.hist_ids[2, 1].tolist() == logs.cand_ids[0].tolist()
    wr, ev, like, skip, hate = (C.N_VIDEO_DENSE + C.FEEDBACK.index(f) for f in C.FEEDBACK)
    assert logs.hist_dense[2, :2, hate].tolist() == [0.0, 0.0]  # is_hate 0 in these rows
    assert logs.hist_dense[2, 1, [wr, ev, like, skip]].tolist() == pytest.approx([0.75, 1, 1, 0])
    assert logs.hist_dense[2, 0, [wr, ev, like, skip]].tolist() == pytest.approx([0.1, 0, 0, 1])
    # context: row 1 comes 600 s after row 0 began, whose 30 s play ended 570 s before it
    assert logs.context[1].tolist() == pytest.approx(
        [math.log1p(1) / math.log1p(200), math.log1p(600) / math.log1p(3600), math.log1p(570) / math.log1p(600), 1.0])
    assert logs.prefix_len.tolist() == [0] * 5 and logs.prefix_mask.sum() == 0
    # misses are counted, never dropped
    assert rep["join"] == {"video_misses": 1, "video_join_rate": 0.8, "user_misses": 1, "user_join_rate": 0.8,
                           "unknown_duration_rows": 1, "duration_mismatch_rows": 0}
    assert rep["labels"]["long_view"] == pytest.approx(0.2) and rep["labels"]["has_next"] == pytest.approx(0.2)


def test_pxtr_from_training_users_leaves_out_the_rows_own_user(tiny, tmp_path):
    logs, rep = load_kuairand(tiny, pxtr_from=tiny)
    # long_view by user: 1 → (1, 0, 0), 2 → (0), 7 → (0). Without user 1 the prior is 0/2, without
    # user 2 it is 1/4. Video 10 was seen by users 1 (lv 1) and 2 (lv 0).
    ev = C.VIDEO_DENSE.index("server_p_ev")
    assert logs.cand_dense[0, ev] == pytest.approx((0 + 20 * 0.0) / (1 + 20))  # user 1: user 2's row
    assert logs.cand_dense[3, ev] == pytest.approx((1 + 20 * 0.25) / (1 + 20))  # user 2: user 1's row
    assert logs.cand_dense[1, ev] == pytest.approx(0.0)  # nobody else saw video 11: the prior
    assert rep["pxtr"]["users_in_both"] == 3
    # flipping a row's own label never moves that row's target features
    text = (tiny / T.LOG_FILE).read_text().splitlines()
    first = text[1].split(",")
    first[11] = "0"
    text[1] = ",".join(first)
    other = tmp_path / "flipped"
    other.mkdir()
    for f in (T.VIDEO_FILE, T.USER_FILE):
        (other / f).write_text((tiny / f).read_text())
    (other / T.LOG_FILE).write_text("\n".join(text) + "\n")
    flipped, _ = load_kuairand(other, pxtr_from=other)
    np.testing.assert_array_equal(flipped.cand_dense[0], logs.cand_dense[0])


def test_real_slice_rates_match_an_independent_count():
    logs, rep = load_kuairand(SLICE)
    with (SLICE / T.LOG_FILE).open() as f:
        rows = list(csv.DictReader(f))
    assert logs.n == rep["rows"] == len(rows) <= 2000
    for label in ("long_view", "is_like", "is_click"):
        assert rep["labels"][label] == pytest.approx(np.mean([int(r[label]) for r in rows]))
    assert rep["join"]["video_join_rate"] == 1.0 and rep["join"]["user_join_rate"] == 1.0
    assert logs.effective_view.mean() == pytest.approx(rep["labels"]["long_view"])
    for arr in logs[:-3]:  # every column but the true_p_* ones is finite
        assert np.isfinite(np.asarray(arr, dtype=np.float64)).all()


def test_subsets_are_user_disjoint_and_load_the_same_rows(tmp_path):
    train, held = split_users(SLICE, eval_fraction=0.2, seed=3)
    assert np.intersect1d(train, held).size == 0 and train.size + held.size == 55 and held.size == 11
    info = write_subset(SLICE, tmp_path / "eval", held)
    full, _ = load_kuairand(SLICE)
    part, rep = load_kuairand(tmp_path / "eval")
    assert rep["rows"] == info["rows"] == int(np.isin(full.user_id, held).sum())
    mask = np.isin(full.user_id, held)
    np.testing.assert_array_equal(part.hist_dense, full.hist_dense[mask])
    np.testing.assert_array_equal(part.cand_ids, full.cand_ids[mask])
    assert "CC BY-SA 4.0" in (tmp_path / "eval" / "NOTICE.md").read_text()


def test_cli_split_and_info(tmp_path):
    out = json.loads(run_cli("kuairand-split", "--data", str(SLICE), "--out", str(tmp_path), "--trim-tables",
                              "--eval-fraction", "0.2", "--seed", "0").stdout)
    assert out["train"]["users"] + out["eval"]["users"] == 55
    assert out["train"]["rows"] + out["eval"]["rows"] == 1846
    info = json.loads(run_cli("kuairand-info", "--data", str(tmp_path / "eval")).stdout)
    assert info["rows"] == out["eval"]["rows"] and info["join"]["video_misses"] == 0
