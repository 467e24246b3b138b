"""One session of the synthetic world under a serving rule, recorded impression by impression.

Shared by the log generator (server order, the behaviour policy), the emulator and the RL
environment, so paging, feedback and feature snapshots follow one code path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from device_runtime.features import Candidates, History
from device_runtime.session import PagingConfig, SessionState
from device_runtime.world import Response, SyntheticWorld, UserSession


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


def run_session(
    world: SyntheticWorld,
    session: UserSession,
    choose: ChooseFn = server_order,
    paging: PagingConfig | None = None,
    n_history: int = 8,
    m_max: int = 16,
    record: bool = True,
) -> list[Impression]:
    """Play a session until the user leaves; returns the impressions (if ``record``)."""
    cfg = world.config
    paging = paging or PagingConfig(cfg.page_size, cfg.refresh_every, cfg.cache_limit)
    state = SessionState(n_history=n_history, network=session.network)
    out: list[Impression] = []
    request = -1
    cache_videos: list[int] = []
    while session.active:
        if state.needs_page(paging):
            request += 1
            page = world.server_page(session, request)
            if page.videos.size == 0 and not cache_videos:
                break  # nothing left to show
            kept = state.page_arrived(world.raw_videos(page), page.propensity, paging.cache_limit)
            cache_videos = cache_videos[:kept] + [int(v) for v in page.videos]
        if not cache_videos:
            break
        i = choose(state, session)
        snap_h = state.history() if record else None
        snap_c = state.candidates(m_max) if record else None
        snap_ctx = state.context() if record else None
        prop = float(state.cache_propensity[i])
        shown = state.take(i)
        video = cache_videos.pop(i)
        r = session.watch(video)
        state.video_finished(shown, r.watch_ratio, r.effective_view, r.like, r.watch_s, session.last_gap_s)
        if record:
            out.append(
                Impression(state.consumed - 1, request, i, snap_h, snap_c, snap_ctx, prop, r, video)  # type: ignore[arg-type]
            )
    return out
