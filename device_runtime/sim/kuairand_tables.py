"""KuaiRand's video and user tables and the random-exposure log, read with ``csv`` + numpy only.

Shared by the real-catalog world (device side, no pandas/pyarrow) and the training loader, so the
two agree on how a video's topic, author, duration, type, music type and age, and a user's activity
group, are read. KuaiRand (Gao et al., CIKM 2022) is CC BY-SA 4.0; see the data folder's README.

Derived columns:

* ``topic_raw`` = the first id of the video's ``tag`` list (-1 when the list is empty);
* ``duration_s`` = ``video_duration`` / 1000 (NaN when blank: 239 videos);
* ``duration_bucket`` = index into ``DURATION_BUCKETS`` (the last bucket = duration unknown);
* ``type_group`` / ``music_group`` / ``activity_group`` = index into the ``*_GROUPS`` names below;
  levels with too few random-exposure rows to calibrate are pooled into the last group.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Final, NamedTuple

import numpy as np

VIDEO_FILE: Final = "video_features_basic_pure.csv"
USER_FILE: Final = "user_features_pure.csv"
LOG_FILE: Final = "log_random_1k_part.csv"

#: Upper edges (seconds, inclusive) of the duration buckets; a final bucket holds unknown durations.
DURATION_EDGES_S: Final = (7.0, 18.0, 30.0, 60.0, 120.0, 300.0)
DURATION_BUCKETS: Final = ("0-7s", "7-18s", "18-30s", "30-60s", "60-120s", "120-300s", ">300s", "unknown")
TYPE_GROUPS: Final = ("NORMAL", "AD", "other")
MUSIC_GROUPS: Final = ("9", "4", "other")
ACTIVITY_GROUPS: Final = ("full_active", "high_active", "middle_active", "other")

_UTC8 = dt.timezone(dt.timedelta(hours=8))


def duration_bucket(duration_s: np.ndarray) -> np.ndarray:
    """Bucket index of each duration; NaN or <= 0 (unknown) → the last bucket."""
    d = np.asarray(duration_s, dtype=np.float64)
    known = np.isfinite(d) & (d > 0)
    out = np.searchsorted(np.asarray(DURATION_EDGES_S), np.where(known, d, 0.0), side="left")
    return np.where(known, out, len(DURATION_BUCKETS) - 1).astype(np.int64)


def _group(value: str, names: tuple[str, ...]) -> int:
    return names.index(value) if value in names[:-1] else len(names) - 1


def _rows_of(table_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.int64)
    order = np.argsort(table_ids, kind="stable")
    pos = np.clip(np.searchsorted(table_ids[order], ids), 0, max(table_ids.size - 1, 0))
    found = table_ids.size > 0 and table_ids[order][pos] == ids
    return np.where(found, order[pos], -1).astype(np.int64)


class VideoTable(NamedTuple):
    """The KuaiRand-Pure video table (or a slice of it), one row per video, in file order."""

    video_id: np.ndarray  # int64 [V]
    author_id: np.ndarray  # int64 [V]
    topic_raw: np.ndarray  # int64 [V], first tag id, -1 if no tag
    duration_s: np.ndarray  # float64 [V], NaN if blank
    upload_ms: np.ndarray  # int64 [V], upload date 00:00 UTC+8 in ms since the epoch
    type_group: np.ndarray  # int64 [V] into TYPE_GROUPS
    music_group: np.ndarray  # int64 [V] into MUSIC_GROUPS

    @property
    def duration_bucket(self) -> np.ndarray:
        return duration_bucket(self.duration_s)

    def rows_of(self, video_ids: np.ndarray) -> np.ndarray:
        """Row of each video id in this table, -1 where the table lacks it (a join miss)."""
        return _rows_of(self.video_id, video_ids)


class UserTable(NamedTuple):
    """The KuaiRand-Pure user table (or a slice of it), one row per user, in file order."""

    user_id: np.ndarray  # int64 [U]
    activity_group: np.ndarray  # int64 [U] into ACTIVITY_GROUPS

    def rows_of(self, user_ids: np.ndarray) -> np.ndarray:
        """Row of each user id in this table, -1 where the table lacks it (a join miss)."""
        return _rows_of(self.user_id, user_ids)


class RandomLog(NamedTuple):
    """The columns of the random-exposure log that this toolkit uses (file order: user, then time)."""

    user_id: np.ndarray  # int64 [n]
    video_id: np.ndarray  # int64 [n]
    time_ms: np.ndarray  # int64 [n]
    is_click: np.ndarray  # int8 [n]
    is_like: np.ndarray  # int8 [n]
    long_view: np.ndarray  # int8 [n]
    play_time_ms: np.ndarray  # int64 [n]
    duration_ms: np.ndarray  # int64 [n]
    is_hate: np.ndarray  # int8 [n]

    @property
    def n(self) -> int:
        return int(self.user_id.shape[0])

    def take(self, idx: np.ndarray) -> RandomLog:
        return RandomLog(*(a[idx] for a in self))


def date_ms(day: str) -> int:
    """``YYYY-MM-DD`` at 00:00 UTC+8 (Beijing time, the app's) in ms since the epoch."""
    return int(dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=_UTC8).timestamp() * 1000)


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"KuaiRand {what} not found: expected {path}")
    return path


def _float(s: str) -> float:
    return float(s) if s.strip() else float("nan")


def read_videos(data_dir: str | Path) -> VideoTable:
    path = _require(Path(data_dir) / VIDEO_FILE, "video table")
    cols: dict[str, list] = {f: [] for f in VideoTable._fields}
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            vid = int(r["video_id"])
            tag = r["tag"].split(",")[0].strip()
            music = r["music_type"].strip()
            cols["video_id"].append(vid)
            cols["author_id"].append(int(r["author_id"]))
            cols["topic_raw"].append(int(tag) if tag else -1)
            cols["duration_s"].append(_float(r["video_duration"]) / 1000.0)
            cols["upload_ms"].append(date_ms(r["upload_dt"]))
            cols["type_group"].append(_group(r["video_type"], TYPE_GROUPS))
            cols["music_group"].append(_group(str(int(float(music))) if music else "", MUSIC_GROUPS))
    table = VideoTable(*(np.asarray(cols[f], dtype=np.float64 if f == "duration_s" else np.int64)
                         for f in VideoTable._fields))
    _unique(table.video_id, path, "video_id")
    return table


def read_users(data_dir: str | Path) -> UserTable:
    path = _require(Path(data_dir) / USER_FILE, "user table")
    ids, act = [], []
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            ids.append(int(r["user_id"]))
            act.append(_group(r["user_active_degree"], ACTIVITY_GROUPS))
    table = UserTable(np.asarray(ids, np.int64), np.asarray(act, np.int64))
    _unique(table.user_id, path, "user_id")
    return table


def _unique(ids: np.ndarray, path: Path, name: str) -> None:
    if np.unique(ids).size != ids.size:
        raise ValueError(f"{path}: `{name}` must be unique, got {ids.size - np.unique(ids).size} repeats")


def read_log(path: str | Path) -> RandomLog:
    """Read a random-exposure log (the full part file or a slice with the same header)."""
    path = _require(Path(path), "log")
    cols: dict[str, list] = {f: [] for f in RandomLog._fields}
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in RandomLog._fields if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} lacks columns {missing}")
        for r in reader:
            for c in RandomLog._fields:
                cols[c].append(int(float(r[c])))
    small = {"is_click", "is_like", "long_view", "is_hate"}
    return RandomLog(*(np.asarray(cols[c], dtype=np.int8 if c in small else np.int64)
                       for c in RandomLog._fields))


def default_data_dir() -> Path:
    """``../shared/data/kuairand`` relative to the repository root."""
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "kuairand"
