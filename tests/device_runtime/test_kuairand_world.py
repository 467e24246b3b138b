"""The real-catalog world: real tables in, the synthetic law's properties kept, rates near the data."""

import copy
import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from device_runtime.sim import kuairand_calibration as K
from device_runtime.sim import kuairand_tables as T
from device_runtime.sim.kuairand_world import (
    KuaiRandCalibration,
    KuaiRandWorld,
    click_probability,
    valid_play,
)
from device_runtime.sim.rollout import run_session
from tests.conftest import ROOT, run_cli

SLICE = ROOT / "tests" / "data" / "kuairand"
FULL = T.default_data_dir()
#: Budget of the world measurements below (small: seconds, not minutes).
SMALL = K.MeasureConfig(random_sessions=60, probes_per_step=8, server_sessions=80, seed=0)


@pytest.fixture(scope="module")
def world():
    return KuaiRandWorld(SLICE, world_seed=0)


def test_catalog_and_users_come_from_the_tables(world):
    with (SLICE / T.VIDEO_FILE).open() as f:
        rows = list(csv.DictReader(f))
    assert world.config.n_videos == len(rows) == world.catalog.topic.size
    assert world.config.n_users == 55
    i = next(k for k, r in enumerate(rows) if "," in r["tag"] and r["video_duration"])
    sess = world.new_session(0, 0)
    page = world.server_page(sess, 0)
    raw = world.raw_videos(page._replace(videos=np.array([i])))
    assert raw.video_id[0] == int(rows[i]["video_id"])
    assert raw.topic[0] == int(rows[i]["tag"].split(",")[0])  # the device sees the first tag id
    assert raw.author[0] == int(rows[i]["author_id"])
    assert raw.duration_s[0] == pytest.approx(float(rows[i]["video_duration"]) / 1000)
    blank = [k for k, r in enumerate(rows) if not r["video_duration"]]
    known = [float(r["video_duration"]) / 1000 for r in rows if r["video_duration"]]
    assert world.duration_imputed == len(blank) > 0
    np.testing.assert_allclose(world.catalog.duration_s[blank], np.median(known))


def test_valid_play_follows_kuairands_definition():
    # ≤ 7 s: the whole video; longer: strictly more than 7 s
    assert valid_play([5.0, 4.9, 7.0, 7.0, 7.01], [5.0, 5.0, 7.0, 30.0, 30.0]).tolist() == [
        True, False, True, False, True]


def test_click_probability_is_exact(world):
    """P(valid play) in closed form equals the frequency of valid plays over fresh uniforms."""
    sess = world.new_session(3, 0)
    dur = world.catalog.duration_s
    rng = np.random.default_rng(0)
    for video in (int(np.argmax(dur > 60)), int(np.argmax((dur > 8) & (dur < 17))), int(np.argmax(dur <= 7))):
        p_ev = sess.list_probabilities([video])[0, 0]
        exact = float(world.click_probability(p_ev, video))
        clicks = []
        for _ in range(3000):
            s = copy.copy(sess)
            s.uniforms = rng.random(sess.uniforms.shape)
            r = s.watch(video)
            clicks.append(bool(world.clicked(r.watch_s, video)))
        mean, se = np.mean(clicks), math.sqrt(exact * (1 - exact) / 3000)
        assert abs(mean - exact) < 4 * se + 1e-3, (video, dur[video], mean, exact)
    # hand-derived: a 60 s video with p_ev = 0.1 and slope 0.5 clicks with sigmoid(logit(0.1) + 2 log(18/7))
    assert click_probability(0.1, 60.0, 0.5) == pytest.approx(1 / (1 + math.exp(math.log(9) - 2 * math.log(18 / 7))))


def test_oracle_and_paired_sessions_are_kept(world):
    sess = world.new_session(0, 1)
    page = world.server_page(sess, 0).videos[:3]
    (e1, l1, h1), (e2, l2, h2), (e3, l3, _) = sess.list_probabilities(page)
    expected = (e1 + 5 * l1) + h1 * (e2 + 5 * l2) + h1 * h2 * (e3 + 5 * l3)
    assert sess.expected_list_reward(page, 1.0, 5.0) == pytest.approx(expected, rel=1e-12)
    a, b = world.new_session(4, 2), world.new_session(4, 2)
    np.testing.assert_array_equal(a.uniforms, b.uniforms)
    trace = [(i.video, i.response) for i in run_session(world, a)]
    assert trace == [(i.video, i.response) for i in run_session(KuaiRandWorld(SLICE, world_seed=0), b)]


def test_calibration_validates_and_round_trips(tmp_path):
    with pytest.raises(ValueError, match=r"`duration_offsets` must have 8 values .* got 2"):
        KuaiRandCalibration(duration_offsets=(1.0, 2.0))
    with pytest.raises(ValueError, match=r"unknown kuairand world parameters \['bogus'\]"):
        KuaiRandCalibration.from_json({"bogus": 1})
    path = tmp_path / "c.json"
    path.write_text(json.dumps(KuaiRandCalibration().to_json()))
    assert KuaiRandCalibration.load(path) == KuaiRandCalibration()


def test_fit_step_moves_each_parameter_by_its_logit_residual():
    """Hand-derived: with every world rate at the data's, nothing moves; a world long-view rate
    of 0.1 against 0.2 in the data moves ev_bias by damping · (logit 0.2 − logit 0.1)."""
    def rates(lv):
        return {"n": 100, "long_view": lv, "is_like": 0.01, "is_click": 0.2}
    data = {"overall": rates(0.2), **{f: {lv: rates(0.2) for lv in names} for f, names in K.FAMILIES.items()}}
    world_m = copy.deepcopy(data) | {"mean_logit": -2.0, "mean_personal": 0.0,
                                     "server": {**K.STANDARD_FEED, "mean_logit": -0.5}}
    world_m["server"]["long_view"] = K.STANDARD_FEED["long_view"]
    data["overall"]["is_like"] = world_m["overall"]["is_like"] = 0.01
    cal = KuaiRandCalibration()
    assert K.fit_step(cal, data, world_m).ev_bias == pytest.approx(cal.ev_bias)
    world_m["overall"]["long_view"] = 0.1
    moved = K.fit_step(cal, data, world_m, damping=0.5)
    gap = (math.log(0.3318 / 0.6682) - math.log(0.2 / 0.8)) / (math.log(0.3318 / 0.6682) - math.log(0.1 / 0.9))
    assert moved.personalisation == pytest.approx(cal.personalisation * gap**0.5)
    assert moved.ev_bias == pytest.approx(cal.ev_bias + 0.5 * (math.log(0.25) - math.log(1 / 9)))


def test_world_on_the_slice_separates_random_from_recommended(world):
    log, videos, users = K.load_targets(SLICE)
    data = K.data_rates(log, videos, users)
    m = K.measure(world, log, SMALL)
    assert m["unjoined_log_rows"] == 0
    assert abs(m["overall"]["long_view"] - data["overall"]["long_view"]) < 0.04, (m["overall"], data["overall"])
    assert m["server"]["long_view"] > 2.5 * m["overall"]["long_view"]  # the value of personalisation
    assert m["server"]["is_like"] > 2.5 * m["overall"]["is_like"]


@pytest.mark.skipif(not (FULL / T.LOG_FILE).exists(), reason="KuaiRand data not present")
def test_stored_calibration_reproduces_the_full_data():
    world = KuaiRandWorld(FULL, world_seed=0)
    log, videos, users = K.load_targets(FULL)
    data = K.data_rates(log, videos, users)
    m = K.measure(world, log, K.MeasureConfig(random_sessions=100, probes_per_step=8, server_sessions=120))
    assert m["overall"]["long_view"] == pytest.approx(data["overall"]["long_view"], abs=0.015)
    assert m["overall"]["is_click"] == pytest.approx(data["overall"]["is_click"], abs=0.025)
    assert m["overall"]["is_like"] == pytest.approx(data["overall"]["is_like"], abs=0.0015)
    assert m["server"]["long_view"] == pytest.approx(K.STANDARD_FEED["long_view"], abs=0.04)
    assert m["server"]["is_like"] == pytest.approx(K.STANDARD_FEED["is_like"], abs=0.005)
    # the duration profile: short videos are long-viewed most, unknown durations least
    dur = m["duration"]
    assert dur["0-7s"]["long_view"] > dur["60-120s"]["long_view"] > dur["unknown"]["long_view"]


def test_cli_kuairand_world_runs_simulate_logs_and_calibration(tmp_path):
    out = json.loads(run_cli("simulate-logs", "--world", "kuairand", "--data-dir", str(SLICE), "--sessions", "4",
                             "--out", str(tmp_path / "l.parquet"), "--quiet").stdout)
    assert out["impressions"] > 4
    run_cli("world-calibration", "--world", "kuairand", "--data-dir", str(SLICE), "--out", str(tmp_path / "cal"),
            "--random-sessions", "6", "--server-sessions", "6", "--probes", "2")
    report = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    assert {r["label"] for r in report["comparison"]} == {"long_view", "is_like", "is_click"}
    assert (tmp_path / "cal" / "calibration.png").stat().st_size > 10_000
    bad = subprocess.run([sys.executable, "-m", "reelrank", "world-info", "--world", "kuairand", "--data-dir",
                          str(tmp_path / "nowhere")], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "--world kuairand needs" in bad.stderr and "nowhere" in bad.stderr


def test_device_side_kuairand_modules_import_only_stdlib_and_numpy():
    allowed = {"__future__", "csv", "datetime", "json", "math", "dataclasses", "pathlib", "typing",
               "numpy", "device_runtime"}
    import ast

    for name in ("kuairand_tables", "kuairand_world", "kuairand_calibration"):
        tree = ast.parse((ROOT / "device_runtime" / "sim" / f"{name}.py").read_text())
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for mod in mods:
                assert mod.split(".")[0] in allowed, f"{name} imports {mod}"


def test_emulate_runs_in_the_kuairand_world(tmp_path):
    artifact = ROOT / "tests" / "golden" / "device_artifact"
    run_cli("emulate", "--artifact", str(artifact), "--world", "kuairand", "--data-dir", str(SLICE), "--sessions", "3",
            "--seed", "1", "--strategies", "server,greedy,adaptive_beam", "--json", str(tmp_path / "e.json"), "--quiet")
    rep = json.loads((tmp_path / "e.json").read_text())
    assert rep["sessions"] == 3 and set(rep["strategies"]) == {"server", "greedy", "adaptive_beam"}
    assert rep["world"]["world"] == "kuairand" and "kuairand_calibration" in rep["world"]


def test_default_data_dir_is_the_shared_folder_beside_the_repository():
    assert T.default_data_dir() == ROOT.parent / "shared" / "data" / "kuairand"
