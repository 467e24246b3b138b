"""The reranker against independent references (numpy Algorithm 1 and point-wise greedy over the
artifact's own ``score``), on real session states of the synthetic world."""

import numpy as np
import pytest

from device_runtime import contract as C
from device_runtime.artifact import check_signatures, load_manifest
from device_runtime.beam_search import beam_search, greedy_order, signature_scorer
from device_runtime.reranker import Reranker, RerankerConfig
from device_runtime.session import SessionState
from device_runtime.sim.rollout import run_session
from device_runtime.sim.world import SyntheticWorld
from device_runtime.strategies import STRATEGIES, SearchParams, get_strategy
from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT

LIST_REWARD_TOL = 1e-5
#: a threshold the random-weight golden model rarely reaches early, so searches take several steps
DEEP_THRESHOLD = 0.99995


@pytest.fixture(scope="module")
def reranker():
    return Reranker(GOLDEN_ARTIFACT)


@pytest.fixture(scope="module")
def deep_reranker():
    return Reranker(GOLDEN_ARTIFACT, RerankerConfig(threshold=DEEP_THRESHOLD))


@pytest.fixture(scope="module")
def states():
    """Session states at 24 rerank moments of the synthetic world (caches of 1..12 videos)."""
    world = SyntheticWorld(world_seed=1)
    out: list[SessionState] = []

    def grab(state, session):
        if len(out) < 24 and state.consumed % 2 == 0:
            out.append(state.copy())
        return 0

    s = 0
    while len(out) < 24:
        run_session(world, world.new_session(3, s), grab, record=False)
        s += 1
    return out


def test_golden_artifact_matches_the_contract(reranker):
    manifest = load_manifest(GOLDEN_ARTIFACT)
    check_signatures(manifest)
    assert reranker.ok, reranker.error_message
    assert reranker.params == SearchParams.from_manifest(manifest)
    assert reranker.dims == C.Dims(8, 16, 6)


def _reference(r: Reranker, state: SessionState, threshold: float):
    page = r.inputs_from_state(state)
    scorer = signature_scorer(r.runner(C.SCORE_SIGNATURE), page, r.dims.l_max - 1)
    p = r.params
    return page, scorer, beam_search(scorer, page["cand_mask"], beam_size=p.beam_size, max_steps=p.l_max,
                                     alpha=p.alpha, beta=p.beta, threshold=threshold, n_show=p.n_show)


def test_beam_and_adaptive_beam_equal_numpy_algorithm_1_over_score(deep_reranker, states):
    r = deep_reranker
    steps_seen = set()
    for st in states:
        n = len(st.cache)
        for name, threshold in (("beam", np.inf), ("adaptive_beam", DEEP_THRESHOLD)):
            _, _, ref = _reference(r, st, threshold)
            got = r.rerank(st, name)
            assert got.fallback is None
            assert got.order.tolist() == ref.order[:n].tolist(), name
            assert got.steps == ref.steps, name
            assert abs(got.list_reward - ref.list_reward) <= LIST_REWARD_TOL
            if name == "beam":
                assert got.steps == min(r.dims.l_max, n)  # threshold 1: search to L_max
            else:
                steps_seen.add(got.steps)
    assert len(steps_seen) > 1, f"adaptive searches of one length only: {steps_seen}"


def test_python_beam_equals_in_graph_rerank(deep_reranker, reranker, states):
    for r in (reranker, deep_reranker):
        for st in states:
            a, b = r.rerank(st, "adaptive_beam"), r.rerank(st, "python_beam")
            assert a.order.tolist() == b.order.tolist()
            assert a.steps == b.steps
            assert abs(a.list_reward - b.list_reward) <= LIST_REWARD_TOL


def test_greedy_is_pointwise_over_score_with_an_empty_prefix(reranker, states):
    r = reranker
    for st in states:
        page = r.inputs_from_state(st)
        out = r.runner(C.SCORE_SIGNATURE)(**page, prefix_dense=np.zeros((5, C.N_VIDEO_DENSE), np.float32),
                                           prefix_ids=np.zeros((5, C.N_IDS), np.int32),
                                           prefix_mask=np.zeros(5, np.float32))
        gain = r.params.alpha * out["p_effective_view"] + r.params.beta * out["p_like"]
        n = len(st.cache)
        expected = sorted(range(n), key=lambda j: (-np.float32(gain[j]), j))
        got = r.rerank(st, "greedy")
        assert got.order.tolist() == expected
        ref = greedy_order(out["p_has_next"], out["p_effective_view"], out["p_like"], page["cand_mask"],
                           r.params.alpha, r.params.beta)
        assert got.order.tolist() == ref[:n].tolist()


def test_server_strategy_keeps_the_server_order(reranker, states):
    for st in states:
        got = reranker.rerank(st, "server")
        assert got.order.tolist() == list(range(len(st.cache)))
        assert got.served == "server" and got.fallback is None and got.steps == 0


def test_more_than_m_max_candidates_reranks_the_first_m_max(reranker, states):
    st = states[-1]
    world = SyntheticWorld(world_seed=1)
    sess = world.new_session(99, 0)
    big = st.copy()
    for req in range(3):  # 27 candidates: M_max = 16 get reranked, 11 follow in server order
        big.page_arrived(world.raw_videos(world.server_page(sess, req)))
    n = len(big.cache)
    assert n > 16
    got = reranker.rerank(big, "adaptive_beam")
    assert got.fallback is None and got.truncated == n - 16
    assert sorted(got.order[:16].tolist()) == list(range(16))
    assert got.order[16:].tolist() == list(range(16, n))
    first16 = big.copy()
    first16.cache = big.cache.take(np.arange(16))
    assert reranker.rerank(first16, "adaptive_beam").order.tolist() == got.order[:16].tolist()


def test_unknown_strategy_is_a_programming_error(reranker, states):
    with pytest.raises(ValueError, match=r"`strategy` must be one of \[.*'adaptive_beam'.*\], got 'beem'"):
        reranker.rerank(states[0], "beem")
    assert set(STRATEGIES) >= {"server", "greedy", "beam", "adaptive_beam", "python_beam"}
    assert get_strategy("beam").signatures == (C.RERANK_SIGNATURE,)
