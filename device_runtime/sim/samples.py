"""Realistic rerank inputs: pages (history, page cache, context) snapshotted from simulated
sessions of the synthetic world, as the device holds them at each rerank moment."""

from __future__ import annotations

import numpy as np

from device_runtime import contract as C
from device_runtime.features import build_prefix
from device_runtime.sim.rollout import run_session
from device_runtime.sim.world import SyntheticWorld


def collect_inputs(n_pages: int, dims: C.Dims, world: SyntheticWorld | None = None, seed: int = 0,
                  stride: int = 2) -> dict[str, np.ndarray]:
    """``n_pages`` rerank inputs (without the search parameters), stacked: {name: [P, ...]}.

    Every ``stride``-th rerank moment of consecutive sessions is taken, so pages come from many
    users and positions (early pages with short histories, later ones with full histories)."""
    world = world or SyntheticWorld()
    out: dict[str, list[np.ndarray]] = {n: [] for n in ("hist_dense", "hist_ids", "hist_mask",
                                                        "cand_dense", "cand_ids", "cand_mask", "context")}
    s = 0
    count = 0
    while count < n_pages:
        imps = run_session(world, world.new_session(seed, s), n_history=dims.n_history, m_max=dims.m_max)
        s += 1
        for imp in imps[::stride]:
            if count >= n_pages:
                break
            out["hist_dense"].append(imp.history.dense)
            out["hist_ids"].append(imp.history.ids)
            out["hist_mask"].append(imp.history.mask)
            out["cand_dense"].append(imp.candidates.dense)
            out["cand_ids"].append(imp.candidates.ids)
            out["cand_mask"].append(imp.candidates.mask)
            out["context"].append(imp.context)
            count += 1
    return {k: np.stack(v) for k, v in out.items()}


def with_search_params(pages: dict[str, np.ndarray], alpha: float, beta: float, threshold: float,
                       n_show: int) -> dict[str, np.ndarray]:
    n = pages["cand_mask"].shape[0]
    return {
        **pages,
        "alpha": np.full(n, alpha, np.float32),
        "beta": np.full(n, beta, np.float32),
        "threshold": np.full(n, threshold, np.float32),
        "n_show": np.full(n, n_show, np.int32),
    }


def score_inputs_from(pages: dict[str, np.ndarray], dims: C.Dims, seed: int = 0) -> dict[str, np.ndarray]:
    """``score`` inputs: each page with a placed prefix of random length drawn from its own valid
    candidates (as a beam would have placed them)."""
    from device_runtime.features import Candidates

    rng = np.random.default_rng(seed)
    pre: dict[str, list[np.ndarray]] = {"prefix_dense": [], "prefix_ids": [], "prefix_mask": []}
    for i in range(pages["cand_mask"].shape[0]):
        valid = np.flatnonzero(pages["cand_mask"][i] > 0.5)
        j = int(rng.integers(0, min(dims.prefix_len, max(valid.size - 1, 0)) + 1))
        placed = rng.permutation(valid)[:j]
        p = build_prefix(Candidates(pages["cand_dense"][i], pages["cand_ids"][i], pages["cand_mask"][i]),
                         placed, dims.prefix_len)
        pre["prefix_dense"].append(p.dense)
        pre["prefix_ids"].append(p.ids)
        pre["prefix_mask"].append(p.mask)
    names = [s.name for s in C.score_inputs(dims)]
    merged = {**pages, **{k: np.stack(v) for k, v in pre.items()}}
    return {n: merged[n] for n in names}


def row(batch: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    """Row ``i`` of stacked inputs (scalars become 0-d arrays)."""
    return {k: np.asarray(v[i]) for k, v in batch.items()}
