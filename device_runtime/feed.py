"""The device feed: session state + reranker + triggers + event log behind the app's events.

The app reports what happens — ``page_arrived(page)``, ``liked()``, ``video_finished(...)``,
``skipped(...)`` — and asks ``next_index()`` for the cache entry to show next. Triggers
(``device_runtime.triggers``) decide when the cache is reranked; the top of the latest rerank is
the next video. Nothing here raises into the app loop for bad data or a bad model: the reranker
serves the server order and records why.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

import numpy as np

from device_runtime import contract as C
from device_runtime.events import EventLog, page_to_json
from device_runtime.features import RawVideos
from device_runtime.reranker import Reranker, RerankResult
from device_runtime.session import SessionState
from device_runtime.strategies import get_strategy
from device_runtime.triggers import Trigger, TriggerConfig


class SessionMetrics(NamedTuple):
    """Outcome of one session under one strategy."""

    depth: int  # videos watched
    effective_views: int
    likes: int
    total_reward: float  # α·effective_views + β·likes
    reranks: int
    steps: float  # mean search steps per rerank (nan without reranks)
    fallbacks: int


class DeviceFeed:
    """One user session on the device."""

    def __init__(
        self,
        reranker: Reranker,
        strategy: str = "adaptive_beam",
        *,
        triggers: TriggerConfig | None = None,
        network: float = 1.0,
        log: EventLog | None = None,
        session_key: Any = 0,
        start_fields: dict | None = None,
    ) -> None:
        get_strategy(strategy)  # fail fast on a typo, before the session starts
        self.reranker = reranker
        self.strategy = strategy
        self.triggers = triggers or TriggerConfig()
        self.state = SessionState(n_history=reranker.dims.n_history, network=network)
        self.log = log
        self.session_key = session_key
        self._plan: list[int] = []  # video ids, best first, from the latest rerank
        self._pending: set[Trigger] = {Trigger.START}
        self._playing: RawVideos | None = None
        self._liked = False
        # per-session measurements
        self.latencies_us: list[float] = []
        self.steps: list[int] = []
        self.trigger_counts: Counter[str] = Counter()
        self.fallback_counts: Counter[str] = Counter()
        self.effective_views = 0
        self.likes = 0
        self._emit({"type": "session_start", "strategy": strategy, "network": network,
                    "n_history": self.state.n_history, **(start_fields or {})})

    # -- events from the app ----------------------------------------------------------------------
    def page_arrived(self, page: RawVideos, propensity: np.ndarray | None = None,
                     cache_limit: int | None = None, request: int | None = None) -> int:
        kept = self.state.page_arrived(page, propensity, cache_limit)
        self._emit({"type": "page_arrived", "request": request, "cache_limit": cache_limit, "kept": kept,
                    "page": page_to_json(page),
                    "propensity": np.asarray(self.state.cache_propensity[kept:], float).tolist()})
        self._trigger(Trigger.PAGE)
        return kept

    def liked(self) -> None:
        """The user liked (or shared) the playing video: rerank now."""
        self._liked = True
        vid = None if self._playing is None else int(self._playing.video_id[0])
        self._emit({"type": "liked", "video_id": vid})
        if self.triggers.fires(Trigger.LIKE):
            self._rerank({Trigger.LIKE})

    def video_finished(self, watch_ratio: float, effective_view: int, like: int, watch_s: float,
                       gap_s: float = 0.0, has_next: int = 1, oracle: dict | None = None, hate: int = 0) -> None:
        """The playing video ended (the user swiped on, or left with ``has_next`` = 0); ``hate`` = 1
        if the user marked it "not interested"."""
        self._finish("video_finished", watch_ratio, effective_view, like, watch_s, gap_s, has_next, oracle, hate)

    def skipped(self, watch_ratio: float, watch_s: float, gap_s: float = 0.0, has_next: int = 1,
                oracle: dict | None = None, hate: int = 0) -> None:
        """The user swiped away within ``contract.SKIP_SECONDS``."""
        self._finish("skipped", watch_ratio, 0, 0, watch_s, gap_s, has_next, oracle, hate)

    # -- what to show -----------------------------------------------------------------------------
    def next_index(self) -> int:
        """The cache index of the next video: the top of the latest rerank."""
        if self._pending & {t for t in Trigger if self.triggers.fires(t)} or not self._plan_head():
            self._rerank(set(self._pending) or {Trigger.START})
        head = self._plan_head()
        return int(np.flatnonzero(np.asarray(self.state.cache.video_id) == head)[0]) if head is not None else 0

    def show(self, cache_index: int) -> RawVideos:
        """Take ``cache_index`` out of the cache: it is now playing."""
        shown = self.state.take(cache_index)
        self._playing, self._liked = shown, False
        vid = int(shown.video_id[0])
        self._plan = [v for v in self._plan if v != vid]
        self._emit({"type": "shown", "cache_index": int(cache_index), "video_id": vid})
        return shown

    def end(self) -> SessionMetrics:
        """Close the session (logs ``session_end``) and return its metrics."""
        self._emit({"type": "session_end", "depth": self.state.consumed})
        return self.metrics()

    def metrics(self) -> SessionMetrics:
        p = self.reranker.params
        reward = p.alpha * self.effective_views + p.beta * self.likes
        steps = float(np.mean(self.steps)) if self.steps else float("nan")
        return SessionMetrics(self.state.consumed, self.effective_views, self.likes, float(reward),
                              len(self.latencies_us), steps, sum(self.fallback_counts.values()))

    # -- internals --------------------------------------------------------------------------------
    def _plan_head(self) -> int | None:
        in_cache = set(np.asarray(self.state.cache.video_id).tolist())
        self._plan = [v for v in self._plan if v in in_cache]
        return self._plan[0] if self._plan else None

    def _trigger(self, trigger: Trigger) -> None:
        self._pending.add(trigger)

    def _rerank(self, triggers: set[Trigger]) -> RerankResult:
        r = self.reranker.rerank(self.state, self.strategy)
        ids = np.asarray(self.state.cache.video_id)
        self._plan = [int(v) for v in ids[r.order]]
        self._pending.clear()
        self.latencies_us.append(r.latency_us)
        self.steps.append(r.steps)
        for t in triggers:
            self.trigger_counts[t.value] += 1
        if r.fallback is not None:
            self.fallback_counts[r.fallback.value] += 1
        self._emit({"type": "rerank", "triggers": sorted(t.value for t in triggers), "strategy": r.strategy,
                    "served": r.served, "fallback": None if r.fallback is None else r.fallback.value,
                    "steps": r.steps, "latency_us": round(r.latency_us, 1), "truncated": r.truncated,
                    "top": self._plan[0] if self._plan else None})
        return r

    def _finish(self, kind: str, watch_ratio: float, effective_view: int, like: int, watch_s: float,
                gap_s: float, has_next: int, oracle: dict | None, hate: int = 0) -> None:
        if self._playing is None:
            raise RuntimeError(f"`{kind}` needs a playing video; call show() first")
        like = int(like or self._liked)
        shown, self._playing = self._playing, None
        hate = int(bool(hate))
        self.state.video_finished(shown, watch_ratio, effective_view, like, watch_s, gap_s, hate)
        self.effective_views += int(effective_view)
        self.likes += like
        event = {"type": kind, "video_id": int(shown.video_id[0]), "watch_ratio": float(watch_ratio),
                 "effective_view": int(effective_view), "like": like, "watch_s": float(watch_s),
                 "gap_s": float(gap_s), "has_next": int(has_next)}
        if hate:
            event["hate"] = 1  # only when given: logs without hate keep their bytes
        if oracle is not None:
            event["oracle"] = oracle
        self._emit(event)
        if has_next:
            self._trigger(Trigger.SWIPE)

    def _emit(self, event: dict) -> None:
        if self.log is not None:
            self.log.append({"session": self.session_key, **event})


def is_skip(watch_s: float, effective_view: int) -> bool:
    return watch_s < C.SKIP_SECONDS and not effective_view
