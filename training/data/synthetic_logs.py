"""Logged sessions of the synthetic world under the server's behaviour policy, as Parquet.

One row per impression. The ranking context of a row follows the rerank the device would have
done: an *anchor* a ≤ t is drawn (deterministically from the seed) with 0 ≤ t - a ≤ L_max - 1 and
no page arriving in between; the history and context are the device's as of the anchor, the
placed prefix is what was shown from a to t - 1, and the target is the video shown at t. So every
prefix length the beam search will ask about is represented, with the staleness it will have.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from device_runtime import contract as C
from device_runtime.sim.rollout import Impression, episode_sessions, run_session
from device_runtime.sim.world import SyntheticWorld, WorldConfig


class LogArrays(NamedTuple):
    """Column arrays of a log (the in-memory form of the Parquet file)."""

    user_id: np.ndarray  # int64 [n]
    session_id: np.ndarray  # int64 [n]
    position: np.ndarray  # int32 [n]
    request: np.ndarray  # int32 [n]
    prefix_len: np.ndarray  # int32 [n]
    video_id: np.ndarray  # int64 [n]
    hist_dense: np.ndarray  # float32 [n, N_h, N_HIST_DENSE]
    hist_ids: np.ndarray  # int32 [n, N_h, N_IDS]
    hist_mask: np.ndarray  # float32 [n, N_h]
    prefix_dense: np.ndarray  # float32 [n, L-1, N_VIDEO_DENSE]
    prefix_ids: np.ndarray  # int32 [n, L-1, N_IDS]
    prefix_mask: np.ndarray  # float32 [n, L-1]
    cand_dense: np.ndarray  # float32 [n, N_VIDEO_DENSE]   (the target)
    cand_ids: np.ndarray  # int32 [n, N_IDS]
    context: np.ndarray  # float32 [n, N_CONTEXT]
    has_next: np.ndarray  # int8 [n]
    effective_view: np.ndarray  # int8 [n]
    like: np.ndarray  # int8 [n]
    watch_ratio: np.ndarray  # float32 [n]
    propensity: np.ndarray  # float32 [n]
    true_p_has_next: np.ndarray  # float32 [n] (the world's own probabilities, for diagnostics)
    true_p_effective_view: np.ndarray
    true_p_like: np.ndarray

    @property
    def n(self) -> int:
        return int(self.user_id.shape[0])

    def take(self, idx: np.ndarray) -> LogArrays:
        return LogArrays(*(a[idx] for a in self))


@dataclass(frozen=True)
class LogConfig:
    """What to simulate."""

    sessions: int = 1000
    """Number of sessions."""
    seed: int = 0
    """Run seed: picks users and every random stream of the sessions."""
    world_seed: int = 0
    """World seed: catalog and user population."""
    n_history: int = C.N_HISTORY_DEFAULT
    """N_h of the logged histories."""
    l_max: int = C.L_MAX_DEFAULT
    """L_max: prefixes hold up to L_max - 1 videos."""
    explore_show: float = 0.0
    """Probability that the logging client shows a uniformly drawn cached video instead of the
    server's next one. 0 logs the pure server order; > 0 varies the orders within pages, so a
    ranker can learn what an already-placed video does to the next one (under server order,
    same-topic videos cluster and the prefix's effect is confounded). The logged propensity is
    then the server's placement probability times the client's probability of showing it."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.explore_show <= 1.0:
            raise ValueError(f"`explore_show` must be in [0, 1], got {self.explore_show}")


def exploring_rule(eps: float, rng: np.random.Generator, show_prob: list[float]):
    """A logging rule: the server's next video with probability 1 - eps, else a uniform cached
    one; appends the probability of each choice to ``show_prob``."""

    def choose(state, session) -> int:
        n = len(state.cache)
        i = int(rng.integers(0, n)) if eps > 0 and rng.random() < eps else 0
        show_prob.append((1.0 - eps) * (i == 0) + eps / n)
        return i

    return choose


def session_rows(imps: list[Impression], rng: np.random.Generator, l_max: int) -> list[tuple[int, int]]:
    """(target index, anchor index) per impression; the anchor is drawn within the same page window."""
    rows = []
    window_start = 0
    for t, imp in enumerate(imps):
        if t > 0 and imp.request != imps[t - 1].request:
            window_start = t
        max_j = min(l_max - 1, t - window_start)
        j = int(rng.integers(0, max_j + 1))
        rows.append((t, t - j))
    return rows


def simulate_logs(
    cfg: LogConfig, world_config: WorldConfig | None = None, progress: bool = True,
    world: SyntheticWorld | None = None,
) -> LogArrays:
    """Log ``cfg.sessions`` users of ``world`` (default: the synthetic world of ``world_config`` and
    ``cfg.world_seed``). In a single-session world a user is one session (id ``s``); in a
    multi-session world every session of the user's episode is logged, the device's history
    carried across them, session ``k`` ≥ 1 of user ``s`` with id ``s + k·sessions``."""
    world = world if world is not None else SyntheticWorld(world_config, cfg.world_seed)
    multi = bool(getattr(world.config, "multi_session", False))

    def sessions():
        for s in tqdm(range(cfg.sessions), desc="simulate-logs", unit="user" if multi else "session",
                      disable=not progress):
            parts = (episode_sessions(world, world.new_episode(cfg.seed, s), cfg.n_history) if multi
                     else [(0, world.new_session(cfg.seed, s), None)])
            for k, sess, state in parts:
                index = s + k * cfg.sessions
                show_prob: list[float] = []
                if cfg.explore_show > 0:
                    explore = np.random.default_rng(np.random.SeedSequence([cfg.seed, index, 0xE7]))
                    imps = run_session(world, sess, exploring_rule(cfg.explore_show, explore, show_prob),
                                       n_history=cfg.n_history, state=state)
                else:
                    imps = run_session(world, sess, n_history=cfg.n_history, state=state)
                yield sess.user_id, index, cfg.seed, index, imps, (show_prob or None)

    return log_arrays_from_sessions(sessions(), cfg.l_max)


_INT_COLUMNS = {
    "user_id": np.int64, "session_id": np.int64, "position": np.int32, "request": np.int32,
    "prefix_len": np.int32, "video_id": np.int64, "hist_ids": np.int32, "prefix_ids": np.int32,
    "cand_ids": np.int32, "has_next": np.int8, "effective_view": np.int8, "like": np.int8,
}


def log_arrays_from_sessions(sessions, l_max: int) -> LogArrays:
    """The one row builder: ``LogArrays`` from played sessions, as ``simulate_logs`` and
    ``logs-from-events`` (replayed device events) both need it.

    ``sessions`` yields (user_id, session_id, seed, index, impressions[, propensity factors]); the
    anchor of every row is drawn from (seed, index), so a replay reproduces the simulated log."""
    plen = max(l_max - 1, 1)
    cols: dict[str, list] = {name: [] for name in LogArrays._fields}
    for user_id, session_id, seed, index, imps, *rest in sessions:
        scale = rest[0] if rest else None
        rng = np.random.default_rng(np.random.SeedSequence([seed, index, 0xA9C]))
        for t, a in session_rows(imps, rng, l_max):
            imp, anchor = imps[t], imps[a]
            j = t - a
            pd = np.zeros((plen, C.N_VIDEO_DENSE), C.FLOAT)
            pi = np.zeros((plen, C.N_IDS), C.INT)
            pm = np.zeros((plen,), C.FLOAT)
            for k in range(j):
                p = imps[a + k]
                pd[k], pi[k], pm[k] = p.candidates.dense[p.cache_index], p.candidates.ids[p.cache_index], 1.0
            r = imp.response
            row = {
                "user_id": user_id, "session_id": session_id, "position": imp.position, "request": imp.request,
                "prefix_len": j, "video_id": imp.video, "hist_dense": anchor.history.dense,
                "hist_ids": anchor.history.ids, "hist_mask": anchor.history.mask, "prefix_dense": pd,
                "prefix_ids": pi, "prefix_mask": pm, "cand_dense": imp.candidates.dense[imp.cache_index],
                "cand_ids": imp.candidates.ids[imp.cache_index], "context": anchor.context,
                "has_next": r.has_next, "effective_view": r.effective_view, "like": r.like,
                "watch_ratio": r.watch_ratio, "propensity": imp.propensity * (scale[t] if scale else 1.0),
                "true_p_has_next": r.p_has_next, "true_p_effective_view": r.p_ev, "true_p_like": r.p_like,
            }
            for k, v in row.items():
                cols[k].append(v)
    arrays = {}
    for name, values in cols.items():
        dt = _INT_COLUMNS.get(name, np.float32)
        arrays[name] = np.asarray(values, dtype=dt) if values else np.zeros((0,), dt)
    return LogArrays(**arrays)


# -- Parquet --------------------------------------------------------------------------------------
def write_parquet(logs: LogArrays, path: str | Path, metadata: dict) -> None:
    """Write ``logs``; multi-dimensional columns become fixed-size lists of the flattened row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = []
    columns = []
    shapes = {}
    for name, arr in zip(LogArrays._fields, logs, strict=True):
        if arr.ndim == 1:
            columns.append(pa.array(arr))
        else:
            width = int(np.prod(arr.shape[1:]))
            shapes[name] = list(arr.shape[1:])
            flat = pa.array(np.ascontiguousarray(arr).reshape(-1))
            columns.append(pa.FixedSizeListArray.from_arrays(flat, width))
        fields.append(name)
    meta = dict(metadata)
    meta["shapes"] = shapes
    meta["schema_version"] = C.SCHEMA_VERSION
    table = pa.Table.from_arrays(columns, names=fields)
    table = table.replace_schema_metadata({b"reelrank": json.dumps(meta, sort_keys=True).encode()})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", write_statistics=False)


def read_parquet(path: str | Path) -> tuple[LogArrays, dict]:
    """Read a log written by ``write_parquet``; returns the arrays and the metadata."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no log at {path}")
    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(b"reelrank")
    if raw is None:
        raise ValueError(f"{path} is not a ReelRank log (no 'reelrank' schema metadata)")
    meta = json.loads(raw)
    if meta.get("schema_version") != C.SCHEMA_VERSION:
        raise ValueError(
            f"{path} has schema_version {meta.get('schema_version')!r}, this toolkit reads {C.SCHEMA_VERSION!r}"
        )
    missing = [f for f in LogArrays._fields if f not in table.column_names]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}")
    arrays = {}
    for name in LogArrays._fields:
        col = table.column(name).combine_chunks()
        if name in meta["shapes"]:
            flat = col.values.to_numpy(zero_copy_only=False)
            arrays[name] = flat.reshape([-1, *meta["shapes"][name]])
        else:
            arrays[name] = col.to_numpy(zero_copy_only=False)
    return LogArrays(**arrays), meta


def label_rates(logs: LogArrays) -> dict[str, float]:
    sessions = np.unique(logs.session_id).size
    return {
        "impressions": float(logs.n),
        "sessions": float(sessions),
        "mean_depth": float(logs.n / max(sessions, 1)),
        "effective_view": float(logs.effective_view.mean()) if logs.n else float("nan"),
        "like": float(logs.like.mean()) if logs.n else float("nan"),
        "has_next": float(logs.has_next.mean()) if logs.n else float("nan"),
    }
