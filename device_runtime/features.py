"""The one numpy feature builder shared by training and the device.

Raw facts (a video's server predictions and metadata, the user's feedback, the moment of a rerank)
go in; the contract's normalised, padded arrays come out. Training calls exactly these functions
on logged sessions and the device calls them on its live session state, so there is no second
implementation to drift.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from device_runtime import contract as C


class RawVideos(NamedTuple):
    """Raw per-video facts as the server sends them with a page (arrays of equal length n)."""

    video_id: np.ndarray  # int64 [n]
    server_p_ev: np.ndarray  # float [n], probability
    server_p_like: np.ndarray  # float [n], probability
    server_p_has_next: np.ndarray  # float [n], probability
    duration_s: np.ndarray  # float [n]
    age_days: np.ndarray  # float [n]
    server_rank: np.ndarray  # int [n], 0-based rank within the page the server sent
    topic: np.ndarray  # int [n], raw category id (>= 0)
    author: np.ndarray  # int [n], raw author id (>= 0)

    def __len__(self) -> int:  # type: ignore[override]
        return int(np.asarray(self.video_id).shape[0])

    def take(self, idx: np.ndarray | list[int]) -> RawVideos:
        idx = np.asarray(idx, dtype=np.int64)
        return RawVideos(*(np.asarray(f)[idx] for f in self))

    @staticmethod
    def concat(parts: list[RawVideos]) -> RawVideos:
        return RawVideos(*(np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(9)))


class Feedback(NamedTuple):
    """What the user did with watched videos (arrays of equal length n)."""

    watch_ratio: np.ndarray  # float [n], watch time / duration
    effective_view: np.ndarray  # {0,1} [n]
    like: np.ndarray  # {0,1} [n]
    watch_s: np.ndarray  # float [n], seconds watched
    hate: np.ndarray | None = None  # {0,1} [n], "not interested"; None = never


def _log_norm(x: np.ndarray, cap: float) -> np.ndarray:
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, cap)
    return (np.log1p(x) / np.log1p(cap)).astype(C.FLOAT)


def hash_id(raw: np.ndarray, vocab: int) -> np.ndarray:
    """Map raw non-negative ids into [1, vocab - 1]; 0 stays reserved for padding/unknown."""
    raw = np.asarray(raw, dtype=np.int64)
    out = np.where(raw >= 0, raw % (vocab - 1) + 1, 0)
    return out.astype(C.INT)


def video_dense(v: RawVideos) -> np.ndarray:
    """float32 [n, N_VIDEO_DENSE] in the order of ``contract.VIDEO_DENSE``."""
    cols = [
        np.clip(v.server_p_ev, 0.0, 1.0),
        np.clip(np.asarray(v.server_p_like) * C.LIKE_SCALE, 0.0, 1.0),
        np.clip(v.server_p_has_next, 0.0, 1.0),
        _log_norm(v.duration_s, C.DURATION_CAP_S),
        _log_norm(v.age_days, C.AGE_CAP_DAYS),
        np.clip(np.asarray(v.server_rank, dtype=np.float64) / C.M_MAX_DEFAULT, 0.0, 1.0),
    ]
    return np.stack([np.asarray(c, dtype=C.FLOAT) for c in cols], axis=-1).reshape(-1, C.N_VIDEO_DENSE)


def video_ids(v: RawVideos) -> np.ndarray:
    """int32 [n, N_IDS] in the order of ``contract.VIDEO_IDS``."""
    # One id column per name of contract.VIDEO_IDS (only (topic, author) exists).
    return np.stack(
        [hash_id(v.topic, C.ID_VOCAB["topic"]), hash_id(v.author, C.ID_VOCAB["author"])], axis=-1
    ).reshape(-1, C.N_IDS)


def feedback_dense(fb: Feedback) -> np.ndarray:
    """float32 [n, N_FEEDBACK] in the order of ``contract.FEEDBACK``."""
    wr = np.clip(np.asarray(fb.watch_ratio, dtype=np.float64), 0.0, C.WATCH_RATIO_CAP)
    cols = [
        wr / C.WATCH_RATIO_CAP,
        np.asarray(fb.effective_view, dtype=np.float64),
        np.asarray(fb.like, dtype=np.float64),
        (np.asarray(fb.watch_s, dtype=np.float64) < C.SKIP_SECONDS).astype(np.float64),
        np.zeros(np.shape(fb.watch_s)) if fb.hate is None else np.clip(np.asarray(fb.hate, dtype=np.float64), 0, 1),
    ]
    return np.stack(cols, axis=-1).astype(C.FLOAT).reshape(-1, C.N_FEEDBACK)


def context_vector(
    position: float, elapsed_s: float, since_last_s: float, network: float
) -> np.ndarray:
    """float32 [N_CONTEXT] in the order of ``contract.CONTEXT``."""
    return np.array(
        [
            _log_norm(np.array(position), 200.0),
            _log_norm(np.array(elapsed_s), 3600.0),
            _log_norm(np.array(since_last_s), 600.0),
            float(np.clip(network, 0.0, 1.0)),
        ],
        dtype=C.FLOAT,
    )


def context_matrix(
    position: np.ndarray, elapsed_s: np.ndarray, since_last_s: np.ndarray, network: np.ndarray
) -> np.ndarray:
    """Vectorised ``context_vector`` for many rows: float32 [n, N_CONTEXT]."""
    return np.stack(
        [
            _log_norm(position, 200.0),
            _log_norm(elapsed_s, 3600.0),
            _log_norm(since_last_s, 600.0),
            np.clip(np.asarray(network, dtype=np.float64), 0.0, 1.0).astype(C.FLOAT),
        ],
        axis=-1,
    ).astype(C.FLOAT)


class History(NamedTuple):
    dense: np.ndarray  # float32 [N_h, N_HIST_DENSE]
    ids: np.ndarray  # int32 [N_h, N_IDS]
    mask: np.ndarray  # float32 [N_h]


class Candidates(NamedTuple):
    dense: np.ndarray  # float32 [M_max, N_VIDEO_DENSE]
    ids: np.ndarray  # int32 [M_max, N_IDS]
    mask: np.ndarray  # float32 [M_max]


class Prefix(NamedTuple):
    dense: np.ndarray  # float32 [L_max - 1, N_VIDEO_DENSE]
    ids: np.ndarray  # int32 [L_max - 1, N_IDS]
    mask: np.ndarray  # float32 [L_max - 1]


def build_history(
    watched_dense: np.ndarray, watched_ids: np.ndarray, n_history: int = C.N_HISTORY_DEFAULT
) -> History:
    """Pad the watched videos (oldest first, dense already including feedback) to N_h, newest first.

    ``watched_dense`` is [n, N_HIST_DENSE] = video_dense ++ feedback_dense of each watched video.
    """
    watched_dense = np.asarray(watched_dense, dtype=C.FLOAT).reshape(-1, C.N_HIST_DENSE)
    watched_ids = np.asarray(watched_ids, dtype=C.INT).reshape(-1, C.N_IDS)
    k = min(n_history, watched_dense.shape[0])
    dense = np.zeros((n_history, C.N_HIST_DENSE), C.FLOAT)
    ids = np.zeros((n_history, C.N_IDS), C.INT)
    mask = np.zeros((n_history,), C.FLOAT)
    if k:
        dense[:k] = watched_dense[::-1][:k]
        ids[:k] = watched_ids[::-1][:k]
        mask[:k] = 1.0
    return History(dense, ids, mask)


def build_candidates(dense: np.ndarray, ids: np.ndarray, m_max: int = C.M_MAX_DEFAULT) -> Candidates:
    """Pad (or cut, keeping the first m_max in server order) a page cache to M_max slots."""
    dense = np.asarray(dense, dtype=C.FLOAT).reshape(-1, C.N_VIDEO_DENSE)
    ids = np.asarray(ids, dtype=C.INT).reshape(-1, C.N_IDS)
    k = min(m_max, dense.shape[0])
    out_d = np.zeros((m_max, C.N_VIDEO_DENSE), C.FLOAT)
    out_i = np.zeros((m_max, C.N_IDS), C.INT)
    mask = np.zeros((m_max,), C.FLOAT)
    out_d[:k], out_i[:k], mask[:k] = dense[:k], ids[:k], 1.0
    return Candidates(out_d, out_i, mask)


def build_prefix(cands: Candidates, placed: list[int] | np.ndarray, prefix_len: int) -> Prefix:
    """Gather the placed candidates (in placement order) into the fixed-size prefix."""
    placed = np.asarray(placed, dtype=np.int64).reshape(-1)
    if placed.shape[0] > prefix_len:
        raise ValueError(f"`placed` holds at most {prefix_len} indices, got {placed.shape[0]}")
    dense = np.zeros((prefix_len, C.N_VIDEO_DENSE), C.FLOAT)
    ids = np.zeros((prefix_len, C.N_IDS), C.INT)
    mask = np.zeros((prefix_len,), C.FLOAT)
    k = placed.shape[0]
    if k:
        dense[:k] = cands.dense[placed]
        ids[:k] = cands.ids[placed]
        mask[:k] = 1.0
    return Prefix(dense, ids, mask)
