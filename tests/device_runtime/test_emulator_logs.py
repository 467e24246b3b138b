"""`reelrank logs-from-events`: an emulated event log replays into the same training log that
`simulate-logs` writes for the same sessions (needs pyarrow: skipped in a base install)."""

import numpy as np
import pytest

from tests.device_runtime.golden_artifact import GOLDEN_ARTIFACT

pytest.importorskip("pyarrow")


def test_logs_from_events_equals_simulate_logs(tmp_path):
    from reelrank.cli import main
    from training.data.synthetic_logs import LogConfig, read_parquet, simulate_logs

    events, out = tmp_path / "ev.jsonl", tmp_path / "l.parquet"
    assert main(["emulate", "--artifact", str(GOLDEN_ARTIFACT), "--sessions", "4", "--seed", "3",
                 "--world-seed", "5", "--strategies", "server,greedy", "--events", str(events), "--quiet"]) == 0
    assert main(["logs-from-events", "--events", str(events), "--out", str(out), "--strategy", "server"]) == 0
    got, meta = read_parquet(out)
    want = simulate_logs(LogConfig(sessions=4, seed=3, world_seed=5), progress=False)
    assert meta["sessions"] == 4 and got.n == want.n > 0
    for name, a, b in zip(want._fields, got, want, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    # the greedy sessions replay too (other videos, same format)
    assert main(["logs-from-events", "--events", str(events), "--out", str(out), "--strategy", "greedy"]) == 0
    assert read_parquet(out)[0].n > 0
