"""Never break the feed: every bad input, a failing interpreter and a missing or tampered artifact
serve the server order, with a typed reason, counted — and nothing is raised."""

import json

import numpy as np
import pytest

from device_runtime import contract as C
from device_runtime.features import RawVideos
from device_runtime.reranker import Reranker, RerankerConfig
from device_runtime.session import SessionState
from device_runtime.sim.world import SyntheticWorld
from device_runtime.strategies import STRATEGIES, StrategyOutput, register_strategy
from device_runtime.validation import FallbackReason as R
from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT, copy_artifact

MODEL_STRATEGIES = ("greedy", "beam", "adaptive_beam", "python_beam")


@pytest.fixture(scope="module")
def world():
    return SyntheticWorld(world_seed=2)


def fresh_state(world, pages=1, seed=0) -> SessionState:
    sess = world.new_session(seed, 0)
    st = SessionState(network=sess.network)
    for req in range(pages):
        st.page_arrived(world.raw_videos(world.server_page(sess, req)))
    return st


def with_cache(st: SessionState, **changes) -> SessionState:
    cols = st.cache._asdict()
    for name, fn in changes.items():
        cols[name] = fn(np.array(cols[name]))
    st.cache = RawVideos(**cols)
    return st


def assert_server_fallback(res, n, reason):
    assert res.fallback is reason, (res.fallback, reason)
    assert res.served == "server" and res.order.tolist() == list(range(n))


@pytest.mark.parametrize("strategy", MODEL_STRATEGIES)
@pytest.mark.parametrize(
    "change, reason",
    [
        ({"server_p_ev": lambda a: np.where(np.arange(a.size) == 3, np.nan, a)}, R.NON_FINITE),
        ({"duration_s": lambda a: np.where(np.arange(a.size) == 0, np.inf, a)}, R.NON_FINITE),
        ({"server_p_like": lambda a: np.where(np.arange(a.size) == 8, -np.inf, a)}, R.NON_FINITE),
        ({"video_id": lambda a: np.where(np.arange(a.size) == 5, a[1], a)}, R.DUPLICATE_IDS),
        ({"topic": lambda a: a[:4]}, R.BAD_SHAPE),
    ],
)
def test_bad_cache_serves_the_server_order(world, strategy, change, reason):
    r = Reranker(GOLDEN_ARTIFACT)
    st = with_cache(fresh_state(world), **change)
    res = r.rerank(st, strategy)
    assert_server_fallback(res, len(st.cache), reason)
    assert r.fallbacks == {reason.value: 1}


def test_empty_cache_serves_nothing_without_raising(world):
    r = Reranker(GOLDEN_ARTIFACT)
    st = SessionState()
    for strategy in MODEL_STRATEGIES:
        assert_server_fallback(r.rerank(st, strategy), 0, R.EMPTY_PAGE)
    assert r.rerank(st, "server").fallback is None  # serving the server order is not a fallback
    assert r.fallbacks == {"empty_page": len(MODEL_STRATEGIES)}


def test_non_finite_feedback_in_the_history_is_caught(world):
    r = Reranker(GOLDEN_ARTIFACT)
    st = fresh_state(world)
    shown = st.take(0)
    st.video_finished(shown, watch_ratio=float("nan"), effective_view=0, like=0, watch_s=1.0)
    assert_server_fallback(r.rerank(st, "adaptive_beam"), len(st.cache), R.NON_FINITE)


def test_history_length_must_match_the_artifact(world):
    r = Reranker(GOLDEN_ARTIFACT)
    st = fresh_state(world)
    st.n_history = 5
    assert_server_fallback(r.rerank(st, "beam"), len(st.cache), R.BAD_SHAPE)


def page_of(r, world):
    return r.inputs_from_state(fresh_state(world))


@pytest.mark.parametrize(
    "edit, reason, message",
    [
        (lambda p: p.update(cand_dense=p["cand_dense"].astype(np.float64)), R.BAD_DTYPE,
         "`cand_dense` must have dtype float32, got float64"),
        (lambda p: p.update(hist_dense=p["hist_dense"][:5]), R.BAD_SHAPE,
         "`hist_dense` must have shape (8, 11), got (5, 11)"),
        (lambda p: p.update(context=np.full(C.N_CONTEXT, np.inf, np.float32)), R.NON_FINITE, "`context` must be finite"),
        (lambda p: p.pop("hist_mask"), R.MISSING_INPUT, "must have inputs"),
        (lambda p: p["cand_ids"].__setitem__((0, 1), 5000), R.ID_OUT_OF_RANGE, "(author) must lie in [0, 1023]"),
        (lambda p: p.update(cand_mask=np.zeros(16, np.float32)), R.EMPTY_PAGE, "at least 1 candidate"),
    ],
)
def test_rerank_page_validates_shapes_dtypes_and_values(world, edit, reason, message):
    r = Reranker(GOLDEN_ARTIFACT)
    page = page_of(r, world)
    edit(page)
    res = r.rerank_page(page, "adaptive_beam")
    assert res.fallback is reason and res.served == "server"
    from device_runtime.validation import InvalidInput, check_inputs

    with pytest.raises(InvalidInput) as e:
        check_inputs(page, r.dims)
    assert message in str(e.value)


def test_rerank_page_keeps_the_first_m_max_candidates(world):
    r = Reranker(GOLDEN_ARTIFACT)
    st = fresh_state(world, pages=3)
    big = {**r.inputs_from_state(st)}
    from device_runtime.features import build_candidates, video_dense, video_ids

    c = build_candidates(video_dense(st.cache), video_ids(st.cache), len(st.cache))  # 27 rows, unpadded
    big.update(cand_dense=c.dense, cand_ids=c.ids, cand_mask=c.mask)
    res = r.rerank_page(big, "adaptive_beam")
    assert res.fallback is None and res.truncated == len(st.cache) - 16
    assert res.order[:16].tolist() == r.rerank(st, "adaptive_beam").order[:16].tolist()
    assert res.order[16:].tolist() == list(range(16, len(st.cache)))


class FailingRunner:
    """Stands in for a signature runner whose invoke fails (as LiteRT's does on a bad graph)."""

    fast = False

    def __call__(self, **feeds):
        raise RuntimeError("Node number 7 (WHILE) failed to invoke")


def test_interpreter_error_falls_back(world):
    r = Reranker(GOLDEN_ARTIFACT)
    st = fresh_state(world)
    for sig in (C.SCORE_SIGNATURE, C.RERANK_SIGNATURE):
        r._runners[sig] = FailingRunner()
    for strategy in MODEL_STRATEGIES:
        assert_server_fallback(r.rerank(st, strategy), len(st.cache), R.INTERPRETER_ERROR)
    assert r.fallbacks["interpreter_error"] == len(MODEL_STRATEGIES)


class WrongOrderRunner:
    fast = False

    def __call__(self, **feeds):
        return {"order": np.full(16, 3, np.int32), "steps": np.int32(1), "list_reward": np.float32(1.0)}


def test_malformed_model_output_falls_back(world):
    r = Reranker(GOLDEN_ARTIFACT)
    st = fresh_state(world)
    r._runners[C.RERANK_SIGNATURE] = WrongOrderRunner()
    assert_server_fallback(r.rerank(st, "adaptive_beam"), len(st.cache), R.BAD_OUTPUT)


def test_a_strategy_whose_signature_is_absent_falls_back(world):
    class NeedsPolicy:
        name = "needs_policy_test"
        signatures = (C.POLICY_SIGNATURE,)

        def __call__(self, runners, page, params):  # pragma: no cover - never reached
            return StrategyOutput(np.zeros(16, np.int32), 0, 0.0)

    register_strategy(NeedsPolicy())
    try:
        r = Reranker(GOLDEN_ARTIFACT)
        st = fresh_state(world)
        assert_server_fallback(r.rerank(st, "needs_policy_test"), len(st.cache), R.STRATEGY_UNAVAILABLE)
    finally:
        STRATEGIES.pop("needs_policy_test")


def _tamper(path):
    blob = bytearray((path / "model.tflite").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (path / "model.tflite").write_bytes(bytes(blob))


def _truncate(path):
    (path / "model.tflite").write_bytes((path / "model.tflite").read_bytes()[:4096])


def _rehash(path):
    from device_runtime.artifact import sha256_file

    m = json.loads((path / "manifest.json").read_text())
    m["files"]["model.tflite"] = sha256_file(path / "model.tflite")
    (path / "manifest.json").write_text(json.dumps(m))


def test_an_artifact_of_the_previous_schema_is_refused_with_its_reason(tmp_path):
    """Schema 2.0 added hate feedback to the history: a 1.0 artifact (10 history features) is refused
    at load, with both versions in the message, and serves the server order."""
    art = copy_artifact(tmp_path / "art")
    m = art / "manifest.json"
    m.write_text(m.read_text().replace(f'"schema_version": "{C.SCHEMA_VERSION}"', '"schema_version": "1.0"'))
    r = Reranker(art)
    assert not r.ok and r.error is R.SCHEMA_VERSION
    assert "1.0" in r.error_message and C.SCHEMA_VERSION in r.error_message


@pytest.mark.parametrize(
    "damage, config, reason",
    [
        (lambda p: (p / "manifest.json").unlink(), RerankerConfig(), R.MISSING_MANIFEST),
        (lambda p: (p / "manifest.json").write_text("{not json"), RerankerConfig(), R.BAD_MANIFEST),
        (lambda p: (p / "model.tflite").unlink(), RerankerConfig(), R.MISSING_FILE),
        (_tamper, RerankerConfig(), R.HASH_MISMATCH),
        (lambda p: (_truncate(p), _rehash(p)), RerankerConfig(), R.LOAD_ERROR),  # consistent hashes, broken model
        (_truncate, RerankerConfig(check_hashes=False), R.LOAD_ERROR),
        (lambda p: (p / "manifest.json").write_text(
            (p / "manifest.json").read_text().replace(f'"schema_version": "{C.SCHEMA_VERSION}"', '"schema_version": "1.0"')),
         RerankerConfig(), R.SCHEMA_VERSION),
    ],
)
def test_missing_or_tampered_artifact_serves_the_server_order(world, tmp_path, damage, config, reason):
    art = copy_artifact(tmp_path / "art")
    damage(art)
    r = Reranker(art, config)  # must not raise
    assert not r.ok and r.error is reason, (r.error, r.error_message)
    st = fresh_state(world)
    for strategy in MODEL_STRATEGIES:
        assert_server_fallback(r.rerank(st, strategy), len(st.cache), reason)
    assert r.fallbacks == {reason.value: len(MODEL_STRATEGIES)}


def test_no_artifact_at_all(world):
    r = Reranker(None)
    assert_server_fallback(r.rerank(fresh_state(world), "greedy"), 9, R.MISSING_MANIFEST)
