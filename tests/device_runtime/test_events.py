"""The event log: checksummed lines, torn tails skipped, a SIGKILL loses at most one event, and a
replay rebuilds exactly the impressions the live session recorded."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from device_runtime.events import (
    EventLog,
    ReadReport,
    decode_line,
    encode_line,
    group_sessions,
    page_from_json,
    page_to_json,
    read_events,
)
from device_runtime.feed import DeviceFeed
from device_runtime.reranker import Reranker
from device_runtime.sim.replay import replay_session
from device_runtime.sim.rollout import run_session
from device_runtime.sim.world import SyntheticWorld
from device_runtime.triggers import TriggerConfig
from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT

ROOT = Path(__file__).resolve().parents[2]


def test_line_roundtrip_and_checksum():
    e = {"type": "video_finished", "watch_ratio": 0.1 + 0.2, "session": "server/3", "nan": float("nan")}
    line = encode_line(e)
    assert line.endswith(b"\n") and line.count(b"\t") == 1
    back = decode_line(line)
    assert back["watch_ratio"] == 0.1 + 0.2 and np.isnan(back["nan"])  # floats round-trip exactly
    flipped = line.replace(b"video", b"vidEo")
    assert decode_line(flipped) is None
    assert decode_line(line[:-1]) is None  # no newline: torn
    assert decode_line(b"garbage\n") is None


def test_torn_tail_and_corrupt_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "e.jsonl"
    with EventLog(path) as log:
        for i in range(5):
            log.append({"session": 0, "type": "x", "i": i})
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"i":1', b'"i":7')  # bit rot in the middle
    path.write_bytes(b"".join(lines) + encode_line({"session": 0, "type": "x", "i": 5})[:-7])  # torn tail
    rep = ReadReport()
    got = [e["i"] for e in read_events(path, rep)]
    assert got == [0, 2, 3, 4]
    assert rep.torn_tail and rep.corrupt_lines == [2] and rep.events == 4
    with EventLog(path) as log:  # reopening ends the torn line, so the next event stands alone
        log.append({"session": 0, "type": "x", "i": 6})
    rep = ReadReport()
    assert [e["i"] for e in read_events(path, rep)] == [0, 2, 3, 4, 6]
    assert not rep.torn_tail and rep.corrupt_lines == [2, 6]  # the old torn line, now terminated


def test_log_io_errors_never_raise(tmp_path):
    log = EventLog(tmp_path / "e.jsonl")
    log.close()
    log.append({"type": "x"})  # closed: counted, not raised
    log2 = EventLog(tmp_path / "f.jsonl")
    log2.append({"type": "x", "bad": object()})  # not JSON-serialisable
    log2.close()
    assert log.write_errors == 1 and log2.write_errors == 1


def test_a_killed_process_loses_at_most_the_event_being_written(tmp_path):
    path = tmp_path / "killed.jsonl"
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from device_runtime.events import EventLog\n"
        f"log = EventLog({str(path)!r}, 'never')\n"
        "i = 0\n"
        "while True:\n"
        "    log.append({'session': 0, 'type': 'tick', 'i': i, 'pad': 'x' * 5000}); i += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 30
    while (not path.exists() or path.stat().st_size < 200_000) and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rep = ReadReport()
    ids = [e["i"] for e in read_events(path, rep)]
    assert len(ids) > 10 and ids == list(range(len(ids)))  # every complete event, in order
    assert rep.corrupt_lines == []  # at most the tail is damaged


@pytest.fixture(scope="module")
def reranker():
    return Reranker(GOLDEN_ARTIFACT)


def test_raw_pages_roundtrip_exactly():
    w = SyntheticWorld(world_seed=4)
    page = w.raw_videos(w.server_page(w.new_session(0, 0), 0))
    back = page_from_json(page_to_json(page))
    for a, b in zip(page, back, strict=True):
        assert np.array_equal(np.asarray(a), b) and np.asarray(a).dtype.kind == b.dtype.kind


@pytest.mark.parametrize("strategy", ["server", "adaptive_beam"])
def test_replay_rebuilds_the_live_impressions(tmp_path, reranker, strategy):
    w = SyntheticWorld(world_seed=4)
    live = {}
    with EventLog(tmp_path / "e.jsonl") as log:
        for i in range(4):
            sess = w.new_session(9, i)
            feed = DeviceFeed(reranker, strategy, network=sess.network, log=log, session_key=f"{strategy}/{i}",
                              start_fields={"index": i, "seed": 9, "user_id": sess.user_id})
            live[f"{strategy}/{i}"] = run_session(w, sess, feed=feed, record=True)
    sessions = group_sessions(read_events(tmp_path / "e.jsonl"))
    assert [s.session for s in sessions] == list(live) and all(s.complete for s in sessions)
    for se in sessions:
        got, want = replay_session(se), live[se.session]
        assert len(got) == len(want) > 0
        for a, b in zip(got, want, strict=True):
            assert (a.position, a.request, a.cache_index, a.video, a.propensity) == (
                b.position, b.request, b.cache_index, b.video, b.propensity)
            assert a.response == b.response
            for x, y in zip((*a.history, *a.candidates, a.context), (*b.history, *b.candidates, b.context), strict=True):
                assert np.array_equal(x, y)


def test_triggers_rerank_on_swipe_and_like_and_coalesce_with_pages(reranker):
    w = SyntheticWorld(world_seed=4)
    sess = w.new_session(1, 2)
    feed = DeviceFeed(reranker, "greedy", network=sess.network)
    imps = run_session(w, sess, feed=feed, record=True)
    likes = sum(i.response.like for i in imps)
    n = len(imps)
    # one rerank per video shown (start, then swipes) plus one per like; pages ride along
    assert len(feed.latencies_us) == n + likes
    assert feed.trigger_counts["start"] == 1 and feed.trigger_counts["swipe"] == n - 1
    assert feed.trigger_counts["like"] == likes
    # every choice is the top of the rerank made right before it
    assert feed.metrics().depth == n and feed.metrics().likes == likes


def test_without_swipe_triggers_the_plan_is_served_in_order(reranker):
    w = SyntheticWorld(world_seed=4)
    sess = w.new_session(1, 3)
    feed = DeviceFeed(reranker, "greedy", triggers=TriggerConfig(on_swipe=False, on_like=False, on_page=True),
                      network=sess.network)
    imps = run_session(w, sess, feed=feed, record=True)
    pages = len({i.request for i in imps})
    assert len(feed.latencies_us) <= pages + 1  # reranks only at the start and when pages arrive
