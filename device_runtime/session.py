"""Device-side session state: the page cache the server sent and the real-time watch history.

This is what a phone knows: the candidates it holds (with the server's pXTR), what the user
watched and how they responded, and the moment's context. Training logs are snapshots of this
same object (``training.data.synthetic_logs``), so the features a model learns from are the ones
the device will build.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from device_runtime import contract as C
from device_runtime.features import (
    Candidates,
    Feedback,
    History,
    RawVideos,
    build_candidates,
    build_history,
    context_vector,
    feedback_dense,
    video_dense,
    video_ids,
)


@dataclass(frozen=True)
class PagingConfig:
    """How the client talks to the server (Kuaishou: 9 per request, a request every 6 consumed)."""

    page_size: int = 9
    """Videos the server returns per request."""
    refresh_every: int = 6
    """A new request is made every this many consumed videos (and at the session's start)."""
    cache_limit: int = 12
    """Most videos the cache holds: when a page arrives, leftovers beyond the limit are dropped
    (the last ones in cache order first). Without it, 9 per 6 consumed grows the cache forever."""


class SessionState:
    """The page cache plus a ring buffer of the last N_h watched videos with feedback."""

    def __init__(self, n_history: int = C.N_HISTORY_DEFAULT, network: float = 1.0) -> None:
        self.n_history = n_history
        self.network = float(network)
        self._hist_dense: deque[np.ndarray] = deque(maxlen=n_history)
        self._hist_ids: deque[np.ndarray] = deque(maxlen=n_history)
        self.cache = RawVideos(*(np.zeros(0, dtype=np.float64) for _ in range(9)))
        self.cache_propensity = np.zeros(0)
        self.consumed = 0
        self.elapsed_s = 0.0
        self.since_last_s = 0.0

    def copy(self) -> SessionState:
        """An independent snapshot: later events on either state leave the other unchanged."""
        out = SessionState(self.n_history, self.network)
        out._hist_dense = deque((a.copy() for a in self._hist_dense), maxlen=self.n_history)
        out._hist_ids = deque((a.copy() for a in self._hist_ids), maxlen=self.n_history)
        out.cache = RawVideos(*(np.array(c, copy=True) for c in self.cache))
        out.cache_propensity = self.cache_propensity.copy()
        out.consumed, out.elapsed_s, out.since_last_s = self.consumed, self.elapsed_s, self.since_last_s
        return out

    def start_session(self, gap_s: float) -> None:
        """The user came back after ``gap_s`` seconds: a new session on the same device. The
        history (the last N_h videos and their feedback) is kept, as an app that persists its state
        keeps it; the cache is emptied (the first request refills it) and the session clock restarts."""
        self.cache = RawVideos(*(np.zeros(0, dtype=np.float64) for _ in range(9)))
        self.cache_propensity = np.zeros(0)
        self.consumed = 0
        self.elapsed_s = 0.0
        self.since_last_s = float(gap_s)

    # -- events -------------------------------------------------------------------------------
    def page_arrived(
        self, page: RawVideos, propensity: np.ndarray | None = None, cache_limit: int | None = None
    ) -> int:
        """Append a server page to the cache (server order: leftovers first, then the new page).
        With ``cache_limit``, leftovers beyond ``cache_limit - len(page)`` are dropped; returns how
        many leftovers were kept."""
        prop = np.ones(len(page)) if propensity is None else np.asarray(propensity, dtype=float)
        keep = len(self.cache)
        if cache_limit is not None:
            keep = min(keep, max(cache_limit - len(page), 0))
        old = self.cache.take(np.arange(keep))
        self.cache = RawVideos.concat([old, page]) if keep else page
        self.cache_propensity = np.concatenate([self.cache_propensity[:keep], prop])
        return keep

    def take(self, cache_index: int) -> RawVideos:
        """Remove cache entry ``cache_index`` (the video about to be shown) and return it."""
        n = len(self.cache)
        if not 0 <= cache_index < n:
            raise IndexError(f"`cache_index` must be in [0, {n}), got {cache_index}")
        keep = np.delete(np.arange(n), cache_index)
        shown = self.cache.take([cache_index])
        self.cache = self.cache.take(keep)
        self.cache_propensity = self.cache_propensity[keep]
        return shown

    def video_finished(
        self, shown: RawVideos, watch_ratio: float, effective_view: int, like: int,
        watch_s: float, gap_s: float = 0.0, hate: int = 0,
    ) -> None:
        """Record the user's feedback on a shown video (one row of ``shown``)."""
        fb = Feedback(
            np.array([watch_ratio]), np.array([effective_view]), np.array([like]), np.array([watch_s]),
            np.array([hate]),
        )
        self._hist_dense.append(np.concatenate([video_dense(shown)[0], feedback_dense(fb)[0]]))
        self._hist_ids.append(video_ids(shown)[0])
        self.consumed += 1
        self.elapsed_s += float(watch_s) + float(gap_s)
        self.since_last_s = float(gap_s)

    # -- views --------------------------------------------------------------------------------
    def history(self) -> History:
        if not self._hist_dense:
            return build_history(np.zeros((0, C.N_HIST_DENSE)), np.zeros((0, C.N_IDS)), self.n_history)
        return build_history(np.stack(self._hist_dense), np.stack(self._hist_ids), self.n_history)

    def context(self) -> np.ndarray:
        return context_vector(self.consumed, self.elapsed_s, self.since_last_s, self.network)

    def candidates(self, m_max: int = C.M_MAX_DEFAULT) -> Candidates:
        """The cache padded (or cut to its first m_max, in server order) to M_max slots."""
        return build_candidates(video_dense(self.cache), video_ids(self.cache), m_max)

    def needs_page(self, paging: PagingConfig) -> bool:
        return self.consumed % paging.refresh_every == 0 or len(self.cache) == 0
