"""KuaiRand's random-exposure log → the feature contract (``LogArrays``), plus user subsets.

``load_kuairand(path)`` reads a KuaiRand directory (the log ``log_random_1k_part.csv`` next to
``video_features_basic_pure.csv`` and ``user_features_pure.csv``; or the path of a log CSV whose
folder holds the two tables) and returns one ``LogArrays`` row per log row plus a report of join
and label rates. Mapping and the choices it makes:

* **labels** — effective_view = ``long_view``; like = ``is_like``; watch ratio =
  ``play_time_ms / duration_ms`` (0 where the duration is unknown: ``duration_ms`` 0, about 3% of
  rows; counted in the report).
* **has_next** = the same user has a next row starting within ``gap_s`` (default 30 min).
  Weakness: the rows are videos inserted *at random* into the user's feed, not consecutive feed
  positions, so this says "the user was still watching when the next random insert came", which
  mixes session continuation with how often inserts happen; it is not the synthetic world's
  swipe-level continuation. Sessions (``session_id``) are the chains this rule links.
* **history** = the user's earlier rows (any session), newest first, with their feedback;
  **prefix** empty (``prefix_len`` 0): a random insert has no list placed before it, so each row
  is its own request (``request`` = ``position``).
* **target video** — duration, age (``time_ms`` − ``upload_dt``), topic (first tag id; −1 → the
  unknown id 0), author (``author_id``) from the video table; ``server_rank`` = 0 (no page).
* **server pXTR** — the log has none. Default (``pxtr_from=None``): constants that no label of
  this log produced (KuaiRand-Pure standard-feed long-view and like rates from the data README,
  0.5 for has_next), so nothing can leak. With ``pxtr_from=`` a log of *training users*:
  smoothed per-video rates of that log (``prior_rows`` pseudo-rows at its overall rate), leaving
  out the row's own user's rows, so neither the row's own labels nor any user outside
  ``pxtr_from`` enters a feature.
* **context** — position and elapsed time within the session, seconds since the previous row's
  play ended (0 at a session's start), network = 1 (unknown; a constant).
* **user table** — the contract has no user features, so users are joined for the report only
  (join rate, rows per activity group); misses are counted, never dropped.
* ``propensity`` = 1 / ``RANDOM_POOL`` (inserts drawn uniformly from KuaiRand-Pure's videos);
  the ``true_p_*`` columns are NaN (no world knows them).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Final

import numpy as np

from device_runtime import contract as C
from device_runtime.features import (
    Feedback,
    RawVideos,
    context_matrix,
    feedback_dense,
    video_dense,
    video_ids,
)
from device_runtime.sim import kuairand_tables as T
from training.data.synthetic_logs import LogArrays

GAP_S_DEFAULT: Final = 1800.0
#: Videos KuaiRand-Pure's random exposure drew from (the video table's size).
RANDOM_POOL: Final = 7583
#: Neutral pXTR (no label of the log involved): KuaiRand-Pure standard-feed rates (data README).
NEUTRAL_PXTR: Final = {"effective_view": 0.3318, "like": 0.0185, "has_next": 0.5}


def resolve(path: str | Path) -> tuple[Path, Path]:
    """(log CSV, folder with the tables) of a KuaiRand path (a folder or a log CSV)."""
    path = Path(path)
    if path.is_dir():
        return path / T.LOG_FILE, path
    if path.suffix == ".csv":
        return path, path.parent
    raise FileNotFoundError(f"`path` must be a KuaiRand folder or a log .csv, got {path} (missing)")


def sessions_of(log: T.RandomLog, gap_s: float = GAP_S_DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """(has_next, session_id) per row of a log sorted by user, then time."""
    same_user = log.user_id[1:] == log.user_id[:-1]
    gap = (log.time_ms[1:] - log.time_ms[:-1]) / 1000.0
    linked = same_user & (gap <= gap_s)
    has_next = np.append(linked, False).astype(np.int8)
    session = np.concatenate([[0], np.cumsum(~linked)]).astype(np.int64)
    return has_next, session


def _sorted(log: T.RandomLog) -> T.RandomLog:
    return log.take(np.lexsort((log.time_ms, log.user_id)))


def pxtr_table(source: T.RandomLog, prior_rows: float = 20.0, gap_s: float = GAP_S_DEFAULT):
    """Leave-user-out smoothed per-video rates of ``source``: returns a function
    (user_ids, video_ids) → [n, 3] rates of (effective_view, like, has_next), each
    (the video's label sum without that user + ``prior_rows`` · prior) / (its rows without that
    user + ``prior_rows``), the prior being the source's rate without that user."""
    source = _sorted(source)
    has_next, _ = sessions_of(source, gap_s)
    labels = np.column_stack([source.long_view, source.is_like, has_next]).astype(np.float64)
    # The prior is the source's rate without the user's own rows too (else a row's label leaks).
    total, n_total = labels.sum(axis=0), float(source.n)
    users, u_inv = np.unique(source.user_id, return_inverse=True)
    u_sum, u_n = np.zeros((users.size, 3)), np.bincount(u_inv, minlength=users.size).astype(float)
    np.add.at(u_sum, u_inv, labels)
    neutral = np.array([NEUTRAL_PXTR["effective_view"], NEUTRAL_PXTR["like"], NEUTRAL_PXTR["has_next"]])
    vids, v_inv = np.unique(source.video_id, return_inverse=True)
    v_sum, v_n = np.zeros((vids.size, 3)), np.bincount(v_inv, minlength=vids.size).astype(float)
    np.add.at(v_sum, v_inv, labels)
    pair = source.user_id * (int(source.video_id.max(initial=0)) + 1) + source.video_id
    pairs, p_inv = np.unique(pair, return_inverse=True)
    p_sum, p_n = np.zeros((pairs.size, 3)), np.bincount(p_inv, minlength=pairs.size).astype(float)
    np.add.at(p_sum, p_inv, labels)

    def rates(user_ids: np.ndarray, video_ids_: np.ndarray) -> np.ndarray:
        vi = np.clip(np.searchsorted(vids, video_ids_), 0, max(vids.size - 1, 0))
        has_v = (vids.size > 0) & (vids[vi] == video_ids_)
        key = user_ids * (int(source.video_id.max(initial=0)) + 1) + video_ids_
        pi = np.clip(np.searchsorted(pairs, key), 0, max(pairs.size - 1, 0))
        has_p = has_v & (pairs.size > 0) & (pairs[pi] == key) & (video_ids_ <= source.video_id.max(initial=0))
        s = np.where(has_v[:, None], v_sum[vi], 0.0) - np.where(has_p[:, None], p_sum[pi], 0.0)
        n = np.where(has_v, v_n[vi], 0.0) - np.where(has_p, p_n[pi], 0.0)
        ui = np.clip(np.searchsorted(users, user_ids), 0, max(users.size - 1, 0))
        has_u = (users.size > 0) & (users[ui] == user_ids)
        rest_n = n_total - np.where(has_u, u_n[ui], 0.0)
        rest = total - np.where(has_u[:, None], u_sum[ui], 0.0)
        prior = np.where(rest_n[:, None] > 0, rest / np.maximum(rest_n, 1.0)[:, None], neutral)
        return (s + prior_rows * prior) / (n + prior_rows)[:, None]

    return rates


def load_kuairand(
    path: str | Path,
    pxtr_from: str | Path | None = None,
    n_history: int = C.N_HISTORY_DEFAULT,
    l_max: int = C.L_MAX_DEFAULT,
    gap_s: float = GAP_S_DEFAULT,
) -> tuple[LogArrays, dict]:
    """The log at ``path`` as ``LogArrays`` (file rows sorted by user, then time) and a report."""
    log_path, table_dir = resolve(path)
    log = _sorted(T.read_log(log_path))
    videos, users = T.read_videos(table_dir), T.read_users(table_dir)
    n = log.n
    vrow, urow = videos.rows_of(log.video_id), users.rows_of(log.user_id)
    v_ok = vrow >= 0
    vr = np.where(v_ok, vrow, 0)
    has_next, session = sessions_of(log, gap_s)

    # -- target video facts ------------------------------------------------------------------
    dur_log = log.duration_ms / 1000.0
    dur_table = np.where(v_ok, videos.duration_s[vr], np.nan)
    duration = np.where(dur_log > 0, dur_log, np.nan_to_num(dur_table, nan=0.0))
    age = np.where(v_ok, np.maximum((log.time_ms - videos.upload_ms[vr]) / 86_400_000.0, 0.0), 0.0)
    if pxtr_from is None:
        pxtr = np.tile([NEUTRAL_PXTR["effective_view"], NEUTRAL_PXTR["like"], NEUTRAL_PXTR["has_next"]], (n, 1))
        pxtr_report: dict = {"kind": "constant", "values": dict(NEUTRAL_PXTR)}
    else:
        src_log, _ = resolve(pxtr_from)
        source = T.read_log(src_log)
        pxtr = pxtr_table(source, gap_s=gap_s)(log.user_id, log.video_id)
        shared = np.intersect1d(np.unique(source.user_id), np.unique(log.user_id)).size
        pxtr_report = {"kind": "per-video, leave-user-out", "source": str(src_log),
                       "source_rows": source.n, "users_in_both": int(shared)}
    raw = RawVideos(
        video_id=log.video_id, server_p_ev=pxtr[:, 0], server_p_like=pxtr[:, 1],
        server_p_has_next=pxtr[:, 2], duration_s=duration, age_days=age,
        server_rank=np.zeros(n, np.int64),
        topic=np.where(v_ok, videos.topic_raw[vr], -1), author=np.where(v_ok, videos.author_id[vr], -1),
    )
    vdense, vids_ = video_dense(raw), video_ids(raw)
    watch_s = log.play_time_ms / 1000.0
    ratio = np.where(duration > 0, watch_s / np.where(duration > 0, duration, 1.0), 0.0)
    fb = feedback_dense(Feedback(ratio, log.long_view, log.is_like, watch_s, log.is_hate))

    # -- history: the user's earlier rows, newest first ----------------------------------------
    row_dense = np.concatenate([vdense, fb], axis=1)
    first_of_user = np.concatenate([[True], log.user_id[1:] != log.user_id[:-1]])
    user_start = np.maximum.accumulate(np.where(first_of_user, np.arange(n), 0))
    back = np.arange(n)[:, None] - np.arange(1, n_history + 1)[None, :]
    valid = back >= user_start[:, None]
    back = np.where(valid, back, 0)
    hist_dense = np.where(valid[..., None], row_dense[back], 0.0).astype(C.FLOAT)
    hist_ids = np.where(valid[..., None], vids_[back], 0).astype(C.INT)

    # -- context: position / elapsed within the session, time since the previous play ended ------
    first_of_session = np.concatenate([[True], session[1:] != session[:-1]])
    s_start = np.maximum.accumulate(np.where(first_of_session, np.arange(n), 0))
    position = np.arange(n) - s_start
    elapsed = (log.time_ms - log.time_ms[s_start]) / 1000.0
    prev_end = np.concatenate([[0.0], (log.time_ms[:-1] + log.play_time_ms[:-1]) / 1000.0])
    since_last = np.where(first_of_session, 0.0, np.maximum(log.time_ms / 1000.0 - prev_end, 0.0))
    context = context_matrix(position, elapsed, since_last, np.ones(n))
    plen = max(l_max - 1, 1)
    nan = np.full(n, np.nan, C.FLOAT)
    logs = LogArrays(
        user_id=log.user_id.astype(np.int64), session_id=session, position=position.astype(np.int32),
        request=position.astype(np.int32), prefix_len=np.zeros(n, np.int32),
        video_id=log.video_id.astype(np.int64), hist_dense=hist_dense, hist_ids=hist_ids,
        hist_mask=valid.astype(C.FLOAT), prefix_dense=np.zeros((n, plen, C.N_VIDEO_DENSE), C.FLOAT),
        prefix_ids=np.zeros((n, plen, C.N_IDS), C.INT), prefix_mask=np.zeros((n, plen), C.FLOAT),
        cand_dense=vdense, cand_ids=vids_, context=context, has_next=has_next,
        effective_view=log.long_view.astype(np.int8), like=log.is_like.astype(np.int8),
        watch_ratio=ratio.astype(C.FLOAT), propensity=np.full(n, 1.0 / RANDOM_POOL, C.FLOAT),
        true_p_has_next=nan, true_p_effective_view=nan.copy(), true_p_like=nan.copy(),
    )
    report = _report(log, videos, users, vrow, urow, dur_log, dur_table, has_next, session, ratio, gap_s)
    report["pxtr"] = pxtr_report
    report["path"] = str(log_path)
    return logs, report


def _report(log, videos, users, vrow, urow, dur_log, dur_table, has_next, session, ratio, gap_s) -> dict:
    n = max(log.n, 1)
    known = (dur_log > 0) & np.isfinite(dur_table)
    rows = np.column_stack([log.user_id, log.video_id, log.time_ms, log.play_time_ms])
    duplicates = log.n - np.unique(rows, axis=0).shape[0] if log.n else 0
    act = np.where(urow >= 0, users.activity_group[np.maximum(urow, 0)], -1)
    return {
        "rows": log.n, "users": int(np.unique(log.user_id).size), "videos": int(np.unique(log.video_id).size),
        "sessions": int(np.unique(session).size), "duplicate_rows": int(duplicates),
        "join": {
            "video_misses": int((vrow < 0).sum()), "video_join_rate": float((vrow >= 0).sum() / n),
            "user_misses": int((urow < 0).sum()), "user_join_rate": float((urow >= 0).sum() / n),
            "unknown_duration_rows": int((dur_log <= 0).sum()),
            "duration_mismatch_rows": int((known & (np.abs(dur_log - dur_table) > 1e-3)).sum()),
        },
        "labels": {
            "long_view": float(log.long_view.mean()) if log.n else float("nan"),
            "is_like": float(log.is_like.mean()) if log.n else float("nan"),
            "is_click": float(log.is_click.mean()) if log.n else float("nan"),
            "has_next": float(has_next.mean()) if log.n else float("nan"),
            "has_next_gap_s": gap_s,
            "watch_ratio_median": float(np.median(ratio)) if log.n else float("nan"),
        },
        "rows_per_activity": {name: int((act == g).sum()) for g, name in enumerate(T.ACTIVITY_GROUPS)}
        | {"unjoined": int((act < 0).sum())},
    }


# -- subsets of users ---------------------------------------------------------------------------
def write_subset(src: str | Path, out_dir: str | Path, user_ids, trim_tables: bool = False) -> dict:
    """Write a KuaiRand folder holding only the log rows of ``user_ids`` (lines copied verbatim).

    The tables are copied whole, or with ``trim_tables`` cut to the videos and users the rows
    name (for small test slices). The licence and an attribution note go along (CC BY-SA 4.0)."""
    log_path, table_dir = resolve(src)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keep = {int(u) for u in user_ids}
    lines = log_path.read_text().splitlines(keepends=True)
    header, body = lines[0], [ln for ln in lines[1:] if int(ln.split(",", 1)[0]) in keep]
    (out / T.LOG_FILE).write_text(header + "".join(body))
    videos_used = {int(ln.split(",", 2)[1]) for ln in body}
    for name, col, used in ((T.VIDEO_FILE, 0, videos_used), (T.USER_FILE, 0, keep)):
        text = (table_dir / name).read_text().splitlines(keepends=True)
        rows = text[1:] if not trim_tables else [r for r in text[1:] if int(r.split(",", 1)[col]) in used]
        (out / name).write_text(text[0] + "".join(rows))
    if (table_dir / "LICENSE").exists():
        shutil.copyfile(table_dir / "LICENSE", out / "LICENSE")
    (out / "NOTICE.md").write_text(
        "Subset of KuaiRand (Gao et al., \"KuaiRand: An Unbiased Sequential Recommendation Dataset with "
        "Randomly Exposed Videos\", CIKM 2022, doi:10.1145/3511808.3557624), Kuaishou. Licence: CC BY-SA "
        f"4.0 (LICENSE). Written by training.data.kuairand.write_subset from {log_path.name}: "
        f"{len(body)} log rows of {len(keep)} users" + (", tables cut to the rows' ids.\n" if trim_tables else ".\n")
    )
    return {"out": str(out), "rows": len(body), "users": len({int(ln.split(",", 1)[0]) for ln in body}),
            "videos": len(videos_used)}


def split_users(src: str | Path, eval_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """User-disjoint (train, eval) user ids of the log at ``src``, drawn with ``seed``."""
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"`eval_fraction` must be in (0, 1), got {eval_fraction}")
    log_path, _ = resolve(src)
    users = np.unique(T.read_log(log_path).user_id)
    rng = np.random.default_rng([seed, 0x5917])
    is_eval = np.zeros(users.size, bool)
    is_eval[rng.permutation(users.size)[: max(1, round(eval_fraction * users.size))]] = True
    return users[~is_eval], users[is_eval]
