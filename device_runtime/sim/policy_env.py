"""The synthetic world as an RL environment over the device's view of a session (numpy only).

* **State** — what the device knows: the real-time watch history with feedback, the other
  context, and the page cache (the first M_max cached candidates, server order): exactly the
  inputs of the ``policy_rerank`` signature, built by the same ``SessionState`` the device keeps.
* **Action** — the next ``slate`` videos to show (default 1, an immersive feed), as cache indices
  of the observation, shown in the given order.
* **Reward** — α·effective_view + β·like summed over the videos the user watched.
* **done** — the user left (or nothing is left to show); **truncated** — the depth cap was hit
  (the user did not leave, so a TD target still bootstraps there).
* **Paging** — as ``rollout.run_session`` and the emulator do it: a request at the start and
  every ``refresh_every`` consumed videos (or when the cache runs short), leftovers beyond the
  cache limit dropped. With ``slate = 1`` a session played by "always index 0" is impression for
  impression the server-order session of ``run_session`` (a test checks it).

Sessions are ``world.new_session(seed, index)``, so every rule evaluated on the same
``(seed, index)`` meets the same user, intent path and per-position uniforms (paired sessions).

In a multi-session world (``WorldConfig.long_term()``) an RL episode is the user's episode
(``world.new_episode(seed, index)``): the end of a session — the user left, or the per-session depth
cap closed it — is an ordinary transition to the first state of the user's next session (history
kept; the gap until the return is that state's ``since_last``); **done** means the user churned, and
**truncated** that the episode's days (or ``max_sessions``) ran out while the user would come back.
``Step.session_ended`` marks the transitions where a session ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from device_runtime import contract as C
from device_runtime.session import PagingConfig, SessionState
from device_runtime.sim.world import Episode, Response, SyntheticWorld, UserSession

#: Names of the observation arrays, in the order of the ``policy_rerank`` signature's inputs.
OBS_KEYS = ("hist_dense", "hist_ids", "hist_mask", "cand_dense", "cand_ids", "cand_mask", "context")


@dataclass(frozen=True)
class EnvConfig:
    """How sessions become episodes."""

    slate: int = 1
    """n: videos shown per action (1 = immersive feed)."""
    depth_cap: int = 50
    """Most videos shown in one episode; reaching it truncates (does not terminate) the episode."""
    alpha: float = C.DEFAULT_RERANK_PARAMS["alpha"]
    """Reward weight of an effective view."""
    beta: float = C.DEFAULT_RERANK_PARAMS["beta"]
    """Reward weight of a like."""
    n_history: int = C.N_HISTORY_DEFAULT
    """N_h of the observed history."""
    m_max: int = C.M_MAX_DEFAULT
    """M_max: candidate slots of the observation (the cache is cut to its first M_max)."""
    paging: PagingConfig | None = None
    """Client paging; None = the world's (page_size, refresh_every, cache_limit), as the emulator."""

    def __post_init__(self) -> None:
        if not 1 <= self.slate <= self.m_max:
            raise ValueError(f"`slate` must be in [1, m_max = {self.m_max}], got {self.slate}")
        if self.depth_cap < 1:
            raise ValueError(f"`depth_cap` must be >= 1, got {self.depth_cap}")


class Step(NamedTuple):
    """What one action produced."""

    observation: dict[str, np.ndarray]  # the next state (valid shapes even when done)
    reward: float  # α·effective views + β·likes of the watched videos
    done: bool  # the user left, or nothing is left to show
    truncated: bool  # the depth cap was reached while the user stayed
    shown: np.ndarray  # int64 [n]: the action's cache indices actually shown (a leave cuts a slate)
    responses: np.ndarray  # float32 [slate, 2]: (effective_view, like) per action slot, 0 if unseen
    watched: np.ndarray  # float32 [slate]: 1 where the action's video was watched
    session_ended: bool = False  # multi-session worlds: a session ended and the next one began


class FeedEnv:
    """One session at a time of ``world``, seen from the device."""

    def __init__(self, world: SyntheticWorld, config: EnvConfig | None = None) -> None:
        self.world = world
        self.config = cfg = config or EnvConfig()
        wc = world.config
        self.paging = cfg.paging or PagingConfig(wc.page_size, wc.refresh_every, wc.cache_limit)
        self.session: UserSession | None = None
        self.episode: Episode | None = None
        self.multi = bool(getattr(world.config, "multi_session", False))
        self.sessions = 0  # sessions played in the current episode
        self.watched = 0  # videos watched in the current episode (all its sessions)
        self.state: SessionState | None = None
        self._cache_videos: list[int] = []
        self._request = -1
        self._bucket = -1  # refresh_every-sized block of consumed videos of the last request
        self.depth = 0
        self.total_reward = 0.0
        self.finished = True

    # -- episode ------------------------------------------------------------------------------
    def reset(self, seed: int, index: int) -> dict[str, np.ndarray]:
        """Start session ``index`` of run ``seed`` (a user's episode in a multi-session world);
        returns the first observation."""
        if self.multi:
            self.episode = self.world.new_episode(seed, index)
            self.session = self.episode.session
        else:
            self.session = self.world.new_session(seed, index)
        self.sessions, self.watched = 1, 0
        self.state = SessionState(n_history=self.config.n_history, network=self.session.network)
        self._cache_videos, self._request, self._bucket = [], -1, -1
        self.depth, self.total_reward, self.finished = 0, 0.0, False
        if not self._refill():
            self.finished = True
        return self.observation()

    def observation(self) -> dict[str, np.ndarray]:
        """The device's current view: the ``policy_rerank`` inputs (unbatched)."""
        st = self.state
        if st is None:
            raise RuntimeError("call reset() before observation()")
        h = st.history()
        c = st.candidates(self.config.m_max)
        return {"hist_dense": h.dense, "hist_ids": h.ids, "hist_mask": h.mask, "cand_dense": c.dense,
                "cand_ids": c.ids, "cand_mask": c.mask, "context": st.context()}

    def step(self, action: Sequence[int] | np.ndarray) -> Step:
        """Show the videos at cache indices ``action`` (of the current observation), in order."""
        if self.finished or self.session is None or self.state is None:
            raise RuntimeError("the episode is over; call reset()")
        cfg = self.config
        n_valid = min(len(self._cache_videos), cfg.m_max)
        action = [int(a) for a in np.asarray(action).reshape(-1)]
        if not action or len(action) > cfg.slate or len(set(action)) != len(action) or \
                any(not 0 <= a < n_valid for a in action):
            raise ValueError(f"`action` must be 1 to {cfg.slate} distinct cache indices in [0, {n_valid}), "
                             f"got {action}")
        videos = [self._cache_videos[a] for a in action]
        responses = np.zeros((cfg.slate, 2), np.float32)
        watched = np.zeros(cfg.slate, np.float32)
        reward, shown = 0.0, []
        for slot, (a, video) in enumerate(zip(action, videos, strict=True)):
            if not self.session.active or self.depth >= cfg.depth_cap:
                break
            i = self._cache_videos.index(video)  # indices shift as earlier slate videos leave the cache
            r = self._show(i)
            shown.append(a)
            responses[slot] = (r.effective_view, r.like)
            watched[slot] = 1.0
            reward += cfg.alpha * r.effective_view + cfg.beta * r.like
        self.total_reward += reward
        done = not self.session.active
        truncated = False
        ended = False
        if self.multi and (done or self.depth >= cfg.depth_cap or not self._refill()):
            ended = True  # the session is over: the user churns, or comes back later
            done, truncated = self._next_session()
        elif not done:
            if self.depth >= cfg.depth_cap:
                truncated = True
            elif not self._refill():
                done = True  # nothing left to show
        self.finished = done or truncated
        return Step(self.observation(), float(reward), bool(done), bool(truncated),
                    np.asarray(shown, np.int64), responses, watched, ended)

    def _next_session(self) -> tuple[bool, bool]:
        """(done, truncated) after a session of the episode ended: the user's next session begins
        (an ordinary transition), or the user churned (done), or the episode's days ran out."""
        assert self.episode is not None and self.state is not None
        nxt = self.episode.next_session()
        if nxt is None:
            return self.episode.churned, not self.episode.churned
        self.session = nxt
        self.state.start_session(self.episode.gap_h * 3600.0)
        self.state.network = nxt.network
        self._cache_videos, self._request, self._bucket = [], -1, -1
        self.depth = 0
        self.sessions += 1
        if not self._refill():
            return self._next_session()
        return False, False

    # -- internals ----------------------------------------------------------------------------
    def _show(self, cache_index: int) -> Response:
        st, sess = self.state, self.session
        assert st is not None and sess is not None
        shown = st.take(cache_index)
        video = self._cache_videos.pop(cache_index)
        r = sess.watch(video)
        # a quick swipe (skip) carries ev = like = 0 already, so this is what ``deliver_response``
        # leaves in the device state for either event
        st.video_finished(shown, r.watch_ratio, r.effective_view, r.like, r.watch_s, sess.last_gap_s, r.hate)
        self.depth += 1
        self.watched += 1
        return r

    def _refill(self) -> bool:
        """Request pages as the client does; False when nothing is left to show."""
        st, sess = self.state, self.session
        assert st is not None and sess is not None
        bucket = st.consumed // self.paging.refresh_every
        if bucket > self._bucket or len(self._cache_videos) < self.config.slate:
            self._bucket = bucket
            self._request += 1
            page = self.world.server_page(sess, self._request)
            if page.videos.size or self._cache_videos:
                kept = st.page_arrived(self.world.raw_videos(page), page.propensity, self.paging.cache_limit)
                self._cache_videos = self._cache_videos[:kept] + [int(v) for v in page.videos]
        return bool(self._cache_videos)


def stack(observations: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Observations → one batch: {name: [B, ...]}."""
    return {k: np.stack([o[k] for o in observations]) for k in OBS_KEYS}


def top_n(scores: np.ndarray, cand_mask: np.ndarray, n: int) -> np.ndarray:
    """The n best valid slots per row, best first (ties toward the lower index): int64 [B, n]; a
    row with fewer than n valid slots repeats its last pick (callers cut by the valid count)."""
    scores = np.where(np.asarray(cand_mask) > 0.5, np.asarray(scores, np.float64), -np.inf)
    order = np.argsort(-scores, axis=-1, kind="stable")[:, :n]
    n_valid = (np.asarray(cand_mask) > 0.5).sum(-1)
    for b in np.flatnonzero(n_valid < n):
        k = max(int(n_valid[b]), 1)
        order[b, k:] = order[b, k - 1]
    return order.astype(np.int64)
