"""Replay an event log into impressions: the device's state rebuilt event by event, so every
impression carries the history, cache and context the device held when it chose that video —
exactly what ``rollout.run_session`` records live (a test checks they are equal)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from device_runtime import contract as C
from device_runtime.events import SessionEvents, page_from_json
from device_runtime.session import SessionState
from device_runtime.sim.rollout import Impression
from device_runtime.sim.world import Response

_WATCHED = ("video_finished", "skipped")


def replay_session(se: SessionEvents, m_max: int = C.M_MAX_DEFAULT,
                   state: SessionState | None = None) -> list[Impression]:
    """The impressions of one logged session, in order. A session cut short by a crash yields the
    impressions whose watch event was written. The world's true probabilities come from the
    ``oracle`` field where the emulator logged it, else NaN. ``state`` is the device state to
    replay on, updated in place: for a later session of a multi-session user (``part`` ≥ 1 in its
    ``session_start``) pass the state the user's previous session left, and the history carries
    over after ``start_session(gap_s)``, as it did on the device."""
    start = se.start
    if state is None:
        state = SessionState(n_history=int(start.get("n_history", C.N_HISTORY_DEFAULT)),
                             network=float(start.get("network", 1.0)))
    elif int(start.get("part", 0)) > 0:
        state.start_session(float(start.get("gap_s", 0.0)))
        state.network = float(start.get("network", state.network))
    out: list[Impression] = []
    request = -1
    pending: tuple[Any, ...] | None = None  # (cache index, snapshots, propensity, video id, row)
    for e in se.events:
        kind = e.get("type")
        if kind == "page_arrived":
            page = page_from_json(e["page"])
            request = int(e["request"]) if e.get("request") is not None else request + 1
            state.page_arrived(page, np.asarray(e["propensity"], float), e.get("cache_limit"))
        elif kind == "shown":
            i = int(e["cache_index"])
            snap = (state.history(), state.candidates(m_max), state.context())
            pending = (i, snap, float(state.cache_propensity[i]), int(e["video_id"]))
            pending = (*pending, state.take(i))
        elif kind in _WATCHED and pending is not None:
            i, (h, c, ctx), prop, video, shown = pending
            oracle = e.get("oracle") or {}
            r = Response(float(oracle.get("p_ev", math.nan)), float(oracle.get("p_like", math.nan)),
                         float(oracle.get("p_has_next", math.nan)), int(e["effective_view"]), int(e["like"]),
                         int(e["has_next"]), float(e["watch_ratio"]), float(e["watch_s"]), int(e.get("hate", 0)))
            out.append(Impression(state.consumed, request, i, h, c, ctx, prop, r, video))
            state.video_finished(shown, r.watch_ratio, r.effective_view, r.like, r.watch_s,
                                 float(e.get("gap_s", 0.0)), r.hate)
            pending = None
    return out

