"""Where ranker training data comes from: a ReelRank Parquet log, or a named data set."""

from __future__ import annotations

from pathlib import Path

from training.data.synthetic_logs import LogArrays, read_parquet

#: Data-set prefixes accepted by ``load_source(data=...)``.
DATASETS = ("kuairand",)


def load_source(logs: str | Path | None = None, data: str | None = None) -> tuple[LogArrays, dict]:
    """Exactly one of ``logs`` (a Parquet log) or ``data`` ("kuairand:PATH"); returns the arrays
    and a JSON-able description of the source."""
    if (logs is None) == (data is None):
        raise ValueError(f"give exactly one of `logs` (a Parquet log) or `data` ('kuairand:PATH'), "
                         f"got logs={logs!r}, data={data!r}")
    if logs is not None:
        arrays, meta = read_parquet(logs)
        return arrays, {"source": "logs", "path": str(logs), "meta": meta}
    kind, sep, path = str(data).partition(":")
    if not sep or kind not in DATASETS or not path:
        raise ValueError(f"`data` must be one of {[d + ':PATH' for d in DATASETS]}, got {data!r}")
    from training.data.kuairand import load_kuairand  # lazy: written separately, heavy

    arrays, report = load_kuairand(path)
    return arrays, {"source": kind, "path": path, "report": report}
