"""One session of the synthetic world under a serving rule, recorded impression by impression.

Shared by the log generator (server order, the behaviour policy), the emulator and the RL
environment, so paging, feedback and feature snapshots follow one code path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from device_runtime.contract import SKIP_SECONDS
from device_runtime.features import Candidates, History, RawVideos
from device_runtime.session import PagingConfig, SessionState
from device_runtime.sim.world import Episode, Response, SyntheticWorld, UserSession


class Impression(NamedTuple):
    """Everything known about one shown video, as of the moment before it was chosen."""

    position: int
    request: int  # the page request whose arrival last refreshed the cache
    cache_index: int  # where the shown video sat in the cache (server order)
    history: History  # the device's history at that moment
    candidates: Candidates  # the device's cache at that moment (padded to M_max)
    context: np.ndarray  # the device's context at that moment
    propensity: float  # server's probability of this placement
    response: Response
    video: int  # catalog index


#: A serving rule: given the device state (and the world session, for oracles only), pick a cache
#: index to show next.
ChooseFn = Callable[[SessionState, UserSession], int]


def server_order(state: SessionState, session: UserSession) -> int:
    return 0


class _StateFeed:
    """The plain device of the log generator: the session state driven by a ``choose`` rule (no
    reranker, no triggers, no event log). ``DeviceFeed`` has the same methods."""

    def __init__(self, state: SessionState, choose: ChooseFn, session: UserSession) -> None:
        self.state, self._choose, self._session = state, choose, session
        self._playing: RawVideos | None = None

    def page_arrived(self, page: RawVideos, propensity: np.ndarray | None = None,
                     cache_limit: int | None = None, request: int | None = None) -> int:
        return self.state.page_arrived(page, propensity, cache_limit)

    def next_index(self) -> int:
        return self._choose(self.state, self._session)

    def show(self, cache_index: int) -> RawVideos:
        self._playing = self.state.take(cache_index)
        return self._playing

    def liked(self) -> None:
        pass

    def video_finished(self, watch_ratio: float, effective_view: int, like: int, watch_s: float,
                       gap_s: float = 0.0, has_next: int = 1, oracle: dict | None = None, hate: int = 0) -> None:
        assert self._playing is not None
        self.state.video_finished(self._playing, watch_ratio, effective_view, like, watch_s, gap_s, hate)

    def skipped(self, watch_ratio: float, watch_s: float, gap_s: float = 0.0, has_next: int = 1,
                oracle: dict | None = None, hate: int = 0) -> None:
        self.video_finished(watch_ratio, 0, 0, watch_s, gap_s, has_next, oracle, hate)

    def end(self) -> None:
        pass


def deliver_response(feed, r: Response, gap_s: float) -> None:
    """The world's response to the playing video as the app's events: ``liked`` (if liked), then
    ``skipped`` (swiped away within SKIP_SECONDS) or ``video_finished``."""
    oracle = {"p_ev": r.p_ev, "p_like": r.p_like, "p_has_next": r.p_has_next}
    hate = {"hate": 1} if r.hate else {}  # the app reports a "not interested" with the video's end
    if r.like:
        feed.liked()
    if r.watch_s < SKIP_SECONDS and not r.effective_view and not r.like:
        feed.skipped(r.watch_ratio, r.watch_s, gap_s, r.has_next, oracle, **hate)
    else:
        feed.video_finished(r.watch_ratio, r.effective_view, r.like, r.watch_s, gap_s, r.has_next, oracle, **hate)


def run_session(
    world: SyntheticWorld,
    session: UserSession,
    choose: ChooseFn = server_order,
    paging: PagingConfig | None = None,
    n_history: int = 8,
    m_max: int = 16,
    record: bool = True,
    feed=None,
    state: SessionState | None = None,
    responses: list[Response] | None = None,
) -> list[Impression]:
    """Play a session until the user leaves; returns the impressions (if ``record``).

    With ``feed`` (a ``device_runtime.feed.DeviceFeed``) the device side is the feed — its state,
    triggers, reranker and event log — and ``choose`` is ignored. ``state`` continues a device
    state (a later session of an episode: history kept); default a fresh one. ``responses``, if
    given, receives every watched video's ``Response`` (cheaper than recording impressions)."""
    cfg = world.config
    paging = paging or PagingConfig(cfg.page_size, cfg.refresh_every, cfg.cache_limit)
    if state is None:
        state = SessionState(n_history=n_history, network=session.network)
    dev = feed if feed is not None else _StateFeed(state, choose, session)
    state = dev.state
    out: list[Impression] = []
    request = -1
    cache_videos: list[int] = []
    while session.active:
        if state.needs_page(paging):
            request += 1
            page = world.server_page(session, request)
            if page.videos.size == 0 and not cache_videos:
                break  # nothing left to show
            kept = dev.page_arrived(world.raw_videos(page), page.propensity, paging.cache_limit, request)
            cache_videos = cache_videos[:kept] + [int(v) for v in page.videos]
        if not cache_videos:
            break
        i = dev.next_index()
        snap_h = state.history() if record else None
        snap_c = state.candidates(m_max) if record else None
        snap_ctx = state.context() if record else None
        prop = float(state.cache_propensity[i])
        dev.show(i)
        video = cache_videos.pop(i)
        r = session.watch(video)
        deliver_response(dev, r, session.last_gap_s)
        if responses is not None:
            responses.append(r)
        if record:
            out.append(
                Impression(state.consumed - 1, request, i, snap_h, snap_c, snap_ctx, prop, r, video)  # type: ignore[arg-type]
            )
    dev.end()
    return out


def episode_sessions(world: SyntheticWorld, episode: Episode, n_history: int = 8):
    """Yield ``(part, session, state)`` for every session of ``episode`` as it is played: one device
    state for the episode (history kept; ``start_session`` with the gap before each return). The
    caller plays each session (e.g. ``run_session(..., state=state)``) before asking for the next."""
    state = SessionState(n_history=n_history, network=episode.session.network)
    session: UserSession | None = episode.session
    while session is not None:
        if episode.part:
            state.start_session(episode.gap_h * 3600.0)
            state.network = session.network
        yield episode.part, session, state
        session = episode.next_session()


class SessionRecord(NamedTuple):
    """One session of an episode: when it started, the gap before it, and what was shown."""

    part: int
    start_h: float
    gap_h: float
    responses: list[Response]


def run_episode(
    world: SyntheticWorld,
    episode: Episode,
    choose: ChooseFn = server_order,
    paging: PagingConfig | None = None,
    n_history: int = 8,
    feed_factory: Callable[[], object] | None = None,
) -> list[SessionRecord]:
    """Play every session of ``episode`` (one user) until the user churns or the episode's days are
    over. One device state for the whole episode: the history carries over between sessions
    (``SessionState.start_session``); the gap until the return is the next session's
    ``since_last``. With ``feed_factory`` each session runs through a fresh ``DeviceFeed`` whose
    state is the episode's state (``choose`` is then ignored)."""
    state = SessionState(n_history=n_history, network=episode.session.network)
    out: list[SessionRecord] = []
    session: UserSession | None = episode.session
    while session is not None:
        if out:
            state.start_session(episode.gap_h * 3600.0)
            state.network = session.network
        feed = None
        if feed_factory is not None:
            feed = feed_factory()
            feed.state = state  # type: ignore[attr-defined]
        responses: list[Response] = []
        run_session(world, session, choose, paging, n_history, record=False, feed=feed, state=state,
                    responses=responses)
        out.append(SessionRecord(episode.part, episode.hours, episode.gap_h, responses))
        session = episode.next_session()
    return out
