"""The device's event log: append-only JSON lines, each with its own CRC-32, crash-safe.

Line format: ``<compact JSON object>\\t<crc32 of the JSON bytes, 8 hex digits>\\n``. Every event is
written with one ``write`` of the whole line and flushed to the operating system at once, so a
process killed mid-session loses at most the event being written; ``read_events`` detects the
torn (or otherwise corrupt) line by its missing newline or failing checksum and skips it, counting
it. ``fsync`` policy (``FsyncPolicy``): flushing survives a crash of the process, not of the
machine; ``session`` (the default) also fsyncs at every session end and on close, so a power
loss loses at most the current session; ``event`` fsyncs every line (power-loss safe per event,
about a disk sync per video); ``never`` leaves it to the OS.

Events (``type`` field) and what replay needs from them:

| type | fields |
|---|---|
| ``session_start`` | session (a key unique in the log), index, seed, world_seed, user_id, network, n_history, strategy |
| ``page_arrived`` | request, cache_limit, kept, page (RawVideos columns), propensity |
| ``rerank`` | triggers, strategy, served, fallback, steps, latency_us, top (video id) |
| ``shown`` | cache_index, video_id |
| ``liked`` | video_id |
| ``video_finished`` / ``skipped`` | video_id, watch_ratio, effective_view, like, watch_s, gap_s, has_next, oracle (emulator only: the world's true p_ev, p_like, p_has_next) |
| ``session_end`` | depth |
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from device_runtime.features import RawVideos


class FsyncPolicy(StrEnum):
    """When the log is fsynced (it is always flushed after every event)."""

    EVENT = "event"
    SESSION = "session"
    NEVER = "never"


def encode_line(event: dict[str, Any]) -> bytes:
    body = json.dumps(event, separators=(",", ":"), sort_keys=True, allow_nan=True).encode()
    return body + b"\t" + f"{zlib.crc32(body):08x}".encode() + b"\n"


def decode_line(line: bytes) -> dict[str, Any] | None:
    """The event of one complete line, or None if it is torn or corrupt."""
    if not line.endswith(b"\n"):
        return None
    body, sep, crc = line[:-1].rpartition(b"\t")
    if not sep or len(crc) != 8:
        return None
    try:
        if int(crc, 16) != zlib.crc32(body):
            return None
        event = json.loads(body)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


class EventLog:
    """Append-only writer. ``append`` never raises into the app loop: I/O errors are counted in
    ``write_errors`` (the feed goes on without a log)."""

    def __init__(self, path: str | Path, fsync: FsyncPolicy | str = FsyncPolicy.SESSION) -> None:
        self.path = Path(path)
        self.fsync = FsyncPolicy(fsync)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f: IO[bytes] | None = open(self.path, "ab")  # noqa: SIM115 - kept open for appends
        if self._f.tell() > 0:  # a crash left a torn last line: end it, so the next event stands alone
            with open(self.path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    self._f.write(b"\n")
                    self._f.flush()
        self.written = 0
        self.write_errors = 0

    def append(self, event: dict[str, Any]) -> None:
        if self._f is None:
            self.write_errors += 1
            return
        try:
            self._f.write(encode_line(event))
            self._f.flush()
            if self.fsync is FsyncPolicy.EVENT or (
                self.fsync is FsyncPolicy.SESSION and event.get("type") == "session_end"
            ):
                os.fsync(self._f.fileno())
            self.written += 1
        except (OSError, ValueError, TypeError):
            self.write_errors += 1

    def close(self) -> None:
        if self._f is not None:
            try:
                self._f.flush()
                if self.fsync is not FsyncPolicy.NEVER:
                    os.fsync(self._f.fileno())
            finally:
                self._f.close()
                self._f = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ReadReport:
    """What ``read_events`` skipped."""

    events: int = 0
    torn_tail: bool = False
    """The last line had no newline (a write cut short by a crash)."""
    corrupt_lines: list[int] = field(default_factory=list)
    """1-based numbers of complete lines whose checksum or JSON failed."""


def read_events(path: str | Path, report: ReadReport | None = None) -> Iterator[dict[str, Any]]:
    """Yield the intact events of a log in order, skipping a torn last line and corrupt lines."""
    rep = report if report is not None else ReadReport()
    with open(path, "rb") as f:
        for no, line in enumerate(f, start=1):
            event = decode_line(line)
            if event is None:
                if line.endswith(b"\n"):
                    rep.corrupt_lines.append(no)
                else:
                    rep.torn_tail = True
                continue
            rep.events += 1
            yield event


# -- raw pages as JSON -----------------------------------------------------------------------------
def page_to_json(page: RawVideos) -> dict[str, list]:
    """RawVideos columns as JSON lists (floats round-trip exactly through ``repr``)."""
    return {name: np.asarray(col).tolist() for name, col in zip(RawVideos._fields, page, strict=True)}


_INT_FIELDS = ("video_id", "server_rank", "topic", "author")


def page_from_json(data: dict[str, list]) -> RawVideos:
    return RawVideos(*(np.asarray(data[name], dtype=np.int64 if name in _INT_FIELDS else np.float64)
                       for name in RawVideos._fields))


class SessionEvents(NamedTuple):
    """The events of one session, in order (as grouped by ``group_sessions``)."""

    session: Any  # the ``session`` key the events carry
    start: dict[str, Any]
    events: list[dict[str, Any]]
    complete: bool  # a session_end was logged


def group_sessions(events: Iterator[dict[str, Any]]) -> list[SessionEvents]:
    """Split an event stream into sessions (events carry their ``session``)."""
    order: list[Any] = []
    starts: dict[Any, dict] = {}
    body: dict[Any, list[dict]] = {}
    ended: set[Any] = set()
    for e in events:
        s = e.get("session")
        if e.get("type") == "session_start":
            if s not in starts:
                order.append(s)
            starts[s], body[s] = e, []
            ended.discard(s)
        elif s in starts:
            body[s].append(e)
            if e.get("type") == "session_end":
                ended.add(s)
    return [SessionEvents(s, starts[s], body[s], s in ended) for s in order]
